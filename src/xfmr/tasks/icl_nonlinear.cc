#include "xfmr/tasks/icl_nonlinear.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "xfmr/core/check.h"

namespace xfmr {

namespace {
void check_common(const char* op, int64_t batch, int64_t n_points, int64_t d, int64_t active_dims) {
  XF_CHECK(batch > 0 && n_points > 0 && d > 0, op, ": batch, n_points and d must be positive, got B=", batch,
           " n=", n_points, " d=", d);
  XF_CHECK(active_dims >= 0 && active_dims <= d, op, ": active_dims ", active_dims, " outside [0, d=", d, "]");
}

void zero_inactive(Tensor& xs, int64_t active_dims) {
  const int64_t rows = xs.size(0) * xs.size(1), d = xs.size(2);
  float* x = xs.data<float>();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = active_dims; j < d; ++j) x[r * d + j] = 0.0f;
}
}  // namespace

double eval_icl_tree(const IclTrees& trees, int64_t p, const float* x) {
  const int64_t internal = (int64_t{1} << trees.depth) - 1;
  const int64_t* f = trees.feature.data<int64_t>() + p * internal;
  const float* leaf = trees.leaf.data<float>() + p * (internal + 1);
  int64_t t = 0;
  for (int64_t level = 0; level < trees.depth; ++level) t = 2 * t + 1 + (x[f[t]] > 0.0f ? 1 : 0);
  return leaf[t - internal];
}

IclBatch sample_icl_decision_tree(int64_t batch, int64_t n_points, int64_t d, int64_t active_dims, int64_t depth,
                                  Generator& gen, IclTrees* out) {
  check_common("sample_icl_decision_tree", batch, n_points, d, active_dims);
  XF_CHECK(active_dims >= 1, "sample_icl_decision_tree: needs at least one active coordinate, got active_dims=",
           active_dims);
  XF_CHECK(depth >= 1 && depth <= 16, "sample_icl_decision_tree: depth must be in [1, 16], got ", depth);
  IclBatch b;
  b.xs = randn({batch, n_points, d}, DType::f32, gen);
  zero_inactive(b.xs, active_dims);
  IclTrees trees;
  trees.depth = depth;
  const int64_t internal = (int64_t{1} << depth) - 1;
  trees.leaf = randn({batch, internal + 1}, DType::f32, gen);
  trees.feature = Tensor::empty({batch, internal}, DType::i64);
  int64_t* f = trees.feature.data<int64_t>();
  for (int64_t i = 0; i < batch * internal; ++i) f[i] = gen.next_int(active_dims);
  b.w = Tensor::zeros({batch, d}, DType::f32);
  b.ys = Tensor::empty({batch, n_points}, DType::f32);
  const float* x = b.xs.data<float>();
  float* y = b.ys.data<float>();
  for (int64_t p = 0; p < batch; ++p)
    for (int64_t i = 0; i < n_points; ++i)
      y[p * n_points + i] = static_cast<float>(eval_icl_tree(trees, p, x + (p * n_points + i) * d));
  if (out) *out = trees;
  return b;
}

IclBatch sample_icl_relu2nn(int64_t batch, int64_t n_points, int64_t d, int64_t active_dims, int64_t hidden,
                            Generator& gen, IclReluNets* out) {
  check_common("sample_icl_relu2nn", batch, n_points, d, active_dims);
  XF_CHECK(hidden >= 1, "sample_icl_relu2nn: hidden must be positive, got ", hidden);
  IclBatch b;
  b.xs = randn({batch, n_points, d}, DType::f32, gen);
  zero_inactive(b.xs, active_dims);
  IclReluNets nets;
  nets.w1 = randn({batch, d, hidden}, DType::f32, gen);
  nets.a = randn({batch, hidden}, DType::f32, gen);
  const float scale = static_cast<float>(std::sqrt(2.0 / static_cast<double>(hidden)));
  float* a = nets.a.data<float>();
  for (int64_t i = 0; i < batch * hidden; ++i) a[i] *= scale;
  b.w = Tensor::zeros({batch, d}, DType::f32);
  b.ys = Tensor::empty({batch, n_points}, DType::f32);
  const float* x = b.xs.data<float>();
  const float* w1 = nets.w1.data<float>();
  float* y = b.ys.data<float>();
  std::vector<double> z(hidden);
  for (int64_t p = 0; p < batch; ++p)
    for (int64_t i = 0; i < n_points; ++i) {
      const float* xi = x + (p * n_points + i) * d;
      std::fill(z.begin(), z.end(), 0.0);
      for (int64_t j = 0; j < active_dims; ++j) {
        const float* row = w1 + (p * d + j) * hidden;
        for (int64_t h = 0; h < hidden; ++h) z[h] += static_cast<double>(xi[j]) * row[h];
      }
      double s = 0.0;
      for (int64_t h = 0; h < hidden; ++h)
        if (z[h] > 0.0) s += static_cast<double>(a[p * hidden + h]) * z[h];
      y[p * n_points + i] = static_cast<float>(s);
    }
  if (out) *out = nets;
  return b;
}

}  // namespace xfmr
