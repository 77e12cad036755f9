// Iterative Newton as an in-context learner (Fu et al. 2023, "Transformers Learn Higher-Order Optimization
// Methods for In-Context Learning", §3): the Newton–Schulz iteration for the pseudo-inverse of S = XᵀX,
//   M_0 = alpha·S,   M_{j+1} = M_j (2I − S M_j),
// and the prediction w_j·x with w_j = M_j Xᵀy. Every M_j is a polynomial in S, so E_j = I − S M_j satisfies
// E_{j+1} = E_j² on the range of S (quadratic convergence, Ben-Israel 1965; Pan & Schreiber 1991), while the
// null space of S stays unreached: M_j → S⁺ and w_j → X⁺y, the minimum-norm least-squares solution.
// alpha = 1/(‖S‖₁‖S‖_∞) (Pan & Schreiber's choice; for symmetric S it is 1/‖S‖₁²) guarantees
// alpha·λ_max(S)² ≤ 1, so every eigenvalue 1 − alpha·λ² of E_0 on the range lies in [0, 1). The number of
// iterations needed grows like log₂(cond(S)) — the property Fu et al. compare with transformer depth.
// Empty context (or S = 0) -> 0.
#pragma once
#include <cstdint>
#include <vector>

#include "xfmr/baselines/context.h"

namespace xfmr {

class IterativeNewton {
 public:
  explicit IterativeNewton(int64_t iterations);
  int64_t iterations() const { return iterations_; }
  // w: [ctx.d] = M_iterations Xᵀy. If m is non-null it receives M_iterations [d, d] (row-major).
  void fit(const IclContext& ctx, double* w, double* m = nullptr);
  double operator()(const IclContext& ctx, const double* x_query);

 private:
  int64_t iterations_;
  std::vector<double> s_, m_, t_, u_, xty_, w_;
};

}  // namespace xfmr
