#include "xfmr/eval/error_curve.h"

#include <algorithm>
#include <array>
#include <cmath>

#include "xfmr/core/check.h"
#include "xfmr/core/parallel.h"
#include "xfmr/core/rng.h"

namespace xfmr {
namespace {

void check_prompts(const IclBatch& b, const char* op) {
  check_defined(b.xs, op);
  check_defined(b.ys, op);
  XF_CHECK(b.xs.dim() == 3 && b.ys.dim() == 2 && b.xs.size(0) == b.ys.size(0) && b.xs.size(1) == b.ys.size(1),
           op, ": expected xs [P, n, d] and ys [P, n], got xs ", b.xs.shape().str(), " and ys ",
           b.ys.shape().str());
}

// Linear interpolation between order statistics (the common "type 7" percentile).
double percentile_sorted(const std::vector<double>& v, double q) {
  const double h = q * static_cast<double>(v.size() - 1);
  const size_t i = static_cast<size_t>(std::floor(h));
  if (i + 1 >= v.size()) return v.back();
  return v[i] + (h - static_cast<double>(i)) * (v[i + 1] - v[i]);
}

}  // namespace

Tensor predict_all(const IclPredictor& predictor, const IclBatch& prompts) {
  check_prompts(prompts, "predict_all");
  const int64_t P = prompts.xs.size(0), n = prompts.xs.size(1), d = prompts.xs.size(2);
  const std::vector<double> xs = prompts.xs.to_vector(), ys = prompts.ys.to_vector();
  Tensor out = Tensor::empty({P, n}, DType::f64);
  double* o = out.data<double>();
  parallel_for(P, 64, [&](int64_t p0, int64_t p1) {
    IclPredictor f = predictor;  // own scratch per thread
    for (int64_t p = p0; p < p1; ++p) {
      const double* x = xs.data() + p * n * d;
      const double* y = ys.data() + p * n;
      for (int64_t k = 0; k < n; ++k) o[p * n + k] = f(IclContext{x, y, k, d}, x + k * d);
    }
  });
  return out;
}

Tensor squared_errors(const Tensor& predictions, const Tensor& ys, int64_t d) {
  check_defined(predictions, "squared_errors");
  check_defined(ys, "squared_errors");
  XF_CHECK(predictions.dim() == 2 && predictions.shape() == ys.shape(),
           "squared_errors: predictions must be [P, n] like ys, got predictions ", predictions.shape().str(),
           " and ys ", ys.shape().str());
  XF_CHECK(d > 0, "squared_errors: d must be positive, got ", d);
  const std::vector<double> p = predictions.to_vector(), y = ys.to_vector();
  std::vector<double> e(p.size());
  for (size_t i = 0; i < p.size(); ++i) e[i] = (p[i] - y[i]) * (p[i] - y[i]) / static_cast<double>(d);
  return Tensor::from_vector(std::span<const double>(e), predictions.shape(), DType::f64);
}

ErrorCurve summarize_errors(const Tensor& errors, const BootstrapOptions& opt) {
  check_defined(errors, "summarize_errors");
  XF_CHECK(errors.dim() == 2 && errors.size(0) > 0, "summarize_errors: errors must be [P, n] with P > 0, got ",
           errors.shape().str());
  XF_CHECK(opt.resamples > 0 && opt.confidence > 0.0 && opt.confidence < 1.0,
           "summarize_errors: need resamples > 0 and confidence in (0, 1), got ", opt.resamples, " and ",
           opt.confidence);
  const int64_t P = errors.size(0), n = errors.size(1), B = opt.resamples;
  const std::vector<double> e = errors.to_vector();
  ErrorCurve c;
  c.mean.assign(n, 0.0);
  for (int64_t p = 0; p < P; ++p)
    for (int64_t k = 0; k < n; ++k) c.mean[k] += e[p * n + k];
  for (double& m : c.mean) m /= static_cast<double>(P);

  // Resample b draws its i-th prompt from 64 bits of Philox block (base + b·⌈P/2⌉ + i/2) of Generator(seed) (two
  // draws per block): parallel over resamples and reproducible for any thread count.
  Generator gen(opt.seed);
  const uint64_t per = (static_cast<uint64_t>(P) + 1) / 2;
  const uint64_t base = gen.advance(static_cast<uint64_t>(B) * per);
  std::vector<double> means(B * n, 0.0);  // [B, n]
  // Threads only pay off for large resampling jobs: keep at least ~2^18 element additions per chunk.
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 18) / std::max<int64_t>(1, P * n));
  parallel_for(B, grain, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      double* m = means.data() + b * n;
      std::array<uint32_t, 4> w{};
      for (int64_t i = 0; i < P; ++i) {
        if (i % 2 == 0) w = gen.block(base + static_cast<uint64_t>(b) * per + static_cast<uint64_t>(i / 2));
        const int h = static_cast<int>(i % 2) * 2;
        const uint64_t r = (static_cast<uint64_t>(w[h]) << 32) | w[h + 1];
        // Lemire's multiply-shift maps r to [0, P) with bias at most P / 2^64.
        const int64_t p = static_cast<int64_t>((static_cast<unsigned __int128>(r) * static_cast<uint64_t>(P)) >> 64);
        const double* row = e.data() + p * n;
        for (int64_t k = 0; k < n; ++k) m[k] += row[k];
      }
      for (int64_t k = 0; k < n; ++k) m[k] /= static_cast<double>(P);
    }
  });
  c.lo.resize(n);
  c.hi.resize(n);
  std::vector<double> col(B);
  const double alpha = (1.0 - opt.confidence) / 2.0;
  for (int64_t k = 0; k < n; ++k) {
    for (int64_t b = 0; b < B; ++b) col[b] = means[b * n + k];
    std::sort(col.begin(), col.end());
    c.lo[k] = percentile_sorted(col, alpha);
    c.hi[k] = percentile_sorted(col, 1.0 - alpha);
  }
  return c;
}

ErrorCurve error_vs_k(const IclPredictor& predictor, const IclBatch& prompts, int64_t d,
                      const BootstrapOptions& opt) {
  return summarize_errors(squared_errors(predict_all(predictor, prompts), prompts.ys, d), opt);
}

ErrorCurve error_vs_k(const Tensor& predictions, const IclBatch& prompts, int64_t d, const BootstrapOptions& opt) {
  check_prompts(prompts, "error_vs_k");
  return summarize_errors(squared_errors(predictions, prompts.ys, d), opt);
}

}  // namespace xfmr
