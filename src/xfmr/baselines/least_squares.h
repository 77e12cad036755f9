// Minimum-norm least squares, w = X⁺y (the Moore–Penrose pseudo-inverse): the Bayes-optimal predictor for
// noiseless linear regression with w ~ N(0, I) (Garg et al. 2022, §3: for k < d it is the minimum-norm
// interpolant, whose expected normalised error on a fresh x is (d − k)/d).
//
// Solved by a complete orthogonal decomposition (as LAPACK's xGELSY): Householder QR with column pivoting,
// X P = Q [R11 R12; 0 0], rank r = number of |R_jj| > rcond·|R_00|; if r < d, a second QR of [R11 R12]ᵀ gives
// [R11 R12] = [Lᵀ 0] Zᵀ, and the minimum-norm solution is w = P Z [L⁻ᵀ (Qᵀy)_{1..r}; 0]. Never forms XᵀX, so
// the error grows with cond(X), not cond(X)².
#pragma once
#include <cstdint>
#include <vector>

#include "xfmr/baselines/context.h"

namespace xfmr {

// Scratch for lstsq_min_norm (reused across calls so a warm solver does not allocate).
struct LstsqScratch {
  std::vector<double> a, b, tau, rdiag, m, mtau, z;
  std::vector<int64_t> perm;
};

// Minimum-norm solution of min_w ‖A w − b‖ for A [m, n] in column-major order (column j at a + j·m; destroyed)
// and b [m] (destroyed); writes w [n] and returns the numerical rank. rcond < 0 means eps·max(m, n).
int64_t lstsq_min_norm_colmajor(double* a, double* b, int64_t m, int64_t n, double rcond, LstsqScratch& s,
                                double* w);

class LeastSquares {
 public:
  explicit LeastSquares(double rcond = -1.0) : rcond_(rcond) {}
  // w [ctx.d] = X⁺y; returns the rank of X. k = 0 gives w = 0.
  int64_t fit(const IclContext& ctx, double* w);
  // w·x_query with w = X⁺y (0 when k = 0).
  double operator()(const IclContext& ctx, const double* x_query);

 private:
  double rcond_;
  LstsqScratch s_;
  std::vector<double> w_;
};

}  // namespace xfmr
