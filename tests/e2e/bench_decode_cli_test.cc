// `xfmr bench decode`: the JSON record a comparison script reads (torch_decode.py's fields plus the memory
// fields), the GGUF it writes for llama.cpp, and one-line errors. Speed is never asserted (not a timed test).
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "support/cli_run.h"

using xfmr::test::count_lines;
using xfmr::test::expect_one_line_error;
using xfmr::test::run_xfmr;

namespace {
const char* kTiny = "bench decode --dim 64 --n_layer 2 --n_head 4 --hidden 96 --vocab 300 --seq 48";
}

TEST(BenchDecodeCli, PrintsOneJsonRecordWithThePeerFields) {
  for (const char* dtype : {"f32", "f16", "q8_0", "q4_0"}) {
    const auto r = run_xfmr(std::string(kTiny) + " --prompt 12 --gen 9 --warmup 0 --dtype " + dtype);
    ASSERT_EQ(r.code, 0) << r.out;
    ASSERT_EQ(count_lines(r.out), 1) << r.out;
    const auto j = nlohmann::json::parse(r.out);
    for (const char* f : {"prefill_ms", "prefill_tokens_per_s", "decode_ms_per_token", "decode_tokens_per_s",
                          "params", "prompt", "gen", "threads", "last_token", "peak_rss_mb", "rss_mb",
                          "weight_bytes", "kv_cache_bytes", "memory_need_mb", "rss_over_need",
                          "peak_rss_over_need", "baseline_rss_mb", "peak_rss_over_need_above_baseline",
                          "weight_bytes_per_token"})
      EXPECT_TRUE(j.contains(f)) << f;
    // The baseline (the process before the weights) is part of the peak.
    const double base = j["baseline_rss_mb"].get<double>(), need = j["memory_need_mb"].get<double>();
    EXPECT_GT(base, 0);
    EXPECT_LT(base, j["peak_rss_mb"].get<double>());
    EXPECT_NEAR(j["peak_rss_over_need_above_baseline"].get<double>(),
                (j["peak_rss_mb"].get<double>() - base) / need, 1e-9);
    EXPECT_EQ(j["dtype"], dtype);
    EXPECT_EQ(j["dim"], 64);
    EXPECT_EQ(j["n_layer"], 2);
    EXPECT_EQ(j["prompt"], 12);
    EXPECT_EQ(j["gen"], 9);
    // torch_decode.py's count: tied embedding + per layer 4 dim² + 3 dim·hidden + 2 norms, + the final norm.
    EXPECT_EQ(j["params"], 300 * 64 + 2 * (4 * 64 * 64 + 3 * 64 * 96 + 2 * 64) + 64);
    EXPECT_EQ(j["kv_cache_bytes"], 2 * 2 * 48 * 64 * 4);
    EXPECT_GT(j["prefill_tokens_per_s"].get<double>(), 0);
    EXPECT_GT(j["decode_tokens_per_s"].get<double>(), 0);
    EXPECT_NEAR(j["decode_ms_per_token"].get<double>() * j["decode_tokens_per_s"].get<double>(), 1000.0, 1e-6);
  }
}

TEST(BenchDecodeCli, WritesAGgufThatReadsBackWithTheSameGreedyTokens) {
  const std::string path = std::filesystem::temp_directory_path() / "xfmr_bench_decode_cli_test.gguf";
  const auto a = run_xfmr(std::string(kTiny) + " --dtype q8_0 --prompt 5 --gen 20 --write-gguf " + path);
  ASSERT_EQ(a.code, 0) << a.out;
  const auto b = run_xfmr("bench decode --model " + path + " --prompt 5 --gen 20");
  ASSERT_EQ(b.code, 0) << b.out;
  const auto ja = nlohmann::json::parse(a.out), jb = nlohmann::json::parse(b.out);
  EXPECT_EQ(jb["preset"], "file");
  EXPECT_EQ(jb["dtype"], "q8_0");
  EXPECT_EQ(ja["params"], jb["params"]);
  EXPECT_EQ(ja["last_token"], jb["last_token"]);  // same weights, same seeded prompt
  std::remove(path.c_str());
}

TEST(BenchDecodeCli, BadInputIsOneLineAndNonZero) {
  struct Case {
    const char* args;
    const char* expect;
  } cases[] = {
      {"bench decode --preset stories7B", "stories7B"},
      {"bench decode --dtype q5_1", "q5_1"},
      {"bench decode --prompt 0", "prompt"},
      {"bench decode --seq 16 --prompt 10 --gen 10", "seq"},
      {"bench decode --threads 0", "threads"},
      {"bench decode --n_head 0", "n_head"},
      {"bench decode --dim 100 --n_head 3", "dim"},
      {"bench decode --model /nonexistent/x.gguf", "nonexistent"},
      {"bench decode --bogus 1", "--bogus"},
  };
  for (const auto& c : cases) expect_one_line_error(c.args, c.expect);
}
