// Module: the base of every layer and model. It owns an ordered registry of named parameters and points to
// its child modules, so one walk lists every trainable tensor under a dotted name
// ("blocks.0.attn.qkv.weight"). Optimizers, checkpoints, gradient clipping and the data-parallel all-reduce
// all iterate that one flat list (flashlight's ordered parameter list; gemma.cpp's single weight visitor).
//
//   struct Linear : Module {
//     Tensor weight, bias;
//     Linear(int64_t in, int64_t out) {
//       weight = register_parameter("weight", Tensor::empty({out, in}));
//       bias = register_parameter("bias", Tensor::zeros({out}), /*decay=*/false);
//     }
//   };
//   struct Mlp : Module {
//     Linear fc1{4, 8}, fc2{8, 4};
//     Mlp() { register_module("fc1", fc1); register_module("fc2", fc2); }
//   };
//   // named_parameters(): fc1.weight, fc1.bias, fc2.weight, fc2.bias
//
// Order: a module's own parameters in registration order, then each child's subtree in registration order
// (depth first) — the order of torch.nn.Module.named_parameters(), so checkpoints line up name for name.
// Children are held by pointer (they are usually members of the parent), hence modules are neither copyable
// nor movable: a move would leave the parent pointing at the old object.
#pragma once
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "xfmr/core/tensor.h"

namespace xfmr {

struct NamedParameter {
  std::string name;   // dotted path from the root module, or a state name such as "exp_avg.fc1.weight"
  Tensor tensor;      // shares storage with the module's tensor: updating it updates the model
  bool decay = true;  // false for norms, biases, ... (weight decay skips them)
};

class Module {
 public:
  Module() = default;
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;
  Module(Module&&) = delete;
  Module& operator=(Module&&) = delete;

  // Registers `t` (a defined floating-point leaf) under `name` and marks it requires_grad. `decay = false`
  // keeps weight decay off it. Returns a reference to the stored handle (stable for the module's lifetime).
  // Errors: an empty name, a name containing '.', or a name already used by a parameter or child here.
  Tensor& register_parameter(const std::string& name, Tensor t, bool decay = true);
  // Registers a child (not owned; it must outlive this module). Same naming rules; a module cannot be its own
  // child.
  void register_module(const std::string& name, Module& child);

  // Every parameter of this module and its descendants, in the order described above. A tensor reachable
  // under several names (tied weights, a shared child) is listed once, under the first name, as torch does,
  // so an optimizer never updates it twice.
  std::vector<NamedParameter> named_parameters() const;
  std::vector<Tensor> parameters() const;
  // Calls fn(name, tensor, decay) for each parameter, in the same order and with the same de-duplication.
  void visit_parameters(const std::function<void(const std::string&, const Tensor&, bool)>& fn) const;
  int64_t num_parameters() const;  // total elements, tied tensors counted once

  // Zeroes every accumulated gradient in place (buffers are kept, so the next backward allocates nothing).
  void zero_grad();

  // Training mode (dropout on, ...) vs evaluation mode; train() and eval() set it on the whole subtree.
  bool training() const { return training_; }
  void train(bool on = true);
  void eval() { train(false); }

  // Direct access for loaders and tests.
  const std::vector<std::pair<std::string, Module*>>& children() const { return children_; }

 private:
  struct Param {
    std::string name;
    Tensor tensor;
    bool decay;
  };
  bool name_taken(const std::string& name) const;
  void check_name(const std::string& name, const char* what) const;
  void visit_impl(const std::string& prefix, std::vector<const TensorImpl*>& seen,
                  const std::function<void(const std::string&, const Tensor&, bool)>& fn) const;

  std::deque<Param> params_;  // deque: references returned by register_parameter stay valid as it grows
  std::vector<std::pair<std::string, Module*>> children_;
  bool training_ = true;
};

}  // namespace xfmr
