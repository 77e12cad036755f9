// LayerNorm / RMSNorm row kernels (internal; used by ops/norm.cc). Same contract as the scalar reference in
// kernels/ref/norm.h, which accumulates every row statistic in double one element at a time: a loop the
// compiler cannot vectorise without reordering the sums (and with mixed float/double lanes GCC's `omp simd`
// version gathered and spilled: ~30% of a LayerNorm backward).
//
// Here the row statistics (mean, variance, mean(ĝ), mean(ĝ x̂)) accumulate in T over kNormLanes fixed lanes
// (lane l takes elements l, l + 16, ...; a std::experimental::fixed_size_simd, one zmm register for f32 with
// AVX-512, two ymm with AVX2, and so on: plain lane-array loops were only half vectorised by GCC 12), then the
// lanes are added in a fixed pairwise order: a result that depends on neither the build's vector width nor
// the thread count. For f32 this means float partial sums of at most C / 16 terms each (C = 768: 48), combined
// pairwise; the variance is the two-pass sum of squared deviations (no E[x²] - E[x]² cancellation). The
// per-parameter gradient sums across rows (bw, bb) stay in double as before: they add up many rows.
#pragma once
#include <cmath>
#include <cstdint>

// GCC 12 reports a false -Wmaybe-uninitialized inside its own AVX-512 intrinsics when they are inlined from
// <experimental/simd> (as in kernels/cpu/adam.cc).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <experimental/simd>

namespace xfmr::kernels::cpu {

constexpr int kNormLanes = 16;

template <class T>
using NormLanes = std::experimental::fixed_size_simd<T, kNormLanes>;

// The lanes of v, added in a fixed pairwise order.
template <class T>
inline T norm_lane_total(const NormLanes<T>& v) {
  T a[kNormLanes];
  v.copy_to(a, std::experimental::element_aligned);
  T b[kNormLanes / 2];
  for (int l = 0; l < kNormLanes / 2; ++l) b[l] = a[l] + a[l + kNormLanes / 2];
  for (int l = 0; l < 4; ++l) b[l] += b[l + 4];
  b[0] += b[2];
  b[1] += b[3];
  return b[0] + b[1];
}

// The next kNormLanes values of p, or the last n < kNormLanes of them with zeros after.
template <class T>
inline NormLanes<T> norm_load(const T* p) {
  return NormLanes<T>(p, std::experimental::element_aligned);
}
template <class T>
inline NormLanes<T> norm_load_tail(const T* p, int64_t n) {
  T a[kNormLanes] = {};
  for (int64_t l = 0; l < n; ++l) a[l] = p[l];
  return NormLanes<T>(a, std::experimental::element_aligned);
}

// One row of C values: y = (x - mean) rstd w + b (mean = 0 when !center, i.e. RMSNorm); returns mean, rstd.
template <class T>
inline void norm_row_forward(const T* __restrict x, const T* __restrict w, const T* __restrict b, T* __restrict y,
                             int64_t C, double eps, bool center, T& mean, T& rstd) {
  const int64_t Cv = C / kNormLanes * kNormLanes;
  T mu = 0;
  if (center) {
    NormLanes<T> acc = 0;
    for (int64_t c = 0; c < Cv; c += kNormLanes) acc += norm_load(x + c);
    if (Cv < C) acc += norm_load_tail(x + Cv, C - Cv);
    mu = static_cast<T>(static_cast<double>(norm_lane_total(acc)) / static_cast<double>(C));
  }
  NormLanes<T> acc = 0;
  for (int64_t c = 0; c < Cv; c += kNormLanes) {
    const NormLanes<T> d = norm_load(x + c) - mu;
    acc += d * d;
  }
  if (Cv < C) {
    // The padding zeros would add mu² each: mask them out.
    const NormLanes<T> d = norm_load_tail(x + Cv, C - Cv) - mu;
    NormLanes<T> sq = d * d;
    for (int64_t l = C - Cv; l < kNormLanes; ++l) sq[l] = 0;
    acc += sq;
  }
  const double var = static_cast<double>(norm_lane_total(acc)) / static_cast<double>(C);
  const T s = static_cast<T>(1.0 / std::sqrt(var + eps));
  mean = mu;
  rstd = s;
  for (int64_t c = 0; c < C; ++c) y[c] = (x[c] - mu) * s * w[c] + b[c];
}

// One row's backward, x̂ = (x - m) s, ĝ = g w:  dx = s (ĝ - mean(ĝ) - x̂ mean(ĝ x̂))  (no mean(ĝ) term when
// !center); bw[c] += g x̂ and bb[c] += g in double. dx, bw, bb may each be null.
template <class T>
inline void norm_row_backward(const T* __restrict x, const T* __restrict g, const T* __restrict w, T m, T s,
                              int64_t C, bool center, T* __restrict dx, double* __restrict bw,
                              double* __restrict bb) {
  if (dx) {
    const int64_t Cv = C / kNormLanes * kNormLanes;
    NormLanes<T> a1 = 0, a2 = 0;
    for (int64_t c = 0; c < Cv; c += kNormLanes) {
      const NormLanes<T> gh = norm_load(g + c) * norm_load(w + c);
      a1 += gh;
      a2 += gh * ((norm_load(x + c) - m) * s);
    }
    if (Cv < C) {  // zero padding in g makes the padded lanes' terms 0
      const NormLanes<T> gh = norm_load_tail(g + Cv, C - Cv) * norm_load_tail(w + Cv, C - Cv);
      a1 += gh;
      a2 += gh * ((norm_load_tail(x + Cv, C - Cv) - m) * s);
    }
    const double invC = 1.0 / static_cast<double>(C);
    const T t1 = center ? static_cast<T>(static_cast<double>(norm_lane_total(a1)) * invC) : T(0);
    const T t2 = static_cast<T>(static_cast<double>(norm_lane_total(a2)) * invC);
    for (int64_t c = 0; c < C; ++c) dx[c] = s * (g[c] * w[c] - t1 - (x[c] - m) * s * t2);
  }
  if (bw && bb) {
    for (int64_t c = 0; c < C; ++c) {
      bw[c] += static_cast<double>(g[c]) * static_cast<double>((x[c] - m) * s);
      bb[c] += static_cast<double>(g[c]);
    }
  } else if (bw) {
    for (int64_t c = 0; c < C; ++c) bw[c] += static_cast<double>(g[c]) * static_cast<double>((x[c] - m) * s);
  } else if (bb) {
    for (int64_t c = 0; c < C; ++c) bb[c] += static_cast<double>(g[c]);
  }
}

}  // namespace xfmr::kernels::cpu

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
