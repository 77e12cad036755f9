// The placeholder main job until `xfmr icl` exists: a 2-layer MLP (GELU) learns a fixed random smooth function
// of 8 inputs from fresh seeded batches, with AdamW, warmup + cosine schedule and gradient clipping. It exercises
// the whole engine (ops, autograd, optimizer) end to end and shows the loss falling.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

namespace xfmr {

struct MlpDemoOptions {
  int64_t steps = 1500;
  int64_t batch = 128;
  int64_t in_features = 8;
  int64_t hidden = 64;
  double lr = 3e-3;
  uint64_t seed = 0;
  int64_t eval_every = 100;
};

struct MlpDemoPoint {
  int64_t step;
  double train_loss, val_loss, lr;
};

struct MlpDemoResult {
  double target_variance;  // the loss of always predicting the mean: what "learning nothing" scores
  std::vector<MlpDemoPoint> curve;
};

MlpDemoResult run_mlp_demo(const MlpDemoOptions& opt,
                           const std::function<void(int64_t step, double train_loss)>& on_step = {});

}  // namespace xfmr
