#include "xfmr/ops/loss.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "xfmr/core/autograd.h"
#include "xfmr/core/parallel.h"
#include "xfmr/kernels/cpu/rowsum.h"
#include "xfmr/kernels/cpu/vmath.h"

namespace xfmr {

namespace {

int64_t row_grain(int64_t C) { return std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(1, C)); }

// Targets as contiguous i64, each in [0, C) or equal to ignore_index; returns the count of non-ignored ones.
Tensor checked_targets(const Tensor& targets, const Tensor& logits, int64_t C, int64_t ignore_index, int64_t& n_valid) {
  Tensor t = targets.dtype() == DType::i64 && targets.is_contiguous() ? targets : targets.converted(DType::i64);
  const int64_t* p = t.data<int64_t>();
  n_valid = 0;
  for (int64_t i = 0, n = t.numel(); i < n; ++i) {
    if (p[i] == ignore_index) continue;
    XF_CHECK(p[i] >= 0 && p[i] < C, "cross_entropy: target ", p[i], " at row ", i, " out of range [0, ", C,
             ") for logits ", logits.shape().str(), " (ignore_index ", ignore_index, ")");
    n_valid++;
  }
  return t;
}

// Per-row loss (f64) and (max, log Σ exp(x - max)) pairs (lse: [N, 2] f64) of logits x: [N, C]; ignored rows get 0.
template <class T>
void ce_forward(const T* x, const int64_t* t, double* row_loss, double* lse, int64_t N, int64_t C, int64_t ignore,
                double eps) {
  parallel_for(N, row_grain(C), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      if (t[r] == ignore) {
        row_loss[r] = 0;
        lse[2 * r] = lse[2 * r + 1] = 0;
        continue;
      }
      const T* xr = x + r * C;
      const T m = kern::row_max(xr, C);
      const double s = kern::row_exp_sum(xr, m, C);
      const double l = static_cast<double>(m) + std::log(s);
      lse[2 * r] = static_cast<double>(m);
      lse[2 * r + 1] = std::log(s);
      const double nll = l - static_cast<double>(xr[t[r]]);
      // -mean_c log p_c = lse - mean_c x_c
      const double smooth = eps > 0 ? l - kern::row_sum(xr, C) / static_cast<double>(C) : 0.0;
      row_loss[r] = (1.0 - eps) * nll + eps * smooth;
    }
  });
}

// dx[r, c] = scale·(p[r, c] - ε/C - (1-ε)·[c == t[r]]), p = softmax(x) from the saved pairs; ignored rows get 0.
template <class T>
void ce_backward(const T* x, const int64_t* t, const double* lse, T* dx, int64_t N, int64_t C, int64_t ignore,
                 double eps, double scale) {
  const T sc = static_cast<T>(scale), off = static_cast<T>(eps / static_cast<double>(C));
  parallel_for(N, row_grain(C), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      T* dr = dx + r * C;
      if (t[r] == ignore) {
        std::fill(dr, dr + C, T(0));
        continue;
      }
      const T* xr = x + r * C;
      // p = exp((x - max) - log Σ): subtracting max + log Σ in one go would round at the magnitude of max.
      const T m = static_cast<T>(lse[2 * r]), ls = static_cast<T>(lse[2 * r + 1]);
      for (int64_t c = 0; c < C; ++c) dr[c] = sc * (vmath::exp((xr[c] - m) - ls) - off);
      dr[t[r]] -= static_cast<T>(scale * (1.0 - eps));
    }
  });
}

}  // namespace

Tensor cross_entropy(const Tensor& logits, const Tensor& targets, int64_t ignore_index, double label_smoothing) {
  check_float(logits, "cross_entropy");
  check_defined(targets, "cross_entropy");
  XF_CHECK(logits.dim() >= 1, "cross_entropy: logits must be [..., C], got ", logits.shape().str());
  XF_CHECK(dtype_is_int(targets.dtype()), "cross_entropy: targets must be i64 or i32, got ",
           dtype_name(targets.dtype()), " ", targets.shape().str());
  const Shape expect = Shape::from(logits.shape().begin(), logits.shape().end() - 1);
  XF_CHECK(targets.shape() == expect, "cross_entropy: targets ", targets.shape().str(), " do not match logits ",
           logits.shape().str(), " (expected targets ", expect.str(), ")");
  XF_CHECK(label_smoothing >= 0 && label_smoothing <= 1, "cross_entropy: label_smoothing must be in [0, 1], got ",
           label_smoothing);
  const int64_t C = logits.size(-1);
  XF_CHECK(C > 0, "cross_entropy: logits ", logits.shape().str(), " have no classes");
  const int64_t N = logits.numel() / C;
  int64_t n_valid = 0;
  const Tensor t = checked_targets(targets, logits, C, ignore_index, n_valid);
  const Tensor xc = logits.is_contiguous() ? logits : logits.contiguous_copy();
  Tensor lse = Tensor::empty({N, 2}, DType::f64), row_loss = Tensor::empty({N}, DType::f64);
  XF_DISPATCH_FLOAT(logits.dtype(), "cross_entropy", [&] {
    ce_forward(xc.data<scalar_t>(), t.data<int64_t>(), row_loss.data<double>(), lse.data<double>(), N, C,
               ignore_index, label_smoothing);
  });
  // Summed serially in row order: the result does not depend on the thread count.
  const double* rl = row_loss.data<double>();
  double total = 0;
  for (int64_t r = 0; r < N; ++r) total += rl[r];
  const double loss = n_valid > 0 ? total / static_cast<double>(n_valid) : std::numeric_limits<double>::quiet_NaN();
  Tensor out = Tensor::scalar(loss, logits.dtype());
  if (needs_grad(logits)) {
    record("cross_entropy", out, {&logits},
           [xc = xc.detach(), t, lse, N, C, ignore_index, label_smoothing, n_valid](const Tensor& g, GradSlots& gs) {
             if (n_valid == 0) return;  // every target ignored: zero gradient
             const double scale = g.item() / static_cast<double>(n_valid);
             Tensor dx = Tensor::empty(xc.shape(), xc.dtype());
             XF_DISPATCH_FLOAT(xc.dtype(), "cross_entropy", [&] {
               ce_backward(xc.data<scalar_t>(), t.data<int64_t>(), lse.data<double>(), dx.data<scalar_t>(), N, C,
                           ignore_index, label_smoothing, scale);
             });
             gs.g[0] = dx;
           });
  }
  return out;
}

Tensor mse_loss(const Tensor& pred, const Tensor& target) {
  check_float(pred, "mse_loss");
  check_same_dtype(pred, target, "mse_loss");
  XF_CHECK(pred.shape() == target.shape(), "mse_loss: pred ", pred.shape().str(), " and target ",
           target.shape().str(), " differ in shape");
  const Tensor pc = pred.is_contiguous() ? pred : pred.contiguous_copy();
  const Tensor tc = target.is_contiguous() ? target : target.contiguous_copy();
  const int64_t n = pc.numel();
  // Fixed-size blocks (not one per thread) so the partial sums, and the result, do not depend on the thread count.
  constexpr int64_t kBlock = 1 << 14;
  const int64_t nb = (n + kBlock - 1) / kBlock;
  Tensor part = Tensor::empty({std::max<int64_t>(1, nb)}, DType::f64);
  XF_DISPATCH_FLOAT(pred.dtype(), "mse_loss", [&] {
    const scalar_t* p = pc.data<scalar_t>();
    const scalar_t* q = tc.data<scalar_t>();
    double* pp = part.data<double>();
    parallel_for(nb, 4, [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b) {
        const int64_t i0 = b * kBlock, i1 = std::min(n, i0 + kBlock);
        pp[b] = kern::row_sq_diff(p + i0, q + i0, i1 - i0);
      }
    });
  });
  double total = 0;
  for (int64_t b = 0; b < nb; ++b) total += part.data<double>()[b];
  Tensor out = Tensor::scalar(total / static_cast<double>(n), pred.dtype());  // n == 0: NaN, as torch
  if (needs_grad(pred, target)) {
    record("mse_loss", out, {&pred, &target}, [pc = pc.detach(), tc = tc.detach(), n](const Tensor& g, GradSlots& gs) {
      // d/dpred = 2·(pred - target)·g/n, d/dtarget = its negation
      const double scale = 2.0 * g.item() / static_cast<double>(std::max<int64_t>(1, n));
      XF_DISPATCH_FLOAT(pc.dtype(), "mse_loss", [&] {
        const scalar_t* p = pc.data<scalar_t>();
        const scalar_t* q = tc.data<scalar_t>();
        for (int k = 0; k < 2; ++k) {
          if (!gs.needed[k]) continue;
          const scalar_t s = static_cast<scalar_t>(k == 0 ? scale : -scale);
          Tensor d = Tensor::empty(pc.shape(), pc.dtype());
          scalar_t* pd = d.data<scalar_t>();
          parallel_for(n, 1 << 15, [&](int64_t i0, int64_t i1) {
            for (int64_t i = i0; i < i1; ++i) pd[i] = s * (p[i] - q[i]);
          });
          gs.g[k] = d;
        }
      });
    });
  }
  return out;
}

}  // namespace xfmr
