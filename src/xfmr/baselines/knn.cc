#include "xfmr/baselines/knn.h"

#include <algorithm>
#include <numeric>

#include "xfmr/core/check.h"

namespace xfmr {

NearestNeighbors::NearestNeighbors(int64_t k_neighbors) : k_neighbors_(k_neighbors) {
  XF_CHECK(k_neighbors > 0, "knn: k_neighbors must be positive, got ", k_neighbors);
}

double NearestNeighbors::operator()(const IclContext& ctx, const double* x_query) {
  const int64_t k = ctx.k, d = ctx.d;
  if (k == 0) return 0.0;
  dist_.resize(k);
  idx_.resize(k);
  for (int64_t i = 0; i < k; ++i) {
    const double* xi = ctx.x + i * d;
    double s = 0.0;
    for (int64_t j = 0; j < d; ++j) s += (xi[j] - x_query[j]) * (xi[j] - x_query[j]);
    dist_[i] = s;  // squared distance: same order
  }
  std::iota(idx_.begin(), idx_.end(), int64_t{0});
  const int64_t m = std::min(k_neighbors_, k);
  std::partial_sort(idx_.begin(), idx_.begin() + m, idx_.end(), [this](int64_t a, int64_t b) {
    return dist_[a] < dist_[b] || (dist_[a] == dist_[b] && a < b);
  });
  double s = 0.0;
  for (int64_t i = 0; i < m; ++i) s += ctx.y[idx_[i]];
  return s / static_cast<double>(m);
}

}  // namespace xfmr
