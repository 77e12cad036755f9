// First-order optimizers over a module's flat parameter list: SGD (with momentum / Nesterov), Adam (L2
// penalty added to the gradient) and AdamW (decoupled weight decay). Each matches torch.optim's update rule
// (1.13, single-tensor path) and is checked against it in tests/train/optimizer_test.cc.
//
//   auto params = model.named_parameters();          // decay flags come from the module
//   AdamW opt(params, 3e-4, 0.9, 0.95, 1e-8, 0.1);
//   for (...) { opt.zero_grad(); loss.backward(); opt.lr = sched.lr_at(step); opt.step(); }
//
// Every piece of state (per-parameter step counts and moment buffers) is allocated at construction, so step()
// performs no heap allocation. step() updates parameters in place without recording autograd history; a
// parameter whose grad is undefined is skipped (its state and step count stay untouched, as in torch).
//
// Weight decay is applied only to parameters registered with decay = true, in all three optimizers (torch
// expresses the same thing with a second param group whose weight_decay is 0).
//
// State for checkpoints: state() lists named tensors that share storage with the optimizer's buffers, so a
// loader can copy_() saved values into them:
//   "step.<param>"            i64 scalar: how many updates that parameter has received
//   "momentum_buffer.<param>" SGD with momentum != 0 (same shape/dtype as the parameter)
//   "exp_avg.<param>", "exp_avg_sq.<param>"   Adam, AdamW
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "xfmr/core/tensor.h"
#include "xfmr/nn/module.h"

namespace xfmr {

class Optimizer {
 public:
  // Errors: a parameter that is undefined, not f32/f64, non-contiguous, or listed twice; lr < 0.
  Optimizer(std::vector<NamedParameter> params, double lr, const char* name);
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // One update of every parameter that has a gradient, using the current `lr`.
  virtual void step() = 0;
  // Zeroes every parameter's gradient in place (keeps the buffers).
  void zero_grad();

  double lr;  // read at each step(): a schedule sets it before the step

  const char* name() const { return name_; }
  const std::vector<NamedParameter>& params() const { return params_; }
  // The named state tensors listed in the header comment (shared storage, in parameter order).
  const std::vector<NamedParameter>& state() const { return state_; }
  // How many times step() has run (restored by a checkpoint loader with set_step_count).
  int64_t step_count() const { return step_count_; }
  void set_step_count(int64_t n) { step_count_ = n; }

 protected:
  // Adds a zero-filled state tensor "<kind>.<param name>" shaped like parameter i and returns it.
  Tensor add_param_state(const char* kind, size_t i);
  // The gradient of parameter i after checking it matches the parameter (shape, dtype, contiguity), or an
  // undefined tensor when it has none.
  Tensor checked_grad(size_t i) const;
  // Increments parameter i's step counter and returns the new value.
  int64_t bump_param_step(size_t i);
  int64_t param_step(size_t i) const;

  std::vector<NamedParameter> params_;
  std::vector<NamedParameter> state_;
  int64_t step_count_ = 0;

 private:
  std::vector<Tensor> steps_;  // i64 scalars, one per parameter (also listed in state_)
  const char* name_;
};

// torch.optim.SGD: g += wd*p; buf = g on the first step, else momentum*buf + (1-dampening)*g;
// update = nesterov ? g + momentum*buf : buf (or g when momentum = 0); p -= lr*update.
// Nesterov momentum (Sutskever et al. 2013, in the reformulation PyTorch uses) needs momentum > 0 and
// dampening = 0.
class SGD final : public Optimizer {
 public:
  SGD(std::vector<NamedParameter> params, double lr, double momentum = 0, double dampening = 0,
      bool nesterov = false, double weight_decay = 0);
  void step() override;

  double momentum, dampening, weight_decay;
  bool nesterov;

 private:
  std::vector<Tensor> buf_;  // momentum buffers (empty when momentum == 0)
};

// Adam (Kingma & Ba 2015, Algorithm 1) in torch's form: g += wd*p (L2, coupled); m = b1*m + (1-b1)*g;
// v = b2*v + (1-b2)*g^2; p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps).
class Adam : public Optimizer {
 public:
  Adam(std::vector<NamedParameter> params, double lr, double beta1 = 0.9, double beta2 = 0.999,
       double eps = 1e-8, double weight_decay = 0);
  void step() override;

  double beta1, beta2, eps, weight_decay;

 protected:
  Adam(std::vector<NamedParameter> params, double lr, double beta1, double beta2, double eps,
       double weight_decay, const char* name);
  // decoupled = true: AdamW's p *= 1 - lr*wd before the moment update instead of the L2 term in the gradient.
  void adam_step(bool decoupled);

 private:
  std::vector<Tensor> exp_avg_, exp_avg_sq_;
};

// AdamW (Loshchilov & Hutter 2019, "Decoupled Weight Decay Regularization", Algorithm 2, with torch's
// convention that the decay is scaled by lr): p *= 1 - lr*wd (decay = true params only), then the Adam update
// with the raw gradient.
class AdamW final : public Adam {
 public:
  AdamW(std::vector<NamedParameter> params, double lr, double beta1 = 0.9, double beta2 = 0.999,
        double eps = 1e-8, double weight_decay = 0.01);
  void step() override;
};

}  // namespace xfmr
