// k-nearest-neighbours regression (Garg et al. 2022, §3 baseline "3-Nearest Neighbors"): the mean of the y of the
// k_neighbors context points closest to the query in Euclidean distance, uniformly weighted as in their code.
// Uses all points when the context has fewer than k_neighbors; an empty context predicts 0. Ties in distance
// go to the earlier point (a stable order), so the prediction is deterministic.
#pragma once
#include <cstdint>
#include <vector>

#include "xfmr/baselines/context.h"

namespace xfmr {

class NearestNeighbors {
 public:
  explicit NearestNeighbors(int64_t k_neighbors = 3);
  double operator()(const IclContext& ctx, const double* x_query);

 private:
  int64_t k_neighbors_;
  std::vector<double> dist_;
  std::vector<int64_t> idx_;
};

}  // namespace xfmr
