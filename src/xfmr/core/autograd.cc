#include "xfmr/core/autograd.h"

#include <vector>

#include "xfmr/core/parallel.h"
#include "xfmr/core/strided.h"

namespace xfmr {

namespace {
thread_local bool g_grad_enabled = true;
uint64_t g_epoch = 0;

// dst += src elementwise (same shape; dst contiguous and private).
void add_into(Tensor& dst, const Tensor& src) {
  const int64_t n = dst.numel();
  if (src.is_contiguous() && dst.dtype() == DType::f32) {
    float* d = dst.data<float>();
    const float* s = src.data<float>();
    for (int64_t i = 0; i < n; ++i) d[i] += s[i];
    return;
  }
  if (src.is_contiguous() && dst.dtype() == DType::f64) {
    double* d = dst.data<double>();
    const double* s = src.data<double>();
    for (int64_t i = 0; i < n; ++i) d[i] += s[i];
    return;
  }
  void* d = dst.raw_data();
  const void* s = src.raw_data();
  const DType dt = dst.dtype();
  for_each_offset<2>(dst.shape(), {dst.strides(), src.strides()}, {0, 0}, [&](int64_t od, int64_t os) {
    store_from_double(d, dt, od, load_as_double(d, dt, od) + load_as_double(s, src.dtype(), os));
  });
}

void accumulate_leaf(TensorImpl* leaf, const Tensor& g) {
  if (!leaf->grad) {
    leaf->grad = g.contiguous_copy().impl_ref();
  } else {
    Tensor acc(leaf->grad);
    add_into(acc, g);
  }
}

// a + b into a fresh contiguous tensor in one pass (a and b: the same shape, contiguous, of dtype T).
template <class T>
Tensor sum_fresh(const Tensor& a, const Tensor& b) {
  Tensor out = Tensor::empty(a.shape(), a.dtype());
  const T* pa = a.data<T>();
  const T* pb = b.data<T>();
  T* po = out.data<T>();
  parallel_for(a.numel(), 1 << 16, [=](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) po[i] = pa[i] + pb[i];
  });
  return out;
}

void accumulate_node(Node* n, const Tensor& g) {
  if (!n->grad_accum.defined()) {
    n->grad_accum = g;  // shared with whoever produced it: copy before writing
    n->grad_owned = false;
    return;
  }
  const Tensor& a = n->grad_accum;
  if (!n->grad_owned && a.is_contiguous() && g.is_contiguous() && a.dtype() == g.dtype() &&
      (a.dtype() == DType::f32 || a.dtype() == DType::f64)) {
    // The second gradient: one pass writing a + g, rather than copying a and then adding g to the copy.
    n->grad_accum = a.dtype() == DType::f32 ? sum_fresh<float>(a, g) : sum_fresh<double>(a, g);
    n->grad_owned = true;
    return;
  }
  if (!n->grad_owned) {
    n->grad_accum = n->grad_accum.contiguous_copy();
    n->grad_owned = true;
  }
  add_into(n->grad_accum, g);
}
}  // namespace

bool grad_enabled() { return g_grad_enabled; }
NoGradGuard::NoGradGuard() : prev_(g_grad_enabled) { g_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { g_grad_enabled = prev_; }

const char* grad_fn_name(const Node* n) { return n ? n->op : "a leaf"; }

void attach_node(Node* node, Tensor& out, std::initializer_list<const Tensor*> inputs) {
  Ref<Node> holder(node);
  XF_CHECK(static_cast<int>(inputs.size()) <= kMaxNodeInputs, node->op, ": more than ", kMaxNodeInputs,
           " differentiable inputs");
  int i = 0;
  for (const Tensor* t : inputs) {
    Edge& e = node->edges[i++];
    if (t->defined() && t->requires_grad()) {
      if (t->impl()->grad_fn)
        e.fn = t->impl()->grad_fn;
      else
        e.leaf = t->impl_ref();
      e.shape = t->shape();
      e.dtype = t->dtype();
    }
  }
  node->num_inputs = i;
  out.impl()->grad_fn = std::move(holder);
  out.impl()->requires_grad = true;
}

void run_backward(const Tensor& root, const Tensor& grad_in) {
  check_defined(root, "backward");
  XF_CHECK(root.requires_grad(), "backward: tensor of shape ", root.shape().str(),
           " does not require grad and has no graph (no input was marked set_requires_grad, or it was computed "
           "under no_grad)");
  Tensor grad = grad_in;
  if (!grad.defined()) {
    XF_CHECK(root.numel() == 1, "backward: an implicit gradient needs a one-element tensor, got shape ",
             root.shape().str(), "; pass the upstream gradient explicitly");
    grad = Tensor::ones(root.shape(), root.dtype());
  } else {
    XF_CHECK(grad.shape() == root.shape() && grad.dtype() == root.dtype(), "backward: gradient of shape ",
             grad.shape().str(), " ", dtype_name(grad.dtype()), " does not match the tensor's ", root.shape().str(),
             " ", dtype_name(root.dtype()));
  }
  NoGradGuard no_grad;
  if (root.is_leaf()) {
    accumulate_leaf(root.impl(), grad);
    return;
  }
  Node* start = root.grad_fn();
  XF_CHECK(!start->released, "backward: the graph through '", start->op,
           "' was already freed by an earlier backward(); run the forward pass again");

  // Topological order by iterative depth-first search (post-order), buffers reused across calls.
  thread_local std::vector<std::pair<Node*, int>> stack;
  thread_local std::vector<Ref<Node>> order;  // Refs keep nodes alive while edges are dropped
  stack.clear();
  order.clear();
  const uint64_t epoch = ++g_epoch;
  start->epoch = epoch;
  stack.emplace_back(start, 0);
  while (!stack.empty()) {
    Node* n = stack.back().first;
    const int i = stack.back().second;
    if (i < n->num_inputs) {
      stack.back().second++;
      Node* next = n->edges[i].fn.get();
      if (next && next->epoch != epoch) {
        XF_CHECK(!next->released, "backward: the graph through '", next->op,
                 "' was already freed by an earlier backward(); run the forward pass again");
        next->epoch = epoch;
        stack.emplace_back(next, 0);
      }
    } else {
      order.emplace_back(n);
      stack.pop_back();
    }
  }

  start->grad_accum = grad;
  start->grad_owned = false;
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    Node* n = it->get();
    if (n->grad_accum.defined()) {
      GradSlots gs;
      for (int i = 0; i < n->num_inputs; ++i) {
        gs.needed[i] = n->edges[i].fn || n->edges[i].leaf;
        if (n->edges[i].fn) gs.pending[i] = n->edges[i].fn->grad_accum;
      }
      n->apply(n->grad_accum, gs);
      for (int i = 0; i < n->num_inputs; ++i) {
        Edge& e = n->edges[i];
        const Tensor& g = gs.g[i];
        if (!g.defined() || !gs.needed[i]) continue;
        XF_CHECK(g.shape() == e.shape && g.dtype() == e.dtype, "internal error: backward of '", n->op,
                 "' produced a gradient of shape ", g.shape().str(), " ", dtype_name(g.dtype()), " for input ", i,
                 " of shape ", e.shape.str(), " ", dtype_name(e.dtype));
        if (gs.summed[i]) {
          XF_CHECK(e.fn && gs.pending[i].defined() && e.fn->grad_accum.impl() == gs.pending[i].impl(),
                   "internal error: backward of '", n->op, "' summed a pending gradient it was not given");
          e.fn->grad_accum = g;  // already pending + own: the new total (shared with the node: copy before writing)
          e.fn->grad_owned = false;
        } else if (e.fn) {
          accumulate_node(e.fn.get(), g);
        } else {
          accumulate_leaf(e.leaf.get(), g);
        }
      }
    }
    // Free the node: saved tensors, pending gradient and edges.
    n->release();
    n->grad_accum = Tensor();
    for (int i = 0; i < n->num_inputs; ++i) {
      n->edges[i].fn.reset();
      n->edges[i].leaf.reset();
    }
    n->released = true;
  }
  order.clear();
}

}  // namespace xfmr
