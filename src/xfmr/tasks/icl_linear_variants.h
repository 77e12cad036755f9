// Variants of in-context linear regression (Garg et al. 2022, §4; Fu et al. 2023): sparse w, and x with an
// ill-conditioned covariance. Same conventions as sample_icl_linear (icl_linear.h): [B, n, d] f32 x, [B, n] f32
// y = w·x + noise_std·N(0, 1) summed in double, [B, d] f32 w, coordinates >= active_dims zeroed in x and w (the
// curriculum's subspace), and every random tensor drawn at full size in a fixed order, so the draws do not depend
// on active_dims.
#pragma once
#include <cstdint>

#include "xfmr/core/rng.h"
#include "xfmr/tasks/icl_linear.h"

namespace xfmr {

// Sparse linear regression (Garg et al. 2022, §4 "sparse linear functions", s = 3 of d = 20): w ~ N(0, I) on
// min(sparsity, active_dims) coordinates chosen uniformly without replacement among the active ones, zero
// elsewhere; x ~ N(0, I). Draw order: x [B, n, d], w [B, d], noise [B, n], then per prompt a partial
// Fisher–Yates shuffle of the active coordinates (scalar draws).
IclBatch sample_icl_sparse_linear(int64_t batch, int64_t n_points, int64_t d, int64_t active_dims,
                                  int64_t sparsity, double noise_std, Generator& gen);

// Ill-conditioned linear regression (Fu et al. 2023, §5: x ~ N(0, Σ) with condition number κ): on the a =
// active_dims active coordinates Σ = U diag(λ) Uᵀ with λ_i = κ^(−i/(a−1)), i = 0..a−1 (log-spaced from 1 down to
// 1/κ), rescaled so that Σλ = a (trace a, as N(0, I_a), so E[y²] = a like the isotropic class); U is a fresh
// Haar-random orthogonal matrix for every prompt (QR of a Gaussian matrix with R's diagonal made positive), so
// the direction of the ill-conditioning changes between prompts and a learner cannot memorise it. x = U diag(√λ) z
// with z ~ N(0, I). w ~ N(0, I). Draw order: z [B, n, d], w [B, d], noise [B, n], G [B, d, d] (U comes from the
// top-left a×a block of G). kappa = 1 gives x ~ N(0, I) (with a rotation).
IclBatch sample_icl_ill_conditioned_linear(int64_t batch, int64_t n_points, int64_t d, int64_t active_dims,
                                           double kappa, double noise_std, Generator& gen);

// The eigenvalues λ [a] used above (descending, sum a).
std::vector<double> ill_conditioned_eigenvalues(int64_t a, double kappa);

}  // namespace xfmr
