#include "xfmr/train/clip.h"

#include <algorithm>
#include <cmath>

#include "xfmr/core/autograd.h"
#include "xfmr/core/check.h"
#include "xfmr/core/dtype.h"
#include "xfmr/core/parallel.h"

namespace xfmr {

namespace {

constexpr int64_t kBlock = 1 << 15;  // elements per partial sum
constexpr int64_t kMaxBlocks = 256;  // partial sums live on the stack

// Sum of squares of x[0, n) in double, with four independent accumulators (shorter dependency chain).
template <class T>
double sumsq_serial(const T* x, int64_t n) {
  double a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const double x0 = x[i], x1 = x[i + 1], x2 = x[i + 2], x3 = x[i + 3];
    a0 += x0 * x0;
    a1 += x1 * x1;
    a2 += x2 * x2;
    a3 += x3 * x3;
  }
  for (; i < n; ++i) a0 += static_cast<double>(x[i]) * x[i];
  return (a0 + a1) + (a2 + a3);
}

// Blocks of about kBlock elements (at most kMaxBlocks) are summed in parallel, then added in block order.
template <class T>
double sumsq(const T* x, int64_t n) {
  const int64_t nb = std::clamp<int64_t>((n + kBlock - 1) / kBlock, 1, kMaxBlocks);
  double partial[kMaxBlocks];
  parallel_for(nb, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t lo = n * b / nb, hi = n * (b + 1) / nb;
      partial[b] = sumsq_serial(x + lo, hi - lo);
    }
  });
  double s = 0;
  for (int64_t b = 0; b < nb; ++b) s += partial[b];
  return s;
}

template <class T>
void scale(T* x, int64_t n, T c) {
  parallel_for(n, kBlock, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) x[i] *= c;
  });
}

// The gradient of params[i], checked, or an undefined tensor.
Tensor grad_of(const std::vector<Tensor>& params, size_t i, const char* op) {
  XF_CHECK(params[i].defined(), op, ": parameter ", i, " is undefined");
  Tensor g = params[i].grad();
  if (!g.defined()) return g;
  XF_CHECK(g.dtype() == DType::f32 || g.dtype() == DType::f64, op, ": gradient of parameter ", i, " (shape ",
           g.shape().str(), ") has dtype ", dtype_name(g.dtype()), " (expected f32 or f64)");
  XF_CHECK(g.is_contiguous(), op, ": gradient of parameter ", i, " (shape ", g.shape().str(),
           ") is not contiguous");
  return g;
}

double norm_impl(const std::vector<Tensor>& params, const char* op) {
  double total = 0;
  for (size_t i = 0; i < params.size(); ++i) {
    const Tensor g = grad_of(params, i, op);
    if (!g.defined()) continue;
    total += XF_DISPATCH_FLOAT(g.dtype(), op, [&] { return sumsq(g.data<scalar_t>(), g.numel()); });
  }
  return std::sqrt(total);
}

}  // namespace

double grad_norm(const std::vector<Tensor>& params) {
  return norm_impl(params, "grad_norm");
}

double clip_grad_norm(const std::vector<Tensor>& params, double max_norm) {
  XF_CHECK(max_norm >= 0 && std::isfinite(max_norm),
           "clip_grad_norm: max_norm must be a finite value >= 0, got ", max_norm);
  const double norm = norm_impl(params, "clip_grad_norm");
  const double coef = max_norm / (norm + 1e-6);
  if (!std::isfinite(norm) || coef >= 1.0) return norm;
  NoGradGuard no_grad;
  for (const Tensor& p : params) {
    const Tensor g = p.grad();
    if (!g.defined()) continue;
    XF_DISPATCH_FLOAT(g.dtype(), "clip_grad_norm",
                      [&] { scale(g.data<scalar_t>(), g.numel(), static_cast<scalar_t>(coef)); });
  }
  return norm;
}

}  // namespace xfmr
