// End-to-end: `xfmr icl` on the Boolean classes (Bhattamishra et al. 2023): a short conjunction run writes accuracy
// curves (results.json "metric": "accuracy") beside its exact learner, the table says accuracy, and impossible
// settings are refused in one line naming the key.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "support/cli_run.h"

namespace fs = std::filesystem;

using xfmr::test::run_xfmr;
using xfmr::test::temp_dir;

TEST(IclBooleanCli, ConjunctionRunReportsAccuracy) {
  const std::string dir = temp_dir("boolean") + "/conj";
  const auto r = run_xfmr(
      "icl --preset smoke --threads 1 --steps 60 --set eval.prompts=100 --set eval.bootstrap=20 "
      "--set task.kind=conjunction --set task.d=6 --set task.n_points=12 --set task.curriculum=false "
      "--set task.teaching=true --out " + dir);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("accuracy of sign"), std::string::npos) << r.out;
  std::ifstream f(dir + "/results.json");
  ASSERT_TRUE(f.good());
  const auto res = nlohmann::json::parse(f);
  EXPECT_EQ(res["metric"], "accuracy");
  EXPECT_EQ(res["task_kind"], "conjunction");
  const auto& acc = res["error"];
  for (const char* m : {"transformer", "elimination", "nn1", "averaging", "majority_label"}) {
    ASSERT_TRUE(acc.contains(m)) << m;
    ASSERT_EQ(acc[m].size(), 12u) << m;
    for (const auto& v : acc[m]) EXPECT_TRUE(v.get<double>() >= 0.0 && v.get<double>() <= 1.0) << m;
  }
  // With the teaching sequence (at most d + 2 = 8 points), elimination is exact from k = 8 on.
  for (size_t k = 8; k < 12; ++k) EXPECT_EQ(acc["elimination"][k].get<double>(), 1.0) << k;
  // The periodic eval logs accuracy, not squared error.
  std::ifstream m(dir + "/metrics.jsonl");
  std::string all((std::istreambuf_iterator<char>(m)), std::istreambuf_iterator<char>());
  EXPECT_NE(all.find("eval_accuracy"), std::string::npos);
  std::ifstream h(dir + "/report.html");
  std::string html((std::istreambuf_iterator<char>(h)), std::istreambuf_iterator<char>());
  EXPECT_NE(html.find("Accuracy vs number of in-context examples"), std::string::npos);
  fs::remove_all(fs::path(dir).parent_path());
}

TEST(IclBooleanCli, ImpossibleSettingsAreRefused) {
  struct Case {
    std::string set, want;
  };
  for (const Case& c : {Case{"--set task.kind=sparse_parity --set task.d=4 --set task.n_relevant=6",
                             "task.n_relevant must be in [1, d = 4]"},
                        Case{"--set task.kind=parity --set task.teaching=true", "has no teaching sequence"},
                        Case{"--set task.kind=majority_vote", "known:"}}) {
    const auto r = run_xfmr("icl --preset smoke " + c.set + " --print-config");
    EXPECT_NE(r.code, 0) << c.set;
    EXPECT_NE(r.out.find(c.want), std::string::npos) << c.set << "\n" << r.out;
  }
}
