#include "xfmr/tasks/icl_representation.h"

#include <algorithm>
#include <cmath>

#include "xfmr/core/check.h"

namespace xfmr {

IclRepresentation::IclRepresentation(int64_t d, int64_t width, int64_t depth, uint64_t seed)
    : d_(d), width_(width), depth_(depth) {
  XF_CHECK(d >= 1, "IclRepresentation: d must be positive, got ", d);
  XF_CHECK(width >= 1 && width <= 4096, "IclRepresentation: width (task.phi_width) must be in [1, 4096], got ", width);
  XF_CHECK(depth >= 1 && depth <= 16, "IclRepresentation: depth (task.phi_depth) must be in [1, 16], got ", depth);
  Generator g(seed);
  for (int64_t l = 0; l < depth; ++l) {
    const int64_t fan_in = l == 0 ? d : width;
    const double scale = std::sqrt(2.0 / static_cast<double>(fan_in));  // He: keeps E[feature²] ≈ 1 per layer
    std::vector<double> w(static_cast<size_t>(width * fan_in));
    for (double& v : w) v = scale * g.next_normal();
    w_.push_back(std::move(w));
  }
}

void IclRepresentation::apply(const double* x, double* out, double* scratch) const {
  const double* in = x;
  int64_t fan_in = d_;
  for (int64_t l = 0; l < depth_; ++l) {
    double* dst = l + 1 == depth_ ? out : scratch + (l % 2) * width_;
    const double* w = w_[static_cast<size_t>(l)].data();
    for (int64_t i = 0; i < width_; ++i) {
      double s = 0.0;
      for (int64_t j = 0; j < fan_in; ++j) s += w[i * fan_in + j] * in[j];
      dst[i] = s > 0.0 ? s : 0.0;
    }
    in = dst;
    fan_in = width_;
  }
}

IclBatch sample_icl_fixed_representation(int64_t batch, int64_t n_points, int64_t d, int64_t active_dims,
                                         const IclRepresentation& phi, double noise_std, Generator& gen,
                                         Tensor* readout) {
  XF_CHECK(batch > 0 && n_points > 0 && d > 0, "sample_icl_fixed_representation: batch, n_points and d must be ",
           "positive, got B=", batch, " n=", n_points, " d=", d);
  XF_CHECK(active_dims >= 0 && active_dims <= d, "sample_icl_fixed_representation: active_dims ", active_dims,
           " outside [0, d=", d, "]");
  XF_CHECK(phi.d() == d, "sample_icl_fixed_representation: the representation takes d=", phi.d(),
           " inputs, prompts have d=", d);
  XF_CHECK(noise_std >= 0 && std::isfinite(noise_std), "sample_icl_fixed_representation: noise_std must be finite ",
           "and >= 0, got ", noise_std);
  const int64_t D = phi.width();
  IclBatch b;
  b.xs = randn({batch, n_points, d}, DType::f32, gen);
  Tensor w = randn({batch, D}, DType::f32, gen);
  Tensor noise = randn({batch, n_points}, DType::f32, gen);
  float* x = b.xs.data<float>();
  for (int64_t r = 0; r < batch * n_points; ++r)
    for (int64_t j = active_dims; j < d; ++j) x[r * d + j] = 0.0f;
  b.w = Tensor::zeros({batch, d}, DType::f32);
  b.ys = Tensor::empty({batch, n_points}, DType::f32);
  std::vector<double> xd(static_cast<size_t>(d)), feat(static_cast<size_t>(D)), scratch(static_cast<size_t>(2 * D));
  const float* wp = w.data<float>();
  const float* np = noise.data<float>();
  float* y = b.ys.data<float>();
  for (int64_t p = 0; p < batch; ++p)
    for (int64_t i = 0; i < n_points; ++i) {
      const float* xi = x + (p * n_points + i) * d;
      for (int64_t j = 0; j < d; ++j) xd[j] = xi[j];
      phi.apply(xd.data(), feat.data(), scratch.data());
      double s = 0.0;
      for (int64_t j = 0; j < D; ++j) s += static_cast<double>(wp[p * D + j]) * feat[j];
      y[p * n_points + i] = static_cast<float>(s + noise_std * np[p * n_points + i]);
    }
  if (readout) *readout = w;
  return b;
}

}  // namespace xfmr
