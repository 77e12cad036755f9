// End-to-end: the looped transformer, AlgoFormer and the LSTM train through `xfmr icl` (loss falls, results
// and report written), resume from a checkpoint onto the uninterrupted loss curve, `xfmr icl probe` adds its
// section to the report, and bad model settings fail with one line.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/cli_run.h"

namespace fs = std::filesystem;

using xfmr::test::expect_one_line_error;
using xfmr::test::run_xfmr;
using xfmr::test::temp_dir;

namespace {

std::vector<double> losses(const std::string& dir) {
  std::ifstream m(dir + "/metrics.jsonl");
  std::vector<double> out;
  std::string line;
  while (std::getline(m, line)) {
    const auto j = nlohmann::json::parse(line);
    if (j.contains("loss")) out.push_back(j["loss"].get<double>());
  }
  return out;
}

std::string slurp(const std::string& path) {
  std::ifstream f(path);
  return std::string((std::istreambuf_iterator<char>(f)), {});
}

// The smoke preset (first curriculum stage, 1500 steps) with one small block per loop.
const char* kModelFlags[][2] = {
    {"looped", "--set model.kind=looped --set model.n_layer=1 --set model.n_loops=3"},
    {"algoformer", "--set model.kind=algoformer --set model.n_layer=1 --set model.n_loops=2 "
                   "--set model.n_pre_layer=1 --set model.n_post_layer=1 --set model.n_embd=16"},
    {"lstm", "--set model.kind=lstm --set model.n_layer=1"},
};

}  // namespace

TEST(IclModelsCli, EachKindTrainsAndLossFalls) {
  const std::string base = temp_dir("models");
  for (const auto& m : kModelFlags) {
    SCOPED_TRACE(m[0]);
    const std::string dir = base + "/" + m[0];
    const auto r = run_xfmr(std::string("icl --preset smoke --threads 1 --set eval.prompts=200 ") + m[1] +
                            " --out " + dir);
    ASSERT_EQ(r.code, 0) << r.out;
    const auto res = nlohmann::json::parse(slurp(dir + "/results.json"));
    EXPECT_EQ(res["model_kind"], m[0]);
    ASSERT_EQ(res["error"]["transformer"].size(), 11u);
    const auto L = losses(dir);
    const size_t q = L.size() / 4;
    ASSERT_GE(q, 10u);
    double first = 0, last = 0;
    for (size_t i = 0; i < q; ++i) {
      first += L[i];
      last += L[L.size() - 1 - i];
    }
    // Measured on similar smoke runs: last/first quarter ≈ 0.80 (looped), 0.68 (algoformer), 0.61 (lstm).
    EXPECT_LT(last, 0.9 * first) << "training loss did not fall";
  }
  // The probe on the LSTM run: probes.json and a Probes section that `xfmr report` keeps.
  const std::string lstm = base + "/lstm";
  const auto p = run_xfmr("icl probe --run " + lstm + " --prompts 200 --max-gd-steps 16 --max-newton 4");
  ASSERT_EQ(p.code, 0) << p.out;
  EXPECT_NE(p.out.find("output"), std::string::npos) << p.out;
  const auto pr = nlohmann::json::parse(slurp(lstm + "/probes.json"));
  EXPECT_EQ(pr["layers"], nlohmann::json({"embed", "layer1"}));
  EXPECT_EQ(pr["match"].size(), 3u);
  EXPECT_NE(slurp(lstm + "/report.html").find("<section id=\"probes\">"), std::string::npos);
  fs::remove(lstm + "/report.html");
  ASSERT_EQ(run_xfmr("report " + lstm).code, 0);
  EXPECT_NE(slurp(lstm + "/report.html").find("<section id=\"probes\">"), std::string::npos);
  fs::remove_all(base);
}

// A run resumed from its middle checkpoint continues onto exactly the uninterrupted loss curve (the loop
// curriculum depends on the step, so it must be restored too).
TEST(IclModelsCli, ResumeContinuesTheSameCurve) {
  const std::string base = temp_dir("models-resume");
  for (const char* flags : {"--set model.kind=looped --set model.n_layer=1 --set model.n_loops=3 "
                            "--set model.loop_curriculum_start=1 --set model.loop_curriculum_interval=100 "
                            "--set model.loop_window=2 --set model.n_embd=16",
                            "--set model.kind=lstm --set model.n_layer=2 --set model.n_embd=16"}) {
    SCOPED_TRACE(flags);
    const std::string whole = base + "/whole", cut = base + "/cut";
    const std::string common = std::string("icl --preset smoke --threads 1 --steps 300 --set train.checkpoint_every=150 "
                                           "--set train.eval_every=150 --set eval.prompts=50 --set eval.bootstrap=20 ") + flags;
    ASSERT_EQ(run_xfmr(common + " --out " + whole).code, 0);
    fs::copy(whole, cut, fs::copy_options::recursive);
    fs::remove_all(cut + "/checkpoints/step-300");
    fs::remove(cut + "/results.json");
    const auto r = run_xfmr("icl --resume --threads 1 --out " + cut);
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_EQ(losses(cut), losses(whole));
    fs::remove_all(whole);
    fs::remove_all(cut);
  }
  fs::remove_all(base);
}

TEST(IclModelsCli, BadInputIsOneLine) {
  const std::string base = temp_dir("models-bad");
  struct Case {
    std::string args, expect;
  };
  const Case cases[] = {
      {"icl --set model.kind=rnn --out " + base + "/a", "known: gpt, lsa, looped, algoformer, lstm"},
      {"icl --set model.kind=looped --set model.n_loops=0 --out " + base + "/b", "model.n_loops must be >= 1"},
      {"icl --set model.kind=algoformer --set model.n_pre_layer=-1 --out " + base + "/c", "model.n_pre_layer"},
      {"icl --set model.kind=looped --set model.loop_window=-2 --out " + base + "/d", "model.loop_window"},
      {"icl --set model.kind=looped --set model.n_loops=4 --set model.loop_curriculum_start=5 --out " + base + "/e",
       "model.loop_curriculum_start"},
      {"icl --set model.kind=lstm --set model.n_embd=0 --out " + base + "/f", "model.n_embd"},
      {"icl probe", "--run"},
      {"icl probe --run " + base + "/nothing-here", "nothing-here"},
      {"icl probe --run " + base + " --prompts 1", "--prompts"},
  };
  for (const auto& c : cases) expect_one_line_error(c.args, c.expect);
  fs::remove_all(base);
}
