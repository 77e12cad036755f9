// A tiny regression TrainTask shared by tests/train/trainer_test.cc and the trainer_child executable: a
// 2-layer MLP (8 -> 16 -> 4, GELU) learns a fixed linear map y = x·W* from fresh Gaussian batches drawn from
// the data generator. Deterministic given (init_seed, TrainConfig::seed) and the thread count.
#pragma once
#include <chrono>
#include <cmath>
#include <thread>

#include "xfmr/core/autograd.h"
#include "xfmr/core/rng.h"
#include "xfmr/nn/linear.h"
#include "xfmr/ops/activation.h"
#include "xfmr/ops/loss.h"
#include "xfmr/ops/matmul.h"
#include "xfmr/train/trainer.h"

namespace xfmr::test {

class ToyMlp : public Module {
 public:
  ToyMlp(int64_t in, int64_t hidden, int64_t out, Generator& gen)
      : fc1(in, hidden, true, gen, 1.0 / std::sqrt(static_cast<double>(in))),
        fc2(hidden, out, true, gen, 1.0 / std::sqrt(static_cast<double>(hidden))) {
    register_module("fc1", fc1);
    register_module("fc2", fc2);
  }
  Tensor forward(const Tensor& x) const { return fc2.forward(gelu(fc1.forward(x))); }
  nn::Linear fc1, fc2;
};

class ToyTask : public TrainTask {
 public:
  static constexpr int64_t kIn = 8, kHidden = 16, kOut = 4, kBatch = 32;

  // init_seed: the model's initial weights only (the target map and validation set are fixed).
  // step_sleep_ms > 0 slows each step down (so a test can kill the process mid-run).
  explicit ToyTask(uint64_t init_seed = 1, int step_sleep_ms = 0)
      : init_(init_seed), net_(kIn, kHidden, kOut, init_), step_sleep_ms_(step_sleep_ms) {
    Generator teacher_gen(1000);
    w_star_ = randn({kIn, kOut}, DType::f32, teacher_gen);
    Generator val_gen(2000);
    x_val_ = randn({256, kIn}, DType::f32, val_gen);
    NoGradGuard ng;
    y_val_ = matmul(x_val_, w_star_);
    x_ = Tensor::empty({kBatch, kIn});
  }
  Module& model() override { return net_; }
  Tensor loss(int64_t step, Generator& data) override {
    if (step_sleep_ms_ > 0) std::this_thread::sleep_for(std::chrono::milliseconds(step_sleep_ms_));
    normal_(x_, 0.0, 1.0, data);
    Tensor y;
    {
      NoGradGuard ng;
      y = matmul(x_, w_star_);
    }
    return mse_loss(net_.forward(x_), y);
  }
  void evaluate(int64_t step, nlohmann::json& metrics) override {
    metrics["val_loss"] = mse_loss(net_.forward(x_val_), y_val_).item();
    ++evaluations;
  }
  int64_t tokens_per_step(int64_t) const override { return kBatch; }

  int64_t evaluations = 0;

 private:
  Generator init_;
  ToyMlp net_;
  Tensor w_star_, x_val_, y_val_, x_;
  int step_sleep_ms_;
};

}  // namespace xfmr::test
