#include "xfmr/train/optimizer.h"

#include <cmath>

#include "xfmr/core/autograd.h"
#include "xfmr/core/check.h"
#include "xfmr/core/dtype.h"
#include "xfmr/core/parallel.h"
#include "xfmr/kernels/cpu/adam.h"

namespace xfmr {

namespace {

// Elements per parallel chunk: below this an update stays on one thread (the loops are memory-bound, so small
// tensors lose more to the fork/join than they gain).
constexpr int64_t kGrain = 1 << 15;

// ---- fused element loops (one pass over parameter, gradient and state) ----

// The branches are template parameters so that each loop body is straight-line code the compiler vectorises.
template <class T, bool kMomentum, bool kFirst, bool kNesterov>
void sgd_loop(T* p, const T* g, T* buf, int64_t b, int64_t e, T lr, T wd, T momentum, T dampening) {
  for (int64_t i = b; i < e; ++i) {
    T d = g[i] + wd * p[i];
    if constexpr (kMomentum) {
      const T bi = kFirst ? d : momentum * buf[i] + (T(1) - dampening) * d;
      buf[i] = bi;
      d = kNesterov ? d + momentum * bi : bi;
    }
    p[i] -= lr * d;
  }
}

// p, buf: [n] updated in place (buf null when momentum = 0); g: [n]. `first`: the buffer starts as the
// gradient.
template <class T>
void sgd_kernel(T* p, const T* g, T* buf, int64_t n, T lr, T wd, T momentum, T dampening, bool nesterov,
                bool first) {
  parallel_for(n, kGrain, [&](int64_t b, int64_t e) {
    if (!buf)
      sgd_loop<T, false, false, false>(p, g, buf, b, e, lr, wd, momentum, dampening);
    else if (first)
      nesterov ? sgd_loop<T, true, true, true>(p, g, buf, b, e, lr, wd, momentum, dampening)
               : sgd_loop<T, true, true, false>(p, g, buf, b, e, lr, wd, momentum, dampening);
    else
      nesterov ? sgd_loop<T, true, false, true>(p, g, buf, b, e, lr, wd, momentum, dampening)
               : sgd_loop<T, true, false, false>(p, g, buf, b, e, lr, wd, momentum, dampening);
  });
}

template <class T>
void adam_kernel(T* p, const T* g, T* m, T* v, int64_t n, const kernels::AdamCoeffs& c) {
  parallel_for(n, kGrain, [&](int64_t b, int64_t e) {
    kernels::cpu::adam_update(p + b, g + b, m + b, v + b, e - b, c);
  });
}

void check_nonneg(double v, const char* what, const char* opt) {
  XF_CHECK(v >= 0 && std::isfinite(v), opt, ": ", what, " must be a finite value >= 0, got ", v);
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// Optimizer

Optimizer::Optimizer(std::vector<NamedParameter> params, double lr_, const char* name)
    : lr(lr_), params_(std::move(params)), name_(name) {
  check_nonneg(lr, "lr", name_);
  for (size_t i = 0; i < params_.size(); ++i) {
    const NamedParameter& p = params_[i];
    XF_CHECK(p.tensor.defined(), name_, ": parameter '", p.name, "' is undefined");
    XF_CHECK(p.tensor.dtype() == DType::f32 || p.tensor.dtype() == DType::f64, name_, ": parameter '", p.name,
             "' has dtype ", dtype_name(p.tensor.dtype()), " (expected f32 or f64)");
    XF_CHECK(p.tensor.is_contiguous(), name_, ": parameter '", p.name, "' of shape ", p.tensor.shape().str(),
             " is not contiguous");
    for (size_t j = 0; j < i; ++j)
      XF_CHECK(!params_[j].tensor.is_same(p.tensor) && params_[j].name != p.name, name_, ": parameter '",
               p.name, "' is listed twice (also as '", params_[j].name, "')");
  }
  steps_.reserve(params_.size());
  for (size_t i = 0; i < params_.size(); ++i) {
    Tensor s = Tensor::zeros(Shape{}, DType::i64);
    steps_.push_back(s);
    state_.push_back({"step." + params_[i].name, s, false});
  }
}

void Optimizer::zero_grad() {
  for (NamedParameter& p : params_) p.tensor.zero_grad();
}

Tensor Optimizer::add_param_state(const char* kind, size_t i) {
  const Tensor& p = params_[i].tensor;
  Tensor s = Tensor::zeros(p.shape(), p.dtype());
  state_.push_back({std::string(kind) + "." + params_[i].name, s, false});
  return s;
}

Tensor Optimizer::checked_grad(size_t i) const {
  const NamedParameter& p = params_[i];
  Tensor g = p.tensor.grad();
  if (!g.defined()) return g;
  XF_CHECK(g.shape() == p.tensor.shape() && g.dtype() == p.tensor.dtype(), name_, ": gradient of '", p.name,
           "' has shape ", g.shape().str(), " ", dtype_name(g.dtype()), ", parameter has ",
           p.tensor.shape().str(), " ", dtype_name(p.tensor.dtype()));
  XF_CHECK(g.is_contiguous(), name_, ": gradient of '", p.name, "' (shape ", g.shape().str(),
           ") is not contiguous");
  return g;
}

int64_t Optimizer::bump_param_step(size_t i) {
  return ++*steps_[i].data<int64_t>();
}
int64_t Optimizer::param_step(size_t i) const {
  return *steps_[i].data<int64_t>();
}

// ---------------------------------------------------------------------------------------------------------------
// SGD

SGD::SGD(std::vector<NamedParameter> params, double lr, double momentum_, double dampening_, bool nesterov_,
         double weight_decay_)
    : Optimizer(std::move(params), lr, "SGD"),
      momentum(momentum_),
      dampening(dampening_),
      weight_decay(weight_decay_),
      nesterov(nesterov_) {
  check_nonneg(momentum, "momentum", "SGD");
  check_nonneg(dampening, "dampening", "SGD");
  check_nonneg(weight_decay, "weight_decay", "SGD");
  XF_CHECK(!nesterov || (momentum > 0 && dampening == 0),
           "SGD: nesterov needs momentum > 0 and dampening = 0 (got "
           "momentum ",
           momentum, ", dampening ", dampening, ")");
  if (momentum != 0) {
    buf_.reserve(params_.size());
    for (size_t i = 0; i < params_.size(); ++i) buf_.push_back(add_param_state("momentum_buffer", i));
  }
}

void SGD::step() {
  XF_CHECK(!nesterov || (momentum > 0 && dampening == 0),
           "SGD: nesterov needs momentum > 0 and dampening = 0");
  XF_CHECK(momentum == 0 || !buf_.empty() || params_.empty(),
           "SGD: momentum was 0 at construction (no momentum buffers); set it when constructing");
  NoGradGuard no_grad;
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor g = checked_grad(i);
    if (!g.defined()) continue;
    const bool first = bump_param_step(i) == 1;
    const Tensor& p = params_[i].tensor;
    const double wd = params_[i].decay ? weight_decay : 0.0;
    XF_DISPATCH_FLOAT(p.dtype(), "SGD", [&] {
      using T = scalar_t;
      T* buf = momentum != 0 ? buf_[i].data<T>() : nullptr;
      sgd_kernel<T>(p.data<T>(), g.data<T>(), buf, p.numel(), T(lr), T(wd), T(momentum), T(dampening),
                    nesterov, first);
    });
  }
  ++step_count_;
}

// ---------------------------------------------------------------------------------------------------------------
// Adam / AdamW

Adam::Adam(std::vector<NamedParameter> params, double lr, double beta1, double beta2, double eps,
           double weight_decay)
    : Adam(std::move(params), lr, beta1, beta2, eps, weight_decay, "Adam") {}

Adam::Adam(std::vector<NamedParameter> params, double lr, double beta1_, double beta2_, double eps_,
           double weight_decay_, const char* name)
    : Optimizer(std::move(params), lr, name),
      beta1(beta1_),
      beta2(beta2_),
      eps(eps_),
      weight_decay(weight_decay_) {
  XF_CHECK(beta1 >= 0 && beta1 < 1, name, ": beta1 must be in [0, 1), got ", beta1);
  XF_CHECK(beta2 >= 0 && beta2 < 1, name, ": beta2 must be in [0, 1), got ", beta2);
  check_nonneg(eps, "eps", name);
  check_nonneg(weight_decay, "weight_decay", name);
  exp_avg_.reserve(params_.size());
  exp_avg_sq_.reserve(params_.size());
  for (size_t i = 0; i < params_.size(); ++i) exp_avg_.push_back(add_param_state("exp_avg", i));
  for (size_t i = 0; i < params_.size(); ++i) exp_avg_sq_.push_back(add_param_state("exp_avg_sq", i));
}

void Adam::step() {
  adam_step(false);
}

void Adam::adam_step(bool decoupled) {
  NoGradGuard no_grad;
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor g = checked_grad(i);
    if (!g.defined()) continue;
    const double t = static_cast<double>(bump_param_step(i));
    const Tensor& p = params_[i].tensor;
    const double wd = params_[i].decay ? weight_decay : 0.0;
    // Bias corrections of Kingma & Ba's Algorithm 1, computed in double as torch does (Python floats).
    kernels::AdamCoeffs c;
    c.beta1 = beta1;
    c.beta2 = beta2;
    c.eps = eps;
    c.step_size = lr / (1.0 - std::pow(beta1, t));
    c.bc2_sqrt = std::sqrt(1.0 - std::pow(beta2, t));
    c.shrink = decoupled ? 1.0 - lr * wd : 1.0;
    c.l2 = decoupled ? 0.0 : wd;
    XF_DISPATCH_FLOAT(p.dtype(), name(), [&] {
      using T = scalar_t;
      adam_kernel<T>(p.data<T>(), g.data<T>(), exp_avg_[i].data<T>(), exp_avg_sq_[i].data<T>(), p.numel(), c);
    });
  }
  ++step_count_;
}

AdamW::AdamW(std::vector<NamedParameter> params, double lr, double beta1, double beta2, double eps,
             double weight_decay)
    : Adam(std::move(params), lr, beta1, beta2, eps, weight_decay, "AdamW") {}

void AdamW::step() {
  adam_step(true);
}

}  // namespace xfmr
