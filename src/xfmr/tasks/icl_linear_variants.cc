#include "xfmr/tasks/icl_linear_variants.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "xfmr/core/check.h"

namespace xfmr {

namespace {
void check_common(const char* op, int64_t batch, int64_t n_points, int64_t d, int64_t active_dims, double noise_std) {
  XF_CHECK(batch > 0 && n_points > 0 && d > 0, op, ": batch, n_points and d must be positive, got B=", batch,
           " n=", n_points, " d=", d);
  XF_CHECK(active_dims >= 0 && active_dims <= d, op, ": active_dims ", active_dims, " outside [0, d=", d, "]");
  XF_CHECK(noise_std >= 0.0, op, ": noise_std must be non-negative, got ", noise_std);
}

// y[p, i] = Σ_j w[p, j] x[p, i, j] + noise_std·e[p, i], in double.
void linear_labels(const IclBatch& b, const Tensor& noise, double noise_std) {
  const int64_t B = b.xs.size(0), n = b.xs.size(1), d = b.xs.size(2);
  const float* x = b.xs.data<float>();
  const float* w = b.w.data<float>();
  const float* e = noise.data<float>();
  float* y = b.ys.data<float>();
  for (int64_t p = 0; p < B; ++p)
    for (int64_t i = 0; i < n; ++i) {
      double s = 0.0;
      for (int64_t j = 0; j < d; ++j) s += static_cast<double>(w[p * d + j]) * x[(p * n + i) * d + j];
      y[p * n + i] = static_cast<float>(s + noise_std * static_cast<double>(e[p * n + i]));
    }
}
}  // namespace

IclBatch sample_icl_sparse_linear(int64_t batch, int64_t n_points, int64_t d, int64_t active_dims,
                                  int64_t sparsity, double noise_std, Generator& gen) {
  check_common("sample_icl_sparse_linear", batch, n_points, d, active_dims, noise_std);
  XF_CHECK(sparsity >= 1 && sparsity <= d, "sample_icl_sparse_linear: sparsity must be in [1, d = ", d, "], got ",
           sparsity);
  IclBatch b;
  b.xs = randn({batch, n_points, d}, DType::f32, gen);
  b.w = randn({batch, d}, DType::f32, gen);
  Tensor noise = randn({batch, n_points}, DType::f32, gen);
  b.ys = Tensor::empty({batch, n_points}, DType::f32);
  float* x = b.xs.data<float>();
  float* w = b.w.data<float>();
  const int64_t s = std::min(sparsity, active_dims);
  std::vector<int64_t> perm(active_dims);
  std::vector<char> keep(d);
  for (int64_t p = 0; p < batch; ++p) {
    std::iota(perm.begin(), perm.end(), int64_t{0});
    for (int64_t i = 0; i < s; ++i) std::swap(perm[i], perm[i + gen.next_int(active_dims - i)]);
    std::fill(keep.begin(), keep.end(), 0);
    for (int64_t i = 0; i < s; ++i) keep[perm[i]] = 1;
    for (int64_t j = 0; j < d; ++j)
      if (!keep[j]) w[p * d + j] = 0.0f;
    for (int64_t i = 0; i < n_points; ++i)
      for (int64_t j = active_dims; j < d; ++j) x[(p * n_points + i) * d + j] = 0.0f;
  }
  linear_labels(b, noise, noise_std);
  return b;
}

std::vector<double> ill_conditioned_eigenvalues(int64_t a, double kappa) {
  XF_CHECK(a >= 1 && kappa >= 1.0 && std::isfinite(kappa), "ill_conditioned_eigenvalues: need a >= 1 and finite ",
           "kappa >= 1, got a=", a, " kappa=", kappa);
  std::vector<double> lam(a, 1.0);
  double sum = 0.0;
  for (int64_t i = 0; i < a; ++i) {
    lam[i] = a == 1 ? 1.0 : std::pow(kappa, -static_cast<double>(i) / static_cast<double>(a - 1));
    sum += lam[i];
  }
  for (double& l : lam) l *= static_cast<double>(a) / sum;
  return lam;
}

IclBatch sample_icl_ill_conditioned_linear(int64_t batch, int64_t n_points, int64_t d, int64_t active_dims,
                                           double kappa, double noise_std, Generator& gen) {
  check_common("sample_icl_ill_conditioned_linear", batch, n_points, d, active_dims, noise_std);
  XF_CHECK(kappa >= 1.0 && std::isfinite(kappa), "sample_icl_ill_conditioned_linear: kappa must be finite and >= 1, ",
           "got ", kappa);
  IclBatch b;
  Tensor z = randn({batch, n_points, d}, DType::f32, gen);
  b.w = randn({batch, d}, DType::f32, gen);
  Tensor noise = randn({batch, n_points}, DType::f32, gen);
  Tensor gm = randn({batch, d, d}, DType::f32, gen);
  b.xs = Tensor::zeros({batch, n_points, d}, DType::f32);
  b.ys = Tensor::empty({batch, n_points}, DType::f32);
  const int64_t a = active_dims;
  float* w = b.w.data<float>();
  for (int64_t p = 0; p < batch; ++p)
    for (int64_t j = a; j < d; ++j) w[p * d + j] = 0.0f;
  if (a > 0) {
    const std::vector<double> lam = ill_conditioned_eigenvalues(a, kappa);
    std::vector<double> q(a * a);  // columns of U, row-major [a, a]
    const float* zz = z.data<float>();
    const float* g = gm.data<float>();
    float* x = b.xs.data<float>();
    for (int64_t p = 0; p < batch; ++p) {
      for (int64_t i = 0; i < a; ++i)
        for (int64_t j = 0; j < a; ++j) q[i * a + j] = g[(p * d + i) * d + j];
      // Modified Gram–Schmidt on the columns (twice for orthogonality to rounding); the sign of R_jj is that of
      // the first pass's projection, so U = Q·diag(sign(R_jj)) is Haar-distributed (Mezzadri 2007).
      for (int pass = 0; pass < 2; ++pass)
        for (int64_t j = 0; j < a; ++j) {
          for (int64_t i = 0; i < j; ++i) {
            double s = 0.0;
            for (int64_t l = 0; l < a; ++l) s += q[l * a + i] * q[l * a + j];
            for (int64_t l = 0; l < a; ++l) q[l * a + j] -= s * q[l * a + i];
          }
          double s = 0.0;
          for (int64_t l = 0; l < a; ++l) s += q[l * a + j] * q[l * a + j];
          s = std::sqrt(s);
          XF_CHECK(s > 0.0, "sample_icl_ill_conditioned_linear: degenerate Gaussian matrix");
          for (int64_t l = 0; l < a; ++l) q[l * a + j] /= s;
        }
      // Gram–Schmidt gives R_jj = ‖projection‖ > 0 already: Q is the QR factor with positive diagonal.
      for (int64_t i = 0; i < n_points; ++i) {
        const float* zi = zz + (p * n_points + i) * d;
        float* xi = x + (p * n_points + i) * d;
        for (int64_t l = 0; l < a; ++l) {
          double s = 0.0;
          for (int64_t j = 0; j < a; ++j) s += q[l * a + j] * std::sqrt(lam[j]) * static_cast<double>(zi[j]);
          xi[l] = static_cast<float>(s);
        }
      }
    }
  }
  linear_labels(b, noise, noise_std);
  return b;
}

}  // namespace xfmr
