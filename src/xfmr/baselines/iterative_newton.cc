#include "xfmr/baselines/iterative_newton.h"

#include <algorithm>
#include <cmath>

#include "xfmr/core/check.h"

namespace xfmr {

IterativeNewton::IterativeNewton(int64_t iterations) : iterations_(iterations) {
  XF_CHECK(iterations >= 0, "iterative_newton: iterations must be >= 0, got ", iterations);
}

namespace {
// c = a·b for square [d, d] row-major matrices.
void matmul(const double* a, const double* b, double* c, int64_t d) {
  std::fill(c, c + d * d, 0.0);
  for (int64_t i = 0; i < d; ++i)
    for (int64_t l = 0; l < d; ++l) {
      const double ail = a[i * d + l];
      for (int64_t j = 0; j < d; ++j) c[i * d + j] += ail * b[l * d + j];
    }
}
}  // namespace

void IterativeNewton::fit(const IclContext& ctx, double* w, double* m_out) {
  const int64_t k = ctx.k, d = ctx.d;
  s_.assign(d * d, 0.0);
  xty_.assign(d, 0.0);
  for (int64_t i = 0; i < k; ++i) {
    const double* xi = ctx.x + i * d;
    for (int64_t a = 0; a < d; ++a) {
      xty_[a] += xi[a] * ctx.y[i];
      for (int64_t b = 0; b < d; ++b) s_[a * d + b] += xi[a] * xi[b];
    }
  }
  // ‖S‖₁ (max column sum) = ‖S‖_∞ for symmetric S.
  double norm1 = 0.0;
  for (int64_t b = 0; b < d; ++b) {
    double c = 0.0;
    for (int64_t a = 0; a < d; ++a) c += std::fabs(s_[a * d + b]);
    norm1 = std::max(norm1, c);
  }
  m_.assign(d * d, 0.0);
  if (norm1 > 0.0) {
    const double alpha = 1.0 / (norm1 * norm1);
    for (int64_t i = 0; i < d * d; ++i) m_[i] = alpha * s_[i];
    t_.resize(d * d);
    u_.resize(d * d);
    for (int64_t it = 0; it < iterations_; ++it) {
      matmul(s_.data(), m_.data(), t_.data(), d);  // T = S M
      for (int64_t i = 0; i < d * d; ++i) t_[i] = -t_[i];
      for (int64_t i = 0; i < d; ++i) t_[i * d + i] += 2.0;  // T = 2I − S M
      matmul(m_.data(), t_.data(), u_.data(), d);   // M (2I − S M)
      m_.swap(u_);
    }
  }
  for (int64_t a = 0; a < d; ++a) {
    double s = 0.0;
    for (int64_t b = 0; b < d; ++b) s += m_[a * d + b] * xty_[b];
    w[a] = s;
  }
  if (m_out) std::copy(m_.begin(), m_.end(), m_out);
}

double IterativeNewton::operator()(const IclContext& ctx, const double* x_query) {
  w_.resize(ctx.d);
  fit(ctx, w_.data());
  double s = 0.0;
  for (int64_t j = 0; j < ctx.d; ++j) s += w_[j] * x_query[j];
  return s;
}

}  // namespace xfmr
