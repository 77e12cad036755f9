// Reverse-mode automatic differentiation, define-by-run.
//
// Each differentiable op computes its output, then (when grad mode is on and an input requires grad) calls
// record() with a backward closure. The closure receives the gradient of the output and fills the gradients of
// the inputs that need one. Tensor::backward() walks the nodes in reverse topological order, accumulates
// gradients into leaves, and frees each node's saved tensors as it goes (the graph is single-use).
//
// Closure rules (the engine checks the first two):
//   - gs.g[i] must have exactly the shape and dtype of input i (reduce broadcast dimensions with sum_to);
//   - leave gs.g[i] undefined when !gs.needed[i] or when the gradient is zero;
//   - never capture the op's own output as is (output -> node -> closure -> output is a reference cycle):
//     capture out.detach() instead.
// Backward closures run with grad mode off, so they may use any op freely.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <utility>

#include "xfmr/core/tensor.h"

namespace xfmr {

constexpr int kMaxNodeInputs = 8;

struct GradSlots {
  Tensor g[kMaxNodeInputs];
  bool needed[kMaxNodeInputs] = {};
  // The gradient that input i has already received from its other consumers, when it has one (input i the
  // output of another node). A backward may fold it into its own result in the same pass, g[i] = pending[i] +
  // (its own contribution), and set summed[i]: the engine then takes g[i] as input i's total instead of adding
  // the two in a pass of its own (a pre-LN block's residual stream: the LayerNorm's dx joins the gradient the
  // residual branch passed, ops/norm.cc). pending + own is the engine's own order, so the sum has the same bits.
  Tensor pending[kMaxNodeInputs];
  bool summed[kMaxNodeInputs] = {};
};

// Where an input's gradient goes: into another node, or into a leaf's .grad.
struct Edge {
  Ref<Node> fn;
  Ref<TensorImpl> leaf;
  Shape shape;
  DType dtype = DType::f32;
};

struct Node : PooledObject {
  std::atomic<int> refcount{0};
  const char* op = "";
  int num_inputs = 0;
  Edge edges[kMaxNodeInputs];
  Tensor grad_accum;        // sum of the gradients flowing into this node's output
  bool grad_owned = false;  // grad_accum is a private buffer that may be updated in place
  bool released = false;
  uint64_t epoch = 0;       // visit mark for the topological sort
  virtual ~Node() = default;
  virtual void apply(const Tensor& grad_out, GradSlots& gs) = 0;
  virtual void release() = 0;  // drops saved tensors
};

template <class F>
struct LambdaNode final : Node {
  explicit LambdaNode(F&& f) : fn(std::move(f)) {}
  std::optional<F> fn;
  void apply(const Tensor& g, GradSlots& gs) override { (*fn)(g, gs); }
  void release() override { fn.reset(); }
};

// ---- grad mode ----
bool grad_enabled();
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool prev_;
};

// True when an op over these inputs must record a node.
inline bool needs_grad(std::initializer_list<const Tensor*> inputs) {
  if (!grad_enabled()) return false;
  for (const Tensor* t : inputs)
    if (t->defined() && t->requires_grad()) return true;
  return false;
}
template <class... Ts>
bool needs_grad(const Ts&... ts) {
  return needs_grad({&ts...});
}

void attach_node(Node* node, Tensor& out, std::initializer_list<const Tensor*> inputs);

// Makes `out` the output of a node named `op` with these inputs and backward closure.
// Call only when needs_grad(inputs...) is true.
template <class F>
void record(const char* op, Tensor& out, std::initializer_list<const Tensor*> inputs, F&& backward) {
  auto* node = new LambdaNode<std::decay_t<F>>(std::forward<F>(backward));
  node->op = op;
  attach_node(node, out, inputs);
}

// Runs reverse-mode differentiation from `root` (Tensor::backward calls this).
void run_backward(const Tensor& root, const Tensor& grad);

const char* grad_fn_name(const Node* n);

}  // namespace xfmr
