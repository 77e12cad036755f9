// train.precision = bf16: the run's GEMMs use bf16 operands with f32 accumulation (kernels/cpu/gemm_bf16.h) while
// weights, gradients and AdamW state stay f32. The toy regression must train as well as in f32 (same seeds:
// the loss curves agree to bf16 tolerance), the precision is restored when train() returns, and a bad value is
// an Error naming the field.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "trainer_child/toy_task.h"
#include "xfmr/core/parallel.h"
#include "xfmr/io/config.h"
#include "xfmr/kernels/cpu/gemm_bf16.h"
#include "xfmr/kernels/cpu/gemm_blas.h"
#include "xfmr/train/trainer.h"

using namespace xfmr;
namespace fs = std::filesystem;

namespace {

std::vector<double> run_losses(const std::string& precision) {
  const std::string dir =
      (fs::temp_directory_path() / ("xfmr_precision_" + precision + "_" + std::to_string(::getpid()))).string();
  fs::remove_all(dir);
  test::ToyTask task;
  TrainConfig cfg;
  cfg.steps = 200;
  cfg.lr = 1e-2;
  cfg.warmup = 10;
  cfg.min_lr = 1e-3;
  cfg.eval_every = 0;
  cfg.log_every = 0;
  cfg.checkpoint_every = 0;
  cfg.seed = 3;
  cfg.precision = precision;
  std::vector<double> losses;
  train(task, cfg, dir, false, [&](const StepInfo& s) { losses.push_back(s.loss); });
  fs::remove_all(dir);
  return losses;
}

}  // namespace

TEST(TrainPrecision, Bf16TrainsLikeF32AndIsRestoredAfterwards) {
  const int old_threads = num_threads();
  set_num_threads(1);
  const std::vector<double> f = run_losses("f32"), b = run_losses("bf16");
  set_num_threads(old_threads);
  EXPECT_EQ(matmul_precision(), MatmulPrecision::f32) << "train() must restore the precision";
  ASSERT_EQ(f.size(), b.size());
  // First step: same weights and batch, so only the products' rounding differs (bf16: 8 significant bits).
  EXPECT_NEAR(b.front(), f.front(), 1e-2 * f.front());
  if (kernels::cpu_has_avx512_bf16()) {
    EXPECT_NE(b.front(), f.front()) << "the bf16 path was not taken";
  }
  // Both fall by the same factor; the end points agree within a few percent of the start.
  EXPECT_LT(b.back(), 0.05 * b.front());
  EXPECT_NEAR(b.back(), f.back(), 0.02 * f.front());
}

TEST(TrainPrecision, UnknownPrecisionIsAnErrorNamingTheField) {
  TrainConfig c;
  c.precision = "fp8";
  try {
    config::validate(c);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("precision"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("fp8"), std::string::npos) << e.what();
  }
}
