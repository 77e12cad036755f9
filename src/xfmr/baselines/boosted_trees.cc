#include "xfmr/baselines/boosted_trees.h"

#include "xfmr/core/check.h"

namespace xfmr {

BoostedTrees::BoostedTrees(int64_t rounds, int64_t depth, double learning_rate)
    : rounds_(rounds), depth_(depth), lr_(learning_rate) {
  XF_CHECK(rounds >= 0, "boosted_trees: rounds must be >= 0, got ", rounds);
  XF_CHECK(depth >= 1, "boosted_trees: depth must be >= 1, got ", depth);
  XF_CHECK(learning_rate > 0 && learning_rate <= 1, "boosted_trees: learning_rate must be in (0, 1], got ",
           learning_rate);
}

void BoostedTrees::fit(const double* x, const double* y, int64_t k, int64_t d) {
  double s = 0.0;
  for (int64_t i = 0; i < k; ++i) s += y[i];
  base_ = k > 0 ? s / static_cast<double>(k) : 0.0;
  f_.assign(k, base_);
  r_.resize(k);
  mse_.clear();
  auto record = [&] {
    double e = 0.0;
    for (int64_t i = 0; i < k; ++i) e += (y[i] - f_[i]) * (y[i] - f_[i]);
    mse_.push_back(k > 0 ? e / static_cast<double>(k) : 0.0);
  };
  record();
  if (static_cast<int64_t>(trees_.size()) != rounds_) trees_.assign(rounds_, RegressionTree(depth_));
  for (int64_t m = 0; m < rounds_; ++m) {
    for (int64_t i = 0; i < k; ++i) r_[i] = y[i] - f_[i];
    trees_[m].fit(x, r_.data(), k, d);
    for (int64_t i = 0; i < k; ++i) f_[i] += lr_ * trees_[m].predict(x + i * d);
    record();
  }
}

double BoostedTrees::predict(const double* x) const {
  double f = base_;
  for (const RegressionTree& t : trees_) f += lr_ * t.predict(x);
  return f;
}

double BoostedTrees::operator()(const IclContext& ctx, const double* x_query) {
  fit(ctx.x, ctx.y, ctx.k, ctx.d);
  return predict(x_query);
}

}  // namespace xfmr
