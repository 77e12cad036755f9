#include "xfmr/baselines/regression_tree.h"

#include <algorithm>
#include <numeric>

#include "xfmr/core/check.h"

namespace xfmr {

RegressionTree::RegressionTree(int64_t max_depth) : max_depth_(max_depth) {
  XF_CHECK(max_depth >= 0, "regression_tree: max_depth must be >= 0, got ", max_depth);
}

void RegressionTree::fit(const double* x, const double* y, int64_t k, int64_t d) {
  XF_CHECK(k >= 0 && d > 0, "regression_tree: expected k >= 0 points of d > 0 dims, got k=", k, " d=", d);
  x_ = x;
  y_ = y;
  d_ = d;
  nodes_.clear();
  idx_.resize(k);
  std::iota(idx_.begin(), idx_.end(), int64_t{0});
  tmp_.resize(k);
  grow(0, k, 0);
}

int32_t RegressionTree::grow(int64_t begin, int64_t end, int64_t depth) {
  const int32_t id = static_cast<int32_t>(nodes_.size());
  nodes_.push_back(Node{});
  const int64_t n = end - begin;
  double sum = 0.0;
  for (int64_t i = begin; i < end; ++i) sum += y_[idx_[i]];
  const double mean = n > 0 ? sum / static_cast<double>(n) : 0.0;
  nodes_[id].value = mean;
  if (depth >= max_depth_ || n < 2) return id;
  double parent_sse = 0.0;
  for (int64_t i = begin; i < end; ++i) parent_sse += (y_[idx_[i]] - mean) * (y_[idx_[i]] - mean);
  if (parent_sse <= 0.0) return id;

  // Best split over features; for each feature sort the node's points by x_f and scan the prefix sums.
  int64_t best_f = -1;
  double best_t = 0.0, best_sse = parent_sse;
  std::vector<int64_t> order(idx_.begin() + begin, idx_.begin() + end);
  for (int64_t f = 0; f < d_; ++f) {
    std::stable_sort(order.begin(), order.end(),
                     [&](int64_t a, int64_t b) { return x_[a * d_ + f] < x_[b * d_ + f]; });
    double ls = 0.0, lss = 0.0, rs = 0.0, rss = 0.0;
    for (int64_t i : order) {
      rs += y_[i];
      rss += y_[i] * y_[i];
    }
    for (int64_t p = 0; p + 1 < n; ++p) {
      const double yi = y_[order[p]];
      ls += yi;
      lss += yi * yi;
      rs -= yi;
      rss -= yi * yi;
      const double a = x_[order[p] * d_ + f], b = x_[order[p + 1] * d_ + f];
      if (!(a < b)) continue;  // only between distinct values
      const double nl = static_cast<double>(p + 1), nr = static_cast<double>(n - p - 1);
      const double sse = std::max(0.0, lss - ls * ls / nl) + std::max(0.0, rss - rs * rs / nr);
      // A split must lower the error by more than rounding (relative 1e-12) to count.
      if (sse < best_sse - 1e-12 * parent_sse) {
        best_sse = sse;
        best_f = f;
        best_t = a + 0.5 * (b - a);
      }
    }
  }
  if (best_f < 0) return id;
  // Partition the node's points (stable, so the children see points in context order).
  int64_t nl = 0, nr = 0;
  for (int64_t i = begin; i < end; ++i)
    if (x_[idx_[i] * d_ + best_f] <= best_t) tmp_[begin + nl++] = idx_[i];
  for (int64_t i = begin; i < end; ++i)
    if (!(x_[idx_[i] * d_ + best_f] <= best_t)) tmp_[begin + nl + nr++] = idx_[i];
  std::copy(tmp_.begin() + begin, tmp_.begin() + end, idx_.begin() + begin);
  nodes_[id].feature = best_f;
  nodes_[id].threshold = best_t;
  const int32_t l = grow(begin, begin + nl, depth + 1);
  const int32_t r = grow(begin + nl, end, depth + 1);
  nodes_[id].left = l;
  nodes_[id].right = r;
  return id;
}

double RegressionTree::predict(const double* x) const {
  if (nodes_.empty()) return 0.0;
  int32_t i = 0;
  while (nodes_[i].feature >= 0) i = x[nodes_[i].feature] <= nodes_[i].threshold ? nodes_[i].left : nodes_[i].right;
  return nodes_[i].value;
}

int64_t RegressionTree::depth() const {
  if (nodes_.empty()) return 0;
  // Iterative DFS with (node, depth) pairs.
  std::vector<std::pair<int32_t, int64_t>> st{{0, 0}};
  int64_t best = 0;
  while (!st.empty()) {
    auto [i, dep] = st.back();
    st.pop_back();
    best = std::max(best, dep);
    if (nodes_[i].feature >= 0) {
      st.push_back({nodes_[i].left, dep + 1});
      st.push_back({nodes_[i].right, dep + 1});
    }
  }
  return best;
}

double GreedyTree::operator()(const IclContext& ctx, const double* x_query) {
  tree_.fit(ctx.x, ctx.y, ctx.k, ctx.d);
  return tree_.predict(x_query);
}

}  // namespace xfmr
