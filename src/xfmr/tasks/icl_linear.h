// In-context linear regression prompts (Garg et al. 2022, "What Can Transformers Learn In-Context? A Case Study
// of Simple Function Classes", §2–3). A prompt is (x_1, f(x_1), ..., x_n, f(x_n)) with f(x) = w·x; the model sees
// the prompt interleaved as a sequence of d-vectors and predicts f(x_{k+1}) from the first k pairs at every k.
#pragma once
#include <cstdint>
#include <utility>

#include "xfmr/core/rng.h"
#include "xfmr/core/tensor.h"

namespace xfmr {

struct IclLinearConfig {
  int64_t d = 5;          // input dimension
  int64_t n_points = 11;  // (x, y) pairs per prompt
  double noise_std = 0.0; // y = w·x + noise_std·N(0, 1)
};

// Garg et al.'s curriculum (§3, App. A.2): training starts on a subspace of `dims_start` active coordinates with
// `points_start` points per prompt, and every `interval` steps adds `dims_inc` dimensions and `points_inc` points,
// each capped at its end value. For d = 20 they start at 5 dims / 11 points, +1 dim / +2 points every 2000 steps.
struct Curriculum {
  int64_t dims_start = 0, dims_end = 0, dims_inc = 0;
  int64_t points_start = 0, points_end = 0, points_inc = 0;
  int64_t interval = 1;

  // (active dims, points) used at training step `step` (0-based): start + inc * floor(step / interval), capped
  // at end. Matches Garg et al.'s update(), which increments after every step.
  std::pair<int64_t, int64_t> at(int64_t step) const;

  // Garg et al.'s schedule generalised to any (d, n_points): dims from min(5, d) to d by 1, points from
  // min(2·dims_start + 1, n_points) to n_points by 2 (5 → 11 as in the paper), every `interval` steps.
  static Curriculum garg_default(int64_t d, int64_t n_points, int64_t interval = 2000);
  // No curriculum: always (d, n_points).
  static Curriculum fixed(int64_t d, int64_t n_points);
};

struct IclBatch {
  Tensor xs;  // [B, n, d] f32
  Tensor ys;  // [B, n] f32
  Tensor w;   // [B, d] f32, the task vector of each prompt
};

// Samples `batch` prompts: x ~ N(0, I_d), w ~ N(0, I_d), both with coordinates >= active_dims set to zero (the
// curriculum's subspace), y = w·x + noise_std·N(0, 1) (w·x is summed in double from the stored f32 values, then
// rounded to f32). The full [B, n, d] x, [B, d] w and [B, n] noise are always drawn, in that order, so the same
// generator state gives the same active coordinates for every active_dims and the same x, w for every noise_std.
IclBatch sample_icl_linear(int64_t batch, int64_t n_points, int64_t d, int64_t active_dims, double noise_std,
                           Generator& gen);
inline IclBatch sample_icl_linear(int64_t batch, const IclLinearConfig& cfg, Generator& gen) {
  return sample_icl_linear(batch, cfg.n_points, cfg.d, cfg.d, cfg.noise_std, gen);
}

// The model's input sequence [B, 2n, d] (f32): x_1, (y_1, 0, ..., 0), x_2, (y_2, 0, ..., 0), ... as in Garg et
// al.'s _combine. Position 2i holds x_{i+1}; the model's prediction of y_{i+1} is read at position 2i (even
// indices), where it has seen the i earlier pairs and x_{i+1}.
Tensor interleave_prompt(const IclBatch& b);

}  // namespace xfmr
