// The exact Bayes-optimal learner for sparse parities (Bhattamishra et al. 2023's Parity-(n, k)): with S uniform
// over the C(d, k) subsets of size k, the posterior given the context is uniform over the subsets consistent
// with every example, so predicting the majority label of those subsets at the query maximises the expected
// accuracy. Enumerates all C(d, k) subsets (bit masks, d <= 64; refuses more than 2,000,000 subsets). Consecutive
// calls whose context extends the previous one (checked example by example) reuse the surviving subsets, so a whole prompt costs
// O(C(d, k)·n). A tie (including an empty context) predicts 0.
#pragma once
#include <cstdint>
#include <vector>

#include "xfmr/baselines/context.h"

namespace xfmr {

class ParitySearch {
 public:
  explicit ParitySearch(int64_t k);
  double operator()(const IclContext& ctx, const double* x_query);

 private:
  void reset(int64_t d);
  int64_t k_;
  int64_t d_ = -1;
  std::vector<uint64_t> seen_;  // the examples already filtered (bit masks) and their labels
  std::vector<uint8_t> label_;
  std::vector<uint64_t> alive_;
};

}  // namespace xfmr
