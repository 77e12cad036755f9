// The null classifier of the Boolean classes: the more frequent label in the context, ignoring x (+1 / −1; 0 on
// a tie or an empty context). Any learner that uses x should beat it; Bhattamishra et al. 2023 report such a
// label-prior baseline beside their learners.
#pragma once
#include "xfmr/baselines/context.h"

namespace xfmr {

struct MajorityLabel {
  double operator()(const IclContext& ctx, const double* x_query) const;
};

}  // namespace xfmr
