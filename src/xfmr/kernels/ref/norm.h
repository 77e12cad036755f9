// Scalar reference for the LayerNorm / RMSNorm row kernels of kernels/cpu/norm.h (the former ops/norm.cc
// loops): every row statistic accumulated in double, one element at a time.
#pragma once
#include <cmath>
#include <cstdint>

namespace xfmr::kernels::ref {

// One row of C values. y = (x - mean) rstd w + b, mean = 0 when !center (RMSNorm); returns mean and rstd.
template <class T>
void norm_row_forward(const T* x, const T* w, const T* b, T* y, int64_t C, double eps, bool center, T& mean,
                      T& rstd) {
  double s = 0;
  for (int64_t c = 0; c < C; ++c) s += static_cast<double>(x[c]);
  const double mu = center ? s / static_cast<double>(C) : 0.0;
  double q = 0;
  for (int64_t c = 0; c < C; ++c) q += (static_cast<double>(x[c]) - mu) * (static_cast<double>(x[c]) - mu);
  const double rs = 1.0 / std::sqrt(q / static_cast<double>(C) + eps);
  mean = static_cast<T>(mu);
  rstd = static_cast<T>(rs);
  for (int64_t c = 0; c < C; ++c) y[c] = (x[c] - mean) * rstd * w[c] + b[c];
}

// One row's backward, with x̂ = (x - m) s and ĝ = g w:  dx = s (ĝ - mean(ĝ) - x̂ mean(ĝ x̂))  (no mean(ĝ) term
// when !center); bw[c] += g x̂, bb[c] += g (double accumulators). dx, bw, bb may each be null.
template <class T>
void norm_row_backward(const T* x, const T* g, const T* w, T m, T s, int64_t C, bool center, T* dx, double* bw,
                       double* bb) {
  const double invC = 1.0 / static_cast<double>(C);
  if (dx) {
    double m1 = 0, m2 = 0;
    for (int64_t c = 0; c < C; ++c) {
      const T gh = g[c] * w[c];
      m1 += static_cast<double>(gh);
      m2 += static_cast<double>(gh) * static_cast<double>((x[c] - m) * s);
    }
    const T t1 = center ? static_cast<T>(m1 * invC) : T(0), t2 = static_cast<T>(m2 * invC);
    for (int64_t c = 0; c < C; ++c) dx[c] = s * (g[c] * w[c] - t1 - (x[c] - m) * s * t2);
  }
  if (bw)
    for (int64_t c = 0; c < C; ++c) bw[c] += static_cast<double>(g[c]) * static_cast<double>((x[c] - m) * s);
  if (bb)
    for (int64_t c = 0; c < C; ++c) bb[c] += static_cast<double>(g[c]);
}

}  // namespace xfmr::kernels::ref
