// The elimination algorithm for conjunctions (Valiant 1984; Kearns & Vazirani 1994, §1.3) and its De Morgan dual
// for disjunctions, the exact learners Bhattamishra et al. 2023 compare Transformers with on Conjunctions /
// Disjunctions. Inputs are read as bits (x_j > 0 is 1), labels as y > 0.
//   conjunction: the hypothesis starts as the AND of all 2d literals; every positive example deletes the
//                literals it falsifies. It always contains the target's literals, so it errs only on true
//                positives it has not yet been shown enough of (one-sided error).
//   dual:        the hypothesis starts as the OR of all 2d literals; every negative example deletes the literals
//                it satisfies.
// Predicts +1 / −1; an empty context predicts 0 (no information).
#pragma once
#include <cstdint>
#include <vector>

#include "xfmr/baselines/context.h"

namespace xfmr {

class Elimination {
 public:
  explicit Elimination(bool dual = false) : dual_(dual) {}
  double operator()(const IclContext& ctx, const double* x_query);

 private:
  bool dual_;
  std::vector<uint8_t> pos_, neg_;  // literal x_j / ¬x_j still in the hypothesis
};

}  // namespace xfmr
