// End-to-end: `xfmr generate` prints exactly llama2.c run.c's greedy text for stories260K (the .bin with
// tok512.bin beside it, and the .gguf with its own vocabulary); `xfmr convert` writes a q8_0 GGUF that
// generates; bad input gives one-line errors.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>

#include "infer/stories_data.h"
#include "support/cli_run.h"

namespace fs = std::filesystem;

namespace {

using CliRun = xfmr::test::CliResult;
using xfmr::test::run_xfmr;

std::string quote(const std::string& s) {
  return "'" + s + "'";
}

class GenerateCli : public ::testing::TestWithParam<std::string> {};

TEST_P(GenerateCli, GreedyRawOutputIsRunCsText) {
  for (const auto& run : xfmr::test::stories_golden_runs()) {
    const size_t n = run.all_ids.size() - run.prompt_ids.size();
    const CliRun r = run_xfmr("generate --model " + xfmr::test::stories_dir() + GetParam() + " --prompt " +
                                  quote(run.prompt) + " --temperature 0 --max-tokens " + std::to_string(n) +
                                  " --raw --threads 1",
                              /*merge_stderr=*/false);
    ASSERT_EQ(r.code, 0) << r.out;
    // run.c ends its output with one newline; --raw prints only prompt + continuation.
    ASSERT_FALSE(run.text.empty());
    EXPECT_EQ(r.out, run.text.substr(0, run.text.size() - 1)) << run.prompt;
  }
}

INSTANTIATE_TEST_SUITE_P(Files, GenerateCli, ::testing::Values("stories260K.bin", "stories260K.gguf"));

TEST(GenerateCli, StatsLineStopStringsAndSeeds) {
  const std::string model = xfmr::test::stories_bin();
  CliRun r = run_xfmr("generate --model " + model + " --prompt 'The cat' --max-tokens 20 --seed 5");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("tok/s"), std::string::npos) << r.out;
  // Same seed, same text; the stop string ends the output before it is printed.
  const CliRun a =
      run_xfmr("generate --model " + model + " --prompt 'The cat' --max-tokens 40 --seed 9 --raw", false);
  const CliRun b =
      run_xfmr("generate --model " + model + " --prompt 'The cat' --max-tokens 40 --seed 9 --raw", false);
  EXPECT_EQ(a.out, b.out);
  const CliRun g = run_xfmr("generate --model " + model +
                                " --prompt 'Once upon a time' --temperature 0 --raw "
                                "--max-tokens 60 --stop 'girl'",
                            false);
  EXPECT_EQ(g.out, "Once upon a time, there was a little ");
}

TEST(GenerateCli, ConvertToQ8ThenGenerate) {
  const std::string dir = (fs::temp_directory_path() / ("xfmr_convert_" + std::to_string(getpid()))).string();
  fs::create_directories(dir);
  const CliRun c =
      run_xfmr("convert --in " + xfmr::test::stories_bin() + " --out " + dir + "/s.q8_0.gguf --type q8_0");
  ASSERT_EQ(c.code, 0) << c.out;
  EXPECT_NE(c.out.find("tok512.bin"), std::string::npos) << c.out;  // the vocabulary came along
  const CliRun g = run_xfmr("generate --model " + dir +
                                "/s.q8_0.gguf --prompt 'Once upon a time' --temperature 0 "
                                "--max-tokens 30 --raw",
                            false);
  ASSERT_EQ(g.code, 0) << g.out;
  EXPECT_EQ(g.out.rfind("Once upon a time", 0), 0u) << g.out;
  EXPECT_GT(g.out.size(), 60u) << g.out;
  fs::remove_all(dir);
}

TEST(GenerateCli, BadInputIsAOneLineError) {
  CliRun r = run_xfmr("generate --prompt hi");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("--model"), std::string::npos) << r.out;
  r = run_xfmr("generate --model /nonexistent.gguf --prompt hi");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("/nonexistent.gguf"), std::string::npos) << r.out;
  r = run_xfmr("generate --model " + xfmr::test::stories_bin() + " --prompt hi --top-p 0");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("top-p"), std::string::npos) << r.out;
  r = run_xfmr("generate --model " + xfmr::test::stories_bin() + " --prompt hi --tokenizer " +
               xfmr::test::stories_gguf() + "x");
  EXPECT_EQ(r.code, 1);
  r = run_xfmr("convert --in " + xfmr::test::stories_bin() + " --out /tmp/x.gguf --type q5_k");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("q5_k"), std::string::npos) << r.out;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
}

}  // namespace
