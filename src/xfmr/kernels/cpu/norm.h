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
#include <type_traits>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

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

// Where a product meets a sum in the row statistics and the output, the kernels spell out the fused
// multiply-add (as GCC contracted these loops at -O3, so the values are unchanged) rather than leave it to
// -ffp-contract: GCC contracts the same inline loop differently in different callers and optimisation levels,
// and the multi-row kernels below must round exactly as the row kernels do (tests/kernels/norm_kernel_test.cc).
#if defined(__AVX512F__)
// The lanes of an AVX-512 float accumulator (kNormLanes of them), added in norm_lane_total's order.
inline float norm_total_m512(__m512 v) {
  alignas(64) float a[kNormLanes];
  _mm512_store_ps(a, v);
  return norm_lane_total(NormLanes<float>(a, std::experimental::element_aligned));
}
#endif

// y = (x - m) s w + b
template <class T>
inline T norm_out(T x, T m, T s, T w, T b) {
#if defined(__FMA__)
  return std::fma((x - m) * s, w, b);
#else
  return (x - m) * s * w + b;
#endif
}

// dx = s (g w - a - (x - m) s c2). Left to the compiler (the row and multi-row kernels run it as the same
// runtime-C loop): spelling out the fma that GCC -O3 forms for g w - a would turn the exact 0 of a one-element
// LayerNorm (a = g w) into g w's rounding error times rstd = eps^-1/2 in the debug build.
template <class T>
inline T norm_dx(T g, T w, T a, T x, T m, T s, T c2) {
  return s * (g * w - a - (x - m) * s * c2);
}

// The lane total of x[0, C) (kNormLanes lanes, zero padded).
template <class T>
inline T norm_sum(const T* __restrict x, int64_t C) {
  const int64_t Cv = C / kNormLanes * kNormLanes;
  NormLanes<T> acc = 0;
  for (int64_t c = 0; c < Cv; c += kNormLanes) acc += norm_load(x + c);
  if (Cv < C) acc += norm_load_tail(x + Cv, C - Cv);
  return norm_lane_total(acc);
}

// The lane total of (x - mu)² over x[0, C).
template <class T>
inline T norm_sq_dev_sum(const T* __restrict x, int64_t C, T mu) {
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<T, float>) {
    if (C % kNormLanes == 0) {
      __m512 acc = _mm512_setzero_ps();
      const __m512 m = _mm512_set1_ps(mu);
      for (int64_t c = 0; c < C; c += kNormLanes) {
        const __m512 d = _mm512_sub_ps(_mm512_loadu_ps(x + c), m);
        acc = _mm512_fmadd_ps(d, d, acc);
      }
      return norm_total_m512(acc);
    }
  }
#endif
  const int64_t Cv = C / kNormLanes * kNormLanes;
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
  return norm_lane_total(acc);
}

// The lane totals of ĝ = g w and of ĝ x̂, x̂ = (x - m) s, over one row.
template <class T>
inline void norm_grad_sums(const T* __restrict x, const T* __restrict g, const T* __restrict w, T m, T s,
                           int64_t C, T& s1, T& s2) {
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<T, float>) {
    if (C % kNormLanes == 0) {
      __m512 a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps();
      const __m512 mv = _mm512_set1_ps(m), sv = _mm512_set1_ps(s);
      for (int64_t c = 0; c < C; c += kNormLanes) {
        const __m512 gh = _mm512_mul_ps(_mm512_loadu_ps(g + c), _mm512_loadu_ps(w + c));
        const __m512 xh = _mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(x + c), mv), sv);
        a1 = _mm512_add_ps(a1, gh);
        a2 = _mm512_fmadd_ps(gh, xh, a2);
      }
      s1 = norm_total_m512(a1);
      s2 = norm_total_m512(a2);
      return;
    }
  }
#endif
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
  s1 = norm_lane_total(a1);
  s2 = norm_lane_total(a2);
}

// One row of C values: y = (x - mean) rstd w + b (mean = 0 when !center, i.e. RMSNorm); returns mean, rstd.
template <class T>
inline void norm_row_forward(const T* __restrict x, const T* __restrict w, const T* __restrict b, T* __restrict y,
                             int64_t C, double eps, bool center, T& mean, T& rstd) {
  const T mu = center ? static_cast<T>(static_cast<double>(norm_sum(x, C)) / static_cast<double>(C)) : T(0);
  const double var = static_cast<double>(norm_sq_dev_sum(x, C, mu)) / static_cast<double>(C);
  const T s = static_cast<T>(1.0 / std::sqrt(var + eps));
  mean = mu;
  rstd = s;
  for (int64_t c = 0; c < C; ++c) y[c] = norm_out(x[c], mu, s, w[c], b[c]);
}

// One row's backward, x̂ = (x - m) s, ĝ = g w:  dx = s (ĝ - mean(ĝ) - x̂ mean(ĝ x̂))  (no mean(ĝ) term when
// !center); bw[c] += g x̂ and bb[c] += g in double. dx, bw, bb may each be null.
template <class T>
inline void norm_row_backward(const T* __restrict x, const T* __restrict g, const T* __restrict w, T m, T s,
                              int64_t C, bool center, T* __restrict dx, double* __restrict bw,
                              double* __restrict bb) {
  if (dx) {
    T s1, s2;
    norm_grad_sums(x, g, w, m, s, C, s1, s2);
    const double invC = 1.0 / static_cast<double>(C);
    const T t1 = center ? static_cast<T>(static_cast<double>(s1) * invC) : T(0);
    const T t2 = static_cast<T>(static_cast<double>(s2) * invC);
    for (int64_t c = 0; c < C; ++c) dx[c] = norm_dx(g[c], w[c], t1, x[c], m, s, t2);
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

// ---- several rows at once: the same arithmetic as the row kernels above, bit for bit, in phases ----
//
// A row's statistics are one long dependency chain (lane sums, a double division, a square root and a second
// division for rstd) that the row's output waits for, and each lane total is a dozen shuffles and scalar adds
// for a row of only C / 16 vector additions (C = 64: the row kernels took ~21 ns a row forward, ~35 ns
// backward). Here kNormGroup rows go through each phase together: all the lane sums, then all the divisions,
// then all the outputs, which leaves independent work for the out-of-order core; and with AVX-512 the lane
// totals of 16 rows are formed together by a transposing tree (norm_lane_totals16) in the same pairwise order.
// Measured (bench_train_small_ops, 1408 rows of 64): forward 28 -> 14 us; backward ~42 -> ~41 us (its time is the
// dx pass and the double dw / db sums, not the statistics). f64 (gradient checks) runs the row kernels.
constexpr int64_t kNormGroup = 16;

#if defined(__AVX512F__)
// Lane r of the result = norm_lane_total(v[r]) exactly: the same additions in the same order (lane l + lane l+8,
// then + l+4, then + l+2, then + l+1), done for 16 rows at once. Each step adds two vectors that hold two rows'
// halves side by side: 15 vector additions and 30 shuffles for 16 rows instead of ~12 dependent operations a row.
inline __m512 norm_lane_totals16(const __m512 (&v)[16]) {
  // __builtin_shufflevector (GCC 12, clang) rather than the shuffle intrinsics, whose _mm512_undefined_ps GCC 12
  // reports as used uninitialized where <immintrin.h> came in before this header. Indices >= 16 pick from b.
  __m512 u[8], w4[4], z[2];
  // b[l] = a[l] + a[l + 8]: u[k] holds row 2k's b[0..7] in lanes 0-7, row 2k+1's in lanes 8-15.
  for (int k = 0; k < 8; ++k)
    u[k] = __builtin_shufflevector(v[2 * k], v[2 * k + 1], 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23) +
           __builtin_shufflevector(v[2 * k], v[2 * k + 1], 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30,
                                   31);
  // b[l] += b[l + 4]: 128-bit block j of w4[m] holds row 4m + j's b[0..3].
  for (int m = 0; m < 4; ++m)
    w4[m] = __builtin_shufflevector(u[2 * m], u[2 * m + 1], 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26,
                                    27) +
            __builtin_shufflevector(u[2 * m], u[2 * m + 1], 4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30,
                                    31);
  // b[0] += b[2], b[1] += b[3]: block j of z[p] holds rows 8p + j and 8p + 4 + j, two values each.
  for (int p = 0; p < 2; ++p)
    z[p] = __builtin_shufflevector(w4[2 * p], w4[2 * p + 1], 0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28,
                                   29) +
           __builtin_shufflevector(w4[2 * p], w4[2 * p + 1], 2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30,
                                   31);
  // b[0] + b[1]: lane 4j + q holds row 4q + j; permute to lane r = row r.
  const __m512 t = __builtin_shufflevector(z[0], z[1], 0, 2, 16, 18, 4, 6, 20, 22, 8, 10, 24, 26, 12, 14, 28, 30) +
                   __builtin_shufflevector(z[0], z[1], 1, 3, 17, 19, 5, 7, 21, 23, 9, 11, 25, 27, 13, 15, 29, 31);
  return __builtin_shufflevector(t, t, 0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
}
#endif

// tot[i] = norm_sum(row i) for the n rows of x [n, C].
template <class T>
inline void norm_group_sum(const T* __restrict x, int64_t n, int64_t C, T* __restrict tot) {
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<T, float>) {
    if (n == 16 && C % 16 == 0) {
      __m512 acc[16];
      for (int i = 0; i < 16; ++i) {
        acc[i] = _mm512_setzero_ps();
        for (int64_t c = 0; c < C; c += 16) acc[i] = _mm512_add_ps(acc[i], _mm512_loadu_ps(x + i * C + c));
      }
      _mm512_storeu_ps(tot, norm_lane_totals16(acc));
      return;
    }
  }
#endif
  for (int64_t i = 0; i < n; ++i) tot[i] = norm_sum(x + i * C, C);
}

// q[i] = norm_sq_dev_sum(row i, mu[i]): the same fma(d, d, acc) per lane.
template <class T>
inline void norm_group_sq_dev_sum(const T* __restrict x, int64_t n, int64_t C, const T* __restrict mu,
                                  T* __restrict q) {
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<T, float>) {
    if (n == 16 && C % 16 == 0) {
      __m512 acc[16];
      for (int i = 0; i < 16; ++i) {
        acc[i] = _mm512_setzero_ps();
        const __m512 m = _mm512_set1_ps(mu[i]);
        for (int64_t c = 0; c < C; c += 16) {
          const __m512 d = _mm512_sub_ps(_mm512_loadu_ps(x + i * C + c), m);
          acc[i] = _mm512_fmadd_ps(d, d, acc[i]);
        }
      }
      _mm512_storeu_ps(q, norm_lane_totals16(acc));
      return;
    }
  }
#endif
  for (int64_t i = 0; i < n; ++i) q[i] = norm_sq_dev_sum(x + i * C, C, mu[i]);
}

// s1[i], s2[i] = norm_grad_sums(row i): the same ĝ = g w, a1 + ĝ and fma(ĝ, x̂, a2) per lane.
template <class T>
inline void norm_group_grad_sums(const T* __restrict x, const T* __restrict g, const T* __restrict w,
                                 const T* __restrict mean, const T* __restrict rstd, int64_t n, int64_t C,
                                 T* __restrict s1, T* __restrict s2) {
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<T, float>) {
    if (n == 16 && C % 16 == 0) {
      __m512 a1[16], a2[16];
      for (int i = 0; i < 16; ++i) {
        a1[i] = _mm512_setzero_ps();
        a2[i] = _mm512_setzero_ps();
        const __m512 m = _mm512_set1_ps(mean[i]), s = _mm512_set1_ps(rstd[i]);
        for (int64_t c = 0; c < C; c += 16) {
          const __m512 gh = _mm512_mul_ps(_mm512_loadu_ps(g + i * C + c), _mm512_loadu_ps(w + c));
          const __m512 xh = _mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(x + i * C + c), m), s);
          a1[i] = _mm512_add_ps(a1[i], gh);
          a2[i] = _mm512_fmadd_ps(gh, xh, a2[i]);
        }
      }
      _mm512_storeu_ps(s1, norm_lane_totals16(a1));
      _mm512_storeu_ps(s2, norm_lane_totals16(a2));
      return;
    }
  }
#endif
  for (int64_t i = 0; i < n; ++i) norm_grad_sums(x + i * C, g + i * C, w, mean[i], rstd[i], C, s1[i], s2[i]);
}

// rows x [rows, C] -> y [rows, C], mean / rstd [rows]: norm_row_forward on each row.
template <class T>
[[gnu::flatten]] inline void norm_rows_forward(const T* __restrict x, const T* __restrict w,
                                               const T* __restrict b, T* __restrict y, int64_t rows, int64_t C,
                                               double eps, bool center, T* __restrict mean, T* __restrict rstd) {
  if constexpr (!std::is_same_v<T, float>) {  // f64: the row kernels, one row at a time
    for (int64_t r = 0; r < rows; ++r)
      norm_row_forward(x + r * C, w, b, y + r * C, C, eps, center, mean[r], rstd[r]);
    return;
  }
  const double dC = static_cast<double>(C);
  for (int64_t r0 = 0; r0 < rows; r0 += kNormGroup) {
    const int64_t n = rows - r0 < kNormGroup ? rows - r0 : kNormGroup;
    const T* xg = x + r0 * C;
    T mu[kNormGroup], q[kNormGroup];
    if (center) {
      norm_group_sum(xg, n, C, mu);
      for (int64_t i = 0; i < n; ++i) mu[i] = static_cast<T>(static_cast<double>(mu[i]) / dC);
    } else {
      for (int64_t i = 0; i < n; ++i) mu[i] = T(0);
    }
    norm_group_sq_dev_sum(xg, n, C, mu, q);
    for (int64_t i = 0; i < n; ++i) {
      mean[r0 + i] = mu[i];
      rstd[r0 + i] = static_cast<T>(1.0 / std::sqrt(static_cast<double>(q[i]) / dC + eps));
    }
    for (int64_t i = 0; i < n; ++i) {
      const T* xr = xg + i * C;
      T* yr = y + (r0 + i) * C;
      const T m = mu[i], s = rstd[r0 + i];
      for (int64_t c = 0; c < C; ++c) yr[c] = norm_out(xr[c], m, s, w[c], b[c]);
    }
  }
}

// bw[c] += Σ_i g x̂ and bb[c] += Σ_i g over columns [c0, c0 + kW) of the n rows of a group, rows added in
// order as norm_row_backward does one row at a time (the same doubles), with the partial sums in registers
// instead of a load and a store of bw / bb per row. kWidth columns at once: the rows' additions into one column
// form a dependency chain, and kWidth / 8 independent chains of vector additions hide its latency.
template <int64_t kWidth, bool kW, bool kB, class T>
inline void norm_param_grad_cols(const T* __restrict x, const T* __restrict g, const T* __restrict mean,
                                 const T* __restrict rstd, int64_t n, int64_t C, int64_t c0,
                                 double* __restrict bw, double* __restrict bb) {
  double aw[kWidth], ab[kWidth];
  for (int64_t l = 0; l < kWidth; ++l) {
    aw[l] = kW ? bw[c0 + l] : 0.0;
    ab[l] = kB ? bb[c0 + l] : 0.0;
  }
  for (int64_t i = 0; i < n; ++i) {
    const T* xr = x + i * C + c0;
    const T* gr = g + i * C + c0;
    const T m = mean[i], s = rstd[i];
    for (int64_t l = 0; l < kWidth; ++l) {
      if (kW) aw[l] += static_cast<double>(gr[l]) * static_cast<double>((xr[l] - m) * s);
      if (kB) ab[l] += static_cast<double>(gr[l]);
    }
  }
  for (int64_t l = 0; l < kWidth; ++l) {
    if (kW) bw[c0 + l] = aw[l];
    if (kB) bb[c0 + l] = ab[l];
  }
}

template <bool kW, bool kB, class T>
inline void norm_group_param_grads(const T* __restrict x, const T* __restrict g, const T* __restrict mean,
                                   const T* __restrict rstd, int64_t n, int64_t C, double* __restrict bw,
                                   double* __restrict bb) {
  int64_t c0 = 0;
  for (; c0 + 64 <= C; c0 += 64) norm_param_grad_cols<64, kW, kB>(x, g, mean, rstd, n, C, c0, bw, bb);
  for (; c0 + 8 <= C; c0 += 8) norm_param_grad_cols<8, kW, kB>(x, g, mean, rstd, n, C, c0, bw, bb);
  for (; c0 < C; ++c0) norm_param_grad_cols<1, kW, kB>(x, g, mean, rstd, n, C, c0, bw, bb);
}

// rows of x, g [rows, C] with their mean / rstd [rows]: norm_row_backward on each row in order (the same dx,
// and bw / bb accumulate the rows in the same order, so the same doubles). With dx_add ([rows, C], or null),
// dx = dx_add + the norm's dx instead: another gradient of x folded into the same pass (GradSlots::pending).
template <class T>
[[gnu::flatten]] inline void norm_rows_backward(const T* __restrict x, const T* __restrict g,
                                                const T* __restrict w, const T* __restrict mean,
                                                const T* __restrict rstd, int64_t rows, int64_t C, bool center,
                                                T* __restrict dx, double* __restrict bw, double* __restrict bb,
                                                const T* __restrict dx_add = nullptr) {
  if constexpr (!std::is_same_v<T, float>) {  // f64: the row kernels, one row at a time
    for (int64_t r = 0; r < rows; ++r) {
      T* d = dx ? dx + r * C : nullptr;
      norm_row_backward(x + r * C, g + r * C, w, mean[r], rstd[r], C, center, d, bw, bb);
      if (d && dx_add)
        for (int64_t c = 0; c < C; ++c) d[c] = dx_add[r * C + c] + d[c];
    }
    return;
  }
  const double invC = 1.0 / static_cast<double>(C);
  for (int64_t r0 = 0; r0 < rows; r0 += kNormGroup) {
    const int64_t n = rows - r0 < kNormGroup ? rows - r0 : kNormGroup;
    const T* xg = x + r0 * C;
    const T* gg = g + r0 * C;
    if (dx) {
      T t1[kNormGroup], t2[kNormGroup];
      norm_group_grad_sums(xg, gg, w, mean + r0, rstd + r0, n, C, t1, t2);
      for (int64_t i = 0; i < n; ++i) {
        t1[i] = center ? static_cast<T>(static_cast<double>(t1[i]) * invC) : T(0);
        t2[i] = static_cast<T>(static_cast<double>(t2[i]) * invC);
      }
      for (int64_t i = 0; i < n; ++i) {
        const T* xr = xg + i * C;
        const T* gr = gg + i * C;
        T* dr = dx + (r0 + i) * C;
        const T m = mean[r0 + i], s = rstd[r0 + i], a = t1[i], c2 = t2[i];
        for (int64_t c = 0; c < C; ++c) dr[c] = norm_dx(gr[c], w[c], a, xr[c], m, s, c2);
        if (dx_add) {
          // A second pass over the row (in L1): in the same expression the compiler would fuse norm_dx's last
          // product into the addition, and the sum would no longer have the engine's bits (autograd.h).
          const T* ar = dx_add + (r0 + i) * C;
          for (int64_t c = 0; c < C; ++c) dr[c] = ar[c] + dr[c];
        }
      }
    }
    if (bw && bb)
      norm_group_param_grads<true, true>(xg, gg, mean + r0, rstd + r0, n, C, bw, bb);
    else if (bw)
      norm_group_param_grads<true, false>(xg, gg, mean + r0, rstd + r0, n, C, bw, bb);
    else if (bb)
      norm_group_param_grads<false, true>(xg, gg, mean + r0, rstd + r0, n, C, bw, bb);
  }
}

}  // namespace xfmr::kernels::cpu

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
