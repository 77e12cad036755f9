// Row reductions the compiler vectorises. A plain `s += x[i]` loop is a serial dependency chain that GCC may not
// reorder without -ffast-math; `#pragma omp simd reduction` (we build with -fopenmp) allows exactly that
// reordering for these loops only. Sums accumulate in double for both f32 and f64. The result depends only on
// the build (vector width), not on the thread count.
#pragma once
#include <algorithm>
#include <cstdint>

#include "xfmr/kernels/cpu/vmath.h"

namespace xfmr::kern {

// Σ x[i]
template <class T>
inline double row_sum(const T* x, int64_t n) {
  double s = 0;
#pragma omp simd reduction(+ : s)
  for (int64_t i = 0; i < n; ++i) s += static_cast<double>(x[i]);
  return s;
}

// Σ (x[i] - mu)²
template <class T>
inline double row_sq_dev(const T* x, double mu, int64_t n) {
  double s = 0;
#pragma omp simd reduction(+ : s)
  for (int64_t i = 0; i < n; ++i) {
    const double d = static_cast<double>(x[i]) - mu;
    s += d * d;
  }
  return s;
}

// Σ a[i]·b[i]
template <class T>
inline double row_dot(const T* a, const T* b, int64_t n) {
  double s = 0;
#pragma omp simd reduction(+ : s)
  for (int64_t i = 0; i < n; ++i) s += static_cast<double>(a[i]) * static_cast<double>(b[i]);
  return s;
}

// Σ (a[i] - b[i])²
template <class T>
inline double row_sq_diff(const T* a, const T* b, int64_t n) {
  double s = 0;
#pragma omp simd reduction(+ : s)
  for (int64_t i = 0; i < n; ++i) {
    const double d = static_cast<double>(a[i]) - static_cast<double>(b[i]);
    s += d * d;
  }
  return s;
}

// max x[i] (n >= 1)
template <class T>
inline T row_max(const T* x, int64_t n) {
  T m = x[0];
#pragma omp simd reduction(max : m)
  for (int64_t i = 0; i < n; ++i) m = std::max(m, x[i]);
  return m;
}

// Σ exp(x[i] - shift), with the vectorisable exp of vmath.h
template <class T>
inline double row_exp_sum(const T* x, T shift, int64_t n) {
  double s = 0;
#pragma omp simd reduction(+ : s)
  for (int64_t i = 0; i < n; ++i) s += static_cast<double>(vmath::exp(x[i] - shift));
  return s;
}

}  // namespace xfmr::kern
