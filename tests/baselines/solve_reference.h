// Independent reference solvers for the baseline tests: Gaussian elimination with partial pivoting in long double
// on small dense systems, and small helpers for random matrices. Written separately from the library's QR code so
// that agreement means something.
#pragma once
#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

#include "xfmr/core/rng.h"

namespace xfmr::test {

using Mat = std::vector<long double>;  // row-major

// Solves A x = b for square A [n, n] (row-major); A and b by value (destroyed copies).
inline std::vector<long double> gauss_solve(Mat a, std::vector<long double> b, int64_t n) {
  for (int64_t c = 0; c < n; ++c) {
    int64_t p = c;
    for (int64_t r = c + 1; r < n; ++r)
      if (std::fabs(a[r * n + c]) > std::fabs(a[p * n + c])) p = r;
    if (p != c) {
      for (int64_t j = 0; j < n; ++j) std::swap(a[c * n + j], a[p * n + j]);
      std::swap(b[c], b[p]);
    }
    for (int64_t r = c + 1; r < n; ++r) {
      const long double f = a[r * n + c] / a[c * n + c];
      for (int64_t j = c; j < n; ++j) a[r * n + j] -= f * a[c * n + j];
      b[r] -= f * b[c];
    }
  }
  std::vector<long double> x(n);
  for (int64_t i = n - 1; i >= 0; --i) {
    long double s = b[i];
    for (int64_t j = i + 1; j < n; ++j) s -= a[i * n + j] * x[j];
    x[i] = s / a[i * n + i];
  }
  return x;
}

// Normal-equation solution (XᵀX + λI) w = Xᵀy for X [k, d] row-major, in long double.
inline std::vector<long double> normal_solve(const std::vector<double>& x, const std::vector<double>& y, int64_t k,
                                             int64_t d, long double lambda) {
  Mat a(d * d, 0.0L);
  std::vector<long double> b(d, 0.0L);
  for (int64_t i = 0; i < k; ++i)
    for (int64_t p = 0; p < d; ++p) {
      b[p] += static_cast<long double>(x[i * d + p]) * y[i];
      for (int64_t q = 0; q < d; ++q) a[p * d + q] += static_cast<long double>(x[i * d + p]) * x[i * d + q];
    }
  for (int64_t p = 0; p < d; ++p) a[p * d + p] += lambda;
  return gauss_solve(std::move(a), std::move(b), d);
}

// Minimum-norm interpolant for k <= d with full row rank: w = Xᵀ(XXᵀ)⁻¹y, in long double.
inline std::vector<long double> min_norm_solve(const std::vector<double>& x, const std::vector<double>& y,
                                               int64_t k, int64_t d) {
  Mat g(k * k, 0.0L);
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = 0; j < k; ++j)
      for (int64_t p = 0; p < d; ++p) g[i * k + j] += static_cast<long double>(x[i * d + p]) * x[j * d + p];
  std::vector<long double> yy(y.begin(), y.begin() + k);
  const std::vector<long double> a = gauss_solve(std::move(g), std::move(yy), k);
  std::vector<long double> w(d, 0.0L);
  for (int64_t i = 0; i < k; ++i)
    for (int64_t p = 0; p < d; ++p) w[p] += a[i] * x[i * d + p];
  return w;
}

inline std::vector<double> randn_vec(int64_t n, Generator& g) {
  std::vector<double> v(n);
  for (double& x : v) x = g.next_normal();
  return v;
}

// A random matrix [m, n] with orthonormal columns (m >= n): modified Gram–Schmidt, twice, in long double.
inline std::vector<double> random_orthonormal(int64_t m, int64_t n, Generator& g) {
  std::vector<long double> q(m * n);
  for (auto& v : q) v = g.next_normal();
  for (int pass = 0; pass < 2; ++pass)
    for (int64_t j = 0; j < n; ++j) {
      for (int64_t i = 0; i < j; ++i) {
        long double s = 0.0L;
        for (int64_t r = 0; r < m; ++r) s += q[r * n + i] * q[r * n + j];
        for (int64_t r = 0; r < m; ++r) q[r * n + j] -= s * q[r * n + i];
      }
      long double s = 0.0L;
      for (int64_t r = 0; r < m; ++r) s += q[r * n + j] * q[r * n + j];
      s = std::sqrt(s);
      for (int64_t r = 0; r < m; ++r) q[r * n + j] /= s;
    }
  return std::vector<double>(q.begin(), q.end());
}

}  // namespace xfmr::test
