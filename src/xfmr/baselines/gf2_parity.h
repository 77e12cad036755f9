// Learning parities by Gaussian elimination over GF(2) (Helmbold, Sloan & Warmuth 1992; the "optimal" learner
// for Parity in Bhattamishra et al. 2023): each example (x, y) is one linear equation Σ_{j∈S} b_j = c (mod 2)
// in the unknown subset S, with b_j = [x_j > 0] and c = [y > 0]. The context's system is reduced to row echelon
// form and the query is labelled by one consistent parity (free variables set to 0). With d independent
// examples S is unique and the prediction is exact. An inconsistent system (labels that no parity explains)
// or an empty context predicts 0.
#pragma once
#include <cstdint>
#include <vector>

#include "xfmr/baselines/context.h"

namespace xfmr {

class Gf2Parity {
 public:
  double operator()(const IclContext& ctx, const double* x_query);

 private:
  std::vector<uint64_t> rows_;   // k rows of W words: bits 0..d−1 the coefficients, bit d the right-hand side
  std::vector<uint8_t> subset_;  // the solution
};

// Solves the GF(2) system rows (k × W words, column d = right-hand side) in place; writes one solution into
// subset [d] (free variables 0) and returns false when the system is inconsistent. Exposed for tests.
bool solve_gf2(std::vector<uint64_t>& rows, int64_t k, int64_t d, std::vector<uint8_t>& subset);

}  // namespace xfmr
