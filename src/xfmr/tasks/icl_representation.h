// In-context learning with a fixed representation (Guo et al. 2023, "How Do Transformers Learn In-Context Beyond
// Simple Functions? A Case Study on Learning with Representations", arXiv:2310.10616, §2 and §5): every prompt's
// labels are y = w·Φ(x) + noise_std·N(0, 1) where Φ: R^d -> R^D is ONE fixed random ReLU network shared by all
// prompts (training and evaluation alike) and only the linear read-out w ~ N(0, I_D) changes per prompt. The
// Bayes-optimal in-context learner is therefore ridge regression on Φ(x) (λ = noise_std²), which the baseline
// "ridge_phi" computes with the true Φ.
//
// Φ(x) = relu(W_L relu(... relu(W_1 x))) with W_1: [D, d], W_l: [D, D], entries N(0, 2/fan_in) (He scaling, so
// every feature has E[Φ_j(x)²] ≈ 1 for x ~ N(0, I_d) and E[y²] ≈ D: the error is normalised by D). The weights are
// drawn from Generator(phi_seed) alone, so Φ depends only on (d, D, L, phi_seed), never on the prompt stream.
#pragma once
#include <cstdint>
#include <vector>

#include "xfmr/core/rng.h"
#include "xfmr/tasks/icl_linear.h"

namespace xfmr {

class IclRepresentation {
 public:
  // depth L >= 1 layers of width D >= 1 on inputs of dimension d >= 1. Error naming the bad argument.
  IclRepresentation(int64_t d, int64_t width, int64_t depth, uint64_t seed);
  int64_t d() const { return d_; }
  int64_t width() const { return width_; }
  int64_t depth() const { return depth_; }
  // out[D] = Φ(x), x: [d]; scratch: at least 2·D doubles (no allocation).
  void apply(const double* x, double* out, double* scratch) const;
  // Layer l's weights, row-major [D, fan_in] (fan_in = d for l = 0, D after).
  const std::vector<double>& layer(int64_t l) const { return w_[static_cast<size_t>(l)]; }

 private:
  int64_t d_, width_, depth_;
  std::vector<std::vector<double>> w_;
};

// Prompts: x ~ N(0, I_d) [B, n, d] f32 with coordinates >= active_dims zeroed (the curriculum), w ~ N(0, I_D),
// y = w·Φ(x) + noise_std·N(0, 1) [B, n] f32 (computed in double). Draw order: x [B, n, d], w [B, D], noise [B, n].
// IclBatch::w is [B, d] zeros (the read-out lives in Φ-space; pass `readout` to get it, [B, D] f32).
IclBatch sample_icl_fixed_representation(int64_t batch, int64_t n_points, int64_t d, int64_t active_dims,
                                         const IclRepresentation& phi, double noise_std, Generator& gen,
                                         Tensor* readout = nullptr);

}  // namespace xfmr
