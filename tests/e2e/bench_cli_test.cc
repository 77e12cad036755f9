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
  EXPECT_EQ(j["threads"], 1);
  EXPECT_EQ(j["steps"], 3);
  EXPECT_GT(j["steps_per_s"].get<double>(), 0);
  // tokens/s = steps/s x batch x 2 x n_points
  EXPECT_NEAR(j["tokens_per_s"].get<double>(), j["steps_per_s"].get<double>() * 8 * 2 * 11,
              1e-6 * j["tokens_per_s"].get<double>());
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
