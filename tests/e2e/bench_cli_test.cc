// `xfmr bench`: the JSON record a comparison script reads (same fields as ../shared/bench's PyTorch peers), and
// one-line errors on bad input. Speed itself is never asserted here (benchmarks are not timed tests).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "support/cli_run.h"

using xfmr::test::count_lines;
using xfmr::test::run_xfmr;

TEST(BenchCli, TrainIclPrintsOneJsonRecordWithThePeerFields) {
  const auto r = run_xfmr("bench train-icl --steps 3 --warmup 1 --n_layer 1 --n_embd 16 --batch 8");
  ASSERT_EQ(r.code, 0) << r.out;
  ASSERT_EQ(count_lines(r.out), 1) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  for (const char* f : {"steps_per_s", "tokens_per_s", "step_ms", "peak_rss_mb", "params", "first_loss", "final_loss"})
    EXPECT_TRUE(j.contains(f)) << f;
  EXPECT_EQ(j["n_layer"], 1);
  EXPECT_EQ(j["n_embd"], 16);
  EXPECT_EQ(j["batch"], 8);
  EXPECT_EQ(j["d"], 5);  // kept from the small preset
  EXPECT_EQ(j["gelu"], "tanh");  // the peer's GELU
  EXPECT_EQ(j["threads"], 1);
  EXPECT_EQ(j["steps"], 3);
  EXPECT_GT(j["steps_per_s"].get<double>(), 0);
  // tokens/s = steps/s x batch x 2 x n_points
  EXPECT_NEAR(j["tokens_per_s"].get<double>(), j["steps_per_s"].get<double>() * 8 * 2 * 11,
              1e-6 * j["tokens_per_s"].get<double>());
}

// cli/main.cc runs OpenMP with the passive wait policy unless the user chose one (it re-executes itself with
// the variable set); the training benches record the policy they ran under.
TEST(BenchCli, OpenMpWaitsPassivelyUnlessTheUserChoseAPolicy) {
  const std::string args = "bench train-icl --steps 1 --warmup 0 --n_layer 1 --n_embd 16 --batch 8";
  for (const auto& [prefix, want] : {std::pair<std::string, std::string>{"env -u OMP_WAIT_POLICY ", "passive"},
                                     {"env OMP_WAIT_POLICY=active ", "active"}}) {
    const auto r = run_xfmr(args, /*merge_stderr=*/false, prefix);
    ASSERT_EQ(r.code, 0) << prefix << r.out;
    EXPECT_EQ(nlohmann::json::parse(r.out)["omp_wait_policy"], want) << prefix;
  }
  const auto c = run_xfmr("bench train-char --preset tiny --steps 1 --warmup 0 --n_layer 1 --n_embd 32 --n_head 2",
                          false, "env -u OMP_WAIT_POLICY ");
  ASSERT_EQ(c.code, 0) << c.out;
  EXPECT_EQ(nlohmann::json::parse(c.out)["omp_wait_policy"], "passive");
}

TEST(BenchCli, TrainIclPrintsTheCostFields) {
  const auto r = run_xfmr("bench train-icl --steps 2 --warmup 1 --n_layer 1 --n_embd 16 --batch 8");
  ASSERT_EQ(r.code, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  for (const char* f : {"model_flops_per_step", "gflops_per_s", "mem_need_mb", "mem_ratio", "tensor_peak_mb",
                        "baseline_rss_mb"})
    EXPECT_TRUE(j.contains(f)) << f;
  // 3 x forward: N = 8 x 22 tokens, C = 16, one layer, read-in d = 5, read-out 1, causal attention
  const double N = 8 * 22, C = 16, T = 22;
  const double fwd = N * (24 * C * C + 2 * 5 * C + 2 * C) + 8 * 2 * C * T * (T + 1);
  EXPECT_DOUBLE_EQ(j["model_flops_per_step"].get<double>(), 3 * fwd);
}

TEST(BenchCli, TrainCharPrintsOneJsonRecordWithThePeerFields) {
  const auto r = run_xfmr("bench train-char --preset tiny --steps 2 --warmup 1 --n_layer 1 --n_embd 32 --n_head 2 "
                          "--block 16 --batch 3 --dropout 0.1");
  ASSERT_EQ(r.code, 0) << r.out;
  ASSERT_EQ(count_lines(r.out), 1) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  for (const char* f : {"step_ms", "steps_per_s", "tokens_per_s", "final_loss", "params_non_embedding_pos",
                        "peak_rss_mb", "mem_need_mb", "mem_ratio", "model_flops_per_step", "gflops_per_s",
                        "cpu_ms_per_step"})
    EXPECT_TRUE(j.contains(f)) << f;
  EXPECT_EQ(j["bench"], "xfmr_char_gpt");
  EXPECT_EQ(j["n_layer"], 1);
  EXPECT_EQ(j["n_embd"], 32);
  EXPECT_EQ(j["block"], 16);
  EXPECT_EQ(j["batch"], 3);
  EXPECT_EQ(j["vocab"], 65);  // kept from the preset
  EXPECT_DOUBLE_EQ(j["dropout"].get<double>(), 0.1);
  EXPECT_NEAR(j["tokens_per_s"].get<double>(), j["steps_per_s"].get<double>() * 3 * 16,
              1e-6 * j["tokens_per_s"].get<double>());
  // Parameters: wte 65x32, wpe 16x32, one block (2 LNs, qkv, proj, fc, proj with biases), ln_f; the peer's count
  // leaves out wpe.
  const int64_t C = 32, block = 4 * C + 3 * C * C + 3 * C + C * C + C + 4 * C * C + 4 * C + 4 * C * C + C;
  const int64_t params = 65 * C + 16 * C + block + 2 * C;
  EXPECT_EQ(j["params"], params);
  EXPECT_EQ(j["params_non_embedding_pos"], params - 16 * C);
  // Need = 16 bytes per parameter + activations (run/bench_cost.h's formula)
  const double N = 48, H = 2;
  const double acts = (16 * N * C + N * H + 4 * N) + 2 * N * C + 2 * N + 2 * N * 65;
  EXPECT_NEAR(j["mem_need_mb"].get<double>(), (16.0 * params + 4 * acts) / (1024.0 * 1024.0), 1e-9);
  EXPECT_GT(j["mem_ratio"].get<double>(), 0);
  // a random-token loss starts near ln 65
  EXPECT_NEAR(j["final_loss"].get<double>(), 4.17, 0.3);
}

TEST(BenchCli, Bf16TrainingTracksF32WithinBf16Tolerance) {
  // The same seeded steps with the GEMMs in bf16 (f32 accumulation and master weights): the losses agree to
  // bf16's ~3 significant digits. Where the CPU lacks AVX512-BF16 the record says f32 and the losses are equal.
  const char* shape = "bench train-char --preset tiny --steps 3 --warmup 1 --n_layer 2 --n_embd 64 --block 32";
  const auto f = run_xfmr(std::string(shape) + " --precision f32");
  const auto b = run_xfmr(std::string(shape) + " --precision bf16");
  ASSERT_EQ(f.code, 0) << f.out;
  ASSERT_EQ(b.code, 0) << b.out;
  const auto jf = nlohmann::json::parse(f.out), jb = nlohmann::json::parse(b.out);
  EXPECT_EQ(jf["precision"], "f32");
  EXPECT_TRUE(jb["precision"] == "bf16" || jb["precision"] == "f32");
  for (const char* k : {"first_loss", "final_loss"})
    EXPECT_NEAR(jb[k].get<double>(), jf[k].get<double>(), 4e-3 * jf[k].get<double>()) << k;
  const auto i = run_xfmr("bench train-icl --steps 2 --warmup 1 --n_layer 1 --n_embd 16 --batch 8 --precision bf16");
  ASSERT_EQ(i.code, 0) << i.out;
  EXPECT_TRUE(nlohmann::json::parse(i.out).contains("precision"));
}

TEST(BenchCli, BadInputIsOneLineAndNonZero) {
  struct Case {
    const char* args;
    const char* expect;
  } cases[] = {
      {"bench", "usage"},
      {"bench frobnicate", "frobnicate"},
      {"bench train-icl --preset huge", "huge"},
      {"bench train-icl --batch 0", "batch"},
      {"bench train-icl --steps 0", "steps"},
      {"bench train-icl --threads 0", "threads"},
      {"bench train-icl --n_embd 30 --n_head 4", "divisible"},
      {"bench train-icl --bogus 1", "--bogus"},
      {"bench train-char --preset huge", "huge"},
      {"bench train-char --block 0", "block"},
      {"bench train-char --dropout 1", "dropout"},
      {"bench train-char --n_embd 30 --n_head 4", "divisible"},
      {"bench train-char --precision fp8", "fp8"},
      {"bench train-icl --precision fp8", "fp8"},
      {"bench train-icl --gelu relu", "--gelu"},
  };
  for (const auto& c : cases) {
    const auto r = run_xfmr(c.args);
    EXPECT_NE(r.code, 0) << c.args;
    EXPECT_NE(r.out.find(c.expect), std::string::npos) << c.args << "\n" << r.out;
    if (std::string(c.args) != "bench") {
      EXPECT_EQ(count_lines(r.out), 1) << c.args << "\n" << r.out;
    }
  }
}
