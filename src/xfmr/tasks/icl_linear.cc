#include "xfmr/tasks/icl_linear.h"

#include <algorithm>

#include "xfmr/core/check.h"

namespace xfmr {

std::pair<int64_t, int64_t> Curriculum::at(int64_t step) const {
  XF_CHECK(interval > 0, "Curriculum::at: interval must be positive, got ", interval);
  XF_CHECK(step >= 0, "Curriculum::at: step must be non-negative, got ", step);
  const int64_t n = step / interval;
  // Saturating: start + inc * n can overflow for huge steps; compare before multiplying.
  auto grow = [n](int64_t start, int64_t end, int64_t inc) {
    if (inc <= 0 || start >= end) return std::min(start, end);
    const int64_t need = (end - start + inc - 1) / inc;  // increments to reach end
    return n >= need ? end : start + inc * n;
  };
  return {grow(dims_start, dims_end, dims_inc), grow(points_start, points_end, points_inc)};
}

Curriculum Curriculum::garg_default(int64_t d, int64_t n_points, int64_t interval) {
  XF_CHECK(d > 0 && n_points > 0 && interval > 0, "Curriculum::garg_default: d, n_points and interval must be ",
           "positive, got d=", d, " n_points=", n_points, " interval=", interval);
  Curriculum c;
  c.dims_start = std::min<int64_t>(5, d);
  c.dims_end = d;
  c.dims_inc = 1;
  c.points_start = std::min<int64_t>(2 * c.dims_start + 1, n_points);
  c.points_end = n_points;
  c.points_inc = 2;
  c.interval = interval;
  return c;
}

Curriculum Curriculum::fixed(int64_t d, int64_t n_points) {
  return Curriculum{d, d, 0, n_points, n_points, 0, 1};
}

IclBatch sample_icl_linear(int64_t batch, int64_t n_points, int64_t d, int64_t active_dims, double noise_std,
                           Generator& gen) {
  XF_CHECK(batch > 0 && n_points > 0 && d > 0, "sample_icl_linear: batch, n_points and d must be positive, got B=",
           batch, " n=", n_points, " d=", d);
  XF_CHECK(active_dims >= 0 && active_dims <= d, "sample_icl_linear: active_dims ", active_dims,
           " outside [0, d=", d, "]");
  XF_CHECK(noise_std >= 0.0, "sample_icl_linear: noise_std must be non-negative, got ", noise_std);
  IclBatch b;
  b.xs = randn({batch, n_points, d}, DType::f32, gen);
  b.w = randn({batch, d}, DType::f32, gen);
  Tensor noise = randn({batch, n_points}, DType::f32, gen);
  b.ys = Tensor::empty({batch, n_points}, DType::f32);
  float* x = b.xs.data<float>();
  float* w = b.w.data<float>();
  const float* e = noise.data<float>();
  float* y = b.ys.data<float>();
  for (int64_t p = 0; p < batch; ++p) {
    float* wp = w + p * d;
    for (int64_t j = active_dims; j < d; ++j) wp[j] = 0.0f;
    for (int64_t i = 0; i < n_points; ++i) {
      float* xi = x + (p * n_points + i) * d;
      for (int64_t j = active_dims; j < d; ++j) xi[j] = 0.0f;
      double s = 0.0;
      for (int64_t j = 0; j < active_dims; ++j) s += static_cast<double>(wp[j]) * xi[j];
      const int64_t idx = p * n_points + i;
      y[idx] = static_cast<float>(s + noise_std * static_cast<double>(e[idx]));
    }
  }
  return b;
}

Tensor interleave_prompt(const IclBatch& b) {
  check_defined(b.xs, "interleave_prompt");
  check_defined(b.ys, "interleave_prompt");
  XF_CHECK(b.xs.dim() == 3 && b.ys.dim() == 2 && b.xs.size(0) == b.ys.size(0) && b.xs.size(1) == b.ys.size(1),
           "interleave_prompt: expected xs [B, n, d] and ys [B, n], got xs ", b.xs.shape().str(), " and ys ",
           b.ys.shape().str());
  const int64_t B = b.xs.size(0), n = b.xs.size(1), d = b.xs.size(2);
  Tensor xs = b.xs.dtype() == DType::f32 && b.xs.is_contiguous() ? b.xs : b.xs.converted(DType::f32);
  Tensor ys = b.ys.dtype() == DType::f32 && b.ys.is_contiguous() ? b.ys : b.ys.converted(DType::f32);
  Tensor z = Tensor::zeros({B, 2 * n, d}, DType::f32);
  const float* x = xs.data<float>();
  const float* y = ys.data<float>();
  float* out = z.data<float>();
  for (int64_t p = 0; p < B; ++p)
    for (int64_t i = 0; i < n; ++i) {
      float* row = out + (p * 2 * n + 2 * i) * d;
      std::copy(x + (p * n + i) * d, x + (p * n + i + 1) * d, row);
      row[d] = y[p * n + i];  // first coordinate of the next row (2i + 1)
    }
  return z;
}

}  // namespace xfmr
