#include "xfmr/baselines/majority_label.h"

namespace xfmr {

double MajorityLabel::operator()(const IclContext& ctx, const double*) const {
  int64_t balance = 0;
  for (int64_t i = 0; i < ctx.k; ++i) balance += ctx.y[i] > 0 ? 1 : -1;
  return balance > 0 ? 1.0 : (balance < 0 ? -1.0 : 0.0);
}

}  // namespace xfmr
