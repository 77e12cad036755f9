// Row reductions with 8 independent accumulators, so the compiler can vectorise them without -ffast-math (a single
// running sum is a serial dependency chain it may not reorder). Accumulates in double for both f32 and f64.
#pragma once
#include <cstdint>

namespace xfmr::kern {

// Σ x[i]
template <class T>
inline double row_sum(const T* x, int64_t n) {
  double acc[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) acc[k] += static_cast<double>(x[i + k]);
  double s = 0;
  for (; i < n; ++i) s += static_cast<double>(x[i]);
  for (int k = 0; k < 8; ++k) s += acc[k];
  return s;
}

// Σ (x[i] - mu)²
template <class T>
inline double row_sq_dev(const T* x, double mu, int64_t n) {
  double acc[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) {
      const double d = static_cast<double>(x[i + k]) - mu;
      acc[k] += d * d;
    }
  double s = 0;
  for (; i < n; ++i) {
    const double d = static_cast<double>(x[i]) - mu;
    s += d * d;
  }
  for (int k = 0; k < 8; ++k) s += acc[k];
  return s;
}

// Σ a[i]·b[i]
template <class T>
inline double row_dot(const T* a, const T* b, int64_t n) {
  double acc[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) acc[k] += static_cast<double>(a[i + k]) * static_cast<double>(b[i + k]);
  double s = 0;
  for (; i < n; ++i) s += static_cast<double>(a[i]) * static_cast<double>(b[i]);
  for (int k = 0; k < 8; ++k) s += acc[k];
  return s;
}

// max x[i] (n >= 1)
template <class T>
inline T row_max(const T* x, int64_t n) {
  T acc[8];
  for (int k = 0; k < 8; ++k) acc[k] = x[0];
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) acc[k] = x[i + k] > acc[k] ? x[i + k] : acc[k];
  T m = x[0];
  for (; i < n; ++i) m = x[i] > m ? x[i] : m;
  for (int k = 0; k < 8; ++k) m = acc[k] > m ? acc[k] : m;
  return m;
}

}  // namespace xfmr::kern
