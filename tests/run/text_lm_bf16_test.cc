// train.precision = bf16 on a small char-level GPT (the smoke preset, 200 steps of tiny Shakespeare): the
// validation curve stays within a stated margin of the f32 run with the same seeds. The 2000-step version of
// this comparison, with a second f32 seed as the noise yardstick, is in docs/BENCHMARKS.md ("bf16 training:
// the loss curve").
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "xfmr/core/parallel.h"
#include "xfmr/io/config.h"
#include "xfmr/kernels/cpu/gemm_bf16.h"
#include "xfmr/run/text_lm.h"

using namespace xfmr;
namespace fs = std::filesystem;

namespace {

// Validation losses at steps 50, 100, 150, 200.
std::vector<double> val_curve(const std::string& precision) {
  const std::string dir =
      (fs::temp_directory_path() / ("xfmr_text_bf16_" + precision + "_" + std::to_string(::getpid())))
          .string();
  fs::remove_all(dir);
  // nanoGPT's CPU recipe (shakespeare-char-cpu) shrunk to 2 layers x 2 heads x 64, block 32, 200 steps.
  TextLmConfig c = text_lm_preset("shakespeare-char-cpu");
  c.data.path = std::string(XFMR_SOURCE_DIR) + "/data/text/tinyshakespeare.txt";
  c.model.n_layer = 2;
  c.model.n_head = 2;
  c.model.n_embd = 64;
  c.model.block_size = 32;
  c.train.warmup = 20;
  c.train.steps = 200;
  c.train.eval_every = 50;
  c.train.log_every = 0;
  c.train.checkpoint_every = 0;
  c.eval.iters = 8;
  c.eval.sample_tokens = 0;
  c.train.precision = precision;
  std::vector<double> val;
  TextLmProgress progress;
  progress.on_eval = [&](int64_t, const nlohmann::json& m) { val.push_back(m["val_loss"].get<double>()); };
  run_text_lm(c, dir, false, "test", progress);
  fs::remove_all(dir);
  return val;
}

}  // namespace

TEST(TextLmBf16, ValidationCurveStaysWithinNoiseOfF32) {
  const int old_threads = num_threads();
  set_num_threads(1);
  const std::vector<double> f = val_curve("f32"), b = val_curve("bf16");
  set_num_threads(old_threads);
  ASSERT_EQ(f.size(), 4u);
  ASSERT_EQ(b.size(), f.size());
  EXPECT_LT(f.back(), 0.7 * std::log(65.0)) << "the f32 run did not learn (uniform guessing is ln 65)";
  // Margin 0.02 nats: the 2000-step nanoGPT recipe's bf16 - f32 gap stays within 0.0015 at every evaluation
  // while a second f32 seed moves the curve by up to 0.029 (docs/BENCHMARKS.md), so 0.02 is inside the seed
  // noise; here the gaps measured 0.0005 - 0.0045 (2026-11-29).
  for (size_t i = 0; i < f.size(); ++i) EXPECT_NEAR(b[i], f[i], 0.02) << "evaluation " << i;
  if (kernels::cpu_has_avx512_bf16()) {
    EXPECT_NE(b.back(), f.back()) << "the bf16 path was not taken";
  }
}
