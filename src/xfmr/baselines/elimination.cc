#include "xfmr/baselines/elimination.h"

namespace xfmr {

double Elimination::operator()(const IclContext& ctx, const double* x_query) {
  const int64_t k = ctx.k, d = ctx.d;
  if (k == 0) return 0.0;
  pos_.assign(d, 1);
  neg_.assign(d, 1);
  // Conjunction: positive examples delete the literals they falsify. Dual: negative examples delete the
  // literals they satisfy. Examples of the other label carry no information for the hypothesis.
  for (int64_t i = 0; i < k; ++i) {
    const bool positive = ctx.y[i] > 0;
    if (positive == dual_) continue;
    const double* x = ctx.x + i * d;
    for (int64_t j = 0; j < d; ++j) {
      const bool bit = x[j] > 0;
      if (!dual_) {
        (bit ? neg_ : pos_)[j] = 0;  // a positive example falsifies ¬x_j if bit = 1, x_j if bit = 0
      } else {
        (bit ? pos_ : neg_)[j] = 0;  // a negative example satisfies x_j if bit = 1, ¬x_j if bit = 0
      }
    }
  }
  if (!dual_) {
    for (int64_t j = 0; j < d; ++j) {
      const bool bit = x_query[j] > 0;
      if ((pos_[j] && !bit) || (neg_[j] && bit)) return -1.0;
    }
    return 1.0;
  }
  for (int64_t j = 0; j < d; ++j) {
    const bool bit = x_query[j] > 0;
    if ((pos_[j] && bit) || (neg_[j] && !bit)) return 1.0;
  }
  return -1.0;
}

}  // namespace xfmr
