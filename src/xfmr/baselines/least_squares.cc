#include "xfmr/baselines/least_squares.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "xfmr/core/check.h"

namespace xfmr {
namespace {

double dot(const double* a, const double* b, int64_t n) {
  double s = 0.0;
  for (int64_t i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

// Householder reflector H = I − tau·v·vᵀ with H x = (alpha, 0, ..., 0). Overwrites x[0..len) with v (v_0 = x_0 −
// alpha, choosing alpha = −sign(x_0)‖x‖ so that v_0 suffers no cancellation) and returns alpha.
double make_reflector(double* x, int64_t len, double& tau) {
  const double sq = dot(x, x, len);
  if (sq == 0.0) {
    tau = 0.0;
    return 0.0;
  }
  const double norm = std::sqrt(sq);
  const double alpha = x[0] >= 0.0 ? -norm : norm;
  // vᵀv = ‖x‖² − 2·alpha·x_0 + alpha² = 2‖x‖(‖x‖ + |x_0|).
  const double vv = 2.0 * norm * (norm + std::fabs(x[0]));
  x[0] -= alpha;
  tau = 2.0 / vv;
  return alpha;
}

// y <- (I − tau·v·vᵀ) y
void apply_reflector(const double* v, double tau, double* y, int64_t len) {
  if (tau == 0.0) return;
  const double s = tau * dot(v, y, len);
  for (int64_t i = 0; i < len; ++i) y[i] -= s * v[i];
}

}  // namespace

int64_t lstsq_min_norm_colmajor(double* a, double* b, int64_t m, int64_t n, double rcond, LstsqScratch& s,
                                double* w) {
  std::fill(w, w + n, 0.0);
  const int64_t t = std::min(m, n);
  if (t == 0) return 0;
  if (rcond < 0.0) rcond = std::numeric_limits<double>::epsilon() * static_cast<double>(std::max(m, n));
  s.perm.resize(n);
  s.rdiag.resize(t);
  s.tau.resize(t);
  for (int64_t j = 0; j < n; ++j) s.perm[j] = j;

  // 1. QR with column pivoting: at step j the column of largest remaining norm (rows j..m-1) moves to position j,
  //    so |R_jj| is non-increasing and the first small one reveals the rank (Businger & Golub 1965). Norms are
  //    recomputed rather than downdated: exact, and cheap at prompt sizes.
  int64_t r = 0;
  double r00 = 0.0;
  for (int64_t j = 0; j < t; ++j) {
    int64_t p = j;
    double best = -1.0;
    for (int64_t c = j; c < n; ++c) {
      const double* col = a + c * m + j;
      const double nrm = dot(col, col, m - j);
      if (nrm > best) best = nrm, p = c;
    }
    const double norm = std::sqrt(best);
    if (j == 0) r00 = norm;
    if (norm == 0.0 || norm <= rcond * r00) break;
    if (p != j) {
      std::swap_ranges(a + p * m, a + (p + 1) * m, a + j * m);
      std::swap(s.perm[p], s.perm[j]);
    }
    double* v = a + j * m + j;
    s.rdiag[j] = make_reflector(v, m - j, s.tau[j]);
    for (int64_t c = j + 1; c < n; ++c) apply_reflector(v, s.tau[j], a + c * m + j, m - j);
    apply_reflector(v, s.tau[j], b + j, m - j);
    r = j + 1;
  }
  if (r == 0) return 0;
  // R(i, c) for c > i lives at a[c*m + i]; R(i, i) in rdiag; (Qᵀb)_{0..r-1} in b.
  s.z.assign(n, 0.0);
  double* z = s.z.data();

  if (r == n) {
    // 2a. Full column rank: back-substitution R z = Qᵀb.
    for (int64_t i = r - 1; i >= 0; --i) {
      double acc = b[i];
      for (int64_t c = i + 1; c < n; ++c) acc -= a[c * m + i] * z[c];
      z[i] = acc / s.rdiag[i];
    }
  } else {
    // 2b. Rank deficient (or k < d): the minimum-norm solution of [R11 R12] z = c. QR of Mᵀ = [R11 R12]ᵀ (n × r,
    //     column-major) gives Mᵀ = Q2 [L; 0], so M = [Lᵀ 0] Q2ᵀ; solve Lᵀ u = c and set z = Q2 [u; 0].
    s.m.assign(n * r, 0.0);
    s.mtau.resize(r);
    double* mt = s.m.data();  // column i of Mᵀ = row i of M
    for (int64_t i = 0; i < r; ++i) {
      mt[i * n + i] = s.rdiag[i];
      for (int64_t c = i + 1; c < n; ++c) mt[i * n + c] = a[c * m + i];
    }
    // L(i, i) overwrites the reflector's slot: keep the diagonal apart in rdiag (no longer needed for R).
    for (int64_t i = 0; i < r; ++i) {
      double* v = mt + i * n + i;
      s.rdiag[i] = make_reflector(v, n - i, s.mtau[i]);
      for (int64_t c = i + 1; c < r; ++c) apply_reflector(v, s.mtau[i], mt + c * n + i, n - i);
    }
    // Forward substitution Lᵀ u = c: (Lᵀ)(i, j) = L(j, i) = mt[i*n + j] for j < i.
    for (int64_t i = 0; i < r; ++i) {
      double acc = b[i];
      for (int64_t j = 0; j < i; ++j) acc -= mt[i * n + j] * z[j];
      z[i] = acc / s.rdiag[i];
    }
    // z = H_0 H_1 ... H_{r-1} [u; 0]: apply the reflectors last to first.
    for (int64_t i = r - 1; i >= 0; --i) apply_reflector(mt + i * n + i, s.mtau[i], z + i, n - i);
  }
  for (int64_t j = 0; j < n; ++j) w[s.perm[j]] = z[j];
  return r;
}

int64_t LeastSquares::fit(const IclContext& ctx, double* w) {
  XF_CHECK(ctx.k >= 0 && ctx.d > 0, "least_squares: bad context k=", ctx.k, " d=", ctx.d);
  const int64_t k = ctx.k, d = ctx.d;
  s_.a.resize(k * d);
  s_.b.assign(ctx.y, ctx.y + k);
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = 0; j < d; ++j) s_.a[j * k + i] = ctx.x[i * d + j];
  return lstsq_min_norm_colmajor(s_.a.data(), s_.b.data(), k, d, rcond_, s_, w);
}

double LeastSquares::operator()(const IclContext& ctx, const double* x_query) {
  if (ctx.k == 0) return 0.0;
  w_.resize(ctx.d);
  fit(ctx, w_.data());
  return dot(w_.data(), x_query, ctx.d);
}

}  // namespace xfmr
