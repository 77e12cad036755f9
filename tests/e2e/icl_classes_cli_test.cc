// End-to-end: `xfmr icl` on every function class (short runs: the pipeline and the baselines, not the model's
// accuracy), `--list`, and one-line errors for impossible class settings.
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
// A very short run of class `kind`: 200 steps, 100 evaluation prompts.
nlohmann::json run_class(const std::string& kind, const std::string& extra, const std::string& dir) {
  const auto r = run_xfmr("icl --preset smoke --threads 1 --steps 200 --set eval.prompts=100 --set eval.bootstrap=50 "
                          "--set task.kind=" + kind + " " + extra + " --out " + dir);
  EXPECT_EQ(r.code, 0) << kind << "\n" << r.out;
  std::ifstream f(dir + "/results.json");
  EXPECT_TRUE(f.good()) << kind;
  if (!f.good()) return {};
  EXPECT_TRUE(fs::exists(dir + "/report.html")) << kind;
  return nlohmann::json::parse(f);
}

double err(const nlohmann::json& r, const std::string& m, size_t k) { return r["error"][m][k].get<double>(); }
}  // namespace

TEST(IclClassesCli, ListShowsClassesParametersAndBaselines) {
  const auto r = run_xfmr("icl --list");
  ASSERT_EQ(r.code, 0) << r.out;
  for (const char* s : {"linear", "noisy_linear", "sparse_linear", "ill_conditioned_linear", "decision_tree",
                        "relu2nn", "task.sparsity", "task.kappa", "task.tree_depth", "task.hidden", "lasso",
                        "greedy_tree", "boosted_trees", "relu_net", "newton"})
    EXPECT_NE(r.out.find(s), std::string::npos) << s << "\n" << r.out;
}

TEST(IclClassesCli, EveryClassRunsWithItsBaselines) {
  const std::string base = temp_dir("classes");
  struct Case {
    std::string kind, extra;
    std::vector<std::string> methods;
    int normalizer;
  };
  const std::vector<Case> cases = {
      {"linear", "", {"transformer", "least_squares", "ridge", "knn3", "averaging", "gd10"}, 5},
      {"noisy_linear", "--set task.noise_std=0.5", {"transformer", "least_squares", "ridge", "knn3", "averaging", "gd10"}, 5},
      // d = 10, s = 2 (Garg et al.: d = 20, s = 3): sparse enough that the Lasso visibly beats least squares.
      {"sparse_linear", "--set task.d=10 --set task.sparsity=2", {"transformer", "least_squares", "lasso", "knn3", "averaging"}, 2},
      {"ill_conditioned_linear", "--set task.kappa=100", {"transformer", "least_squares", "newton5", "gd10", "knn3", "averaging"}, 5},
      {"decision_tree", "", {"transformer", "least_squares", "knn3", "averaging", "greedy_tree", "boosted_trees"}, 1},
      {"relu2nn", "--set eval.net_steps=100", {"transformer", "least_squares", "knn3", "averaging", "relu_net"}, 5},
  };
  for (const Case& c : cases) {
    const auto r = run_class(c.kind, c.extra, base + "/" + c.kind);
    if (r.is_null()) continue;
    EXPECT_EQ(r["task_kind"], c.kind);
    EXPECT_EQ(r["error_normalizer"], c.normalizer) << c.kind;
    std::vector<std::string> methods;
    for (const auto& m : r["methods"]) methods.push_back(m.get<std::string>());
    EXPECT_EQ(methods, c.methods) << c.kind;
    for (const auto& m : c.methods) EXPECT_EQ(r["error"][m].size(), 11u) << c.kind << " " << m;
    // Garg et al.'s linear-regression checks only for the isotropic linear classes.
    const bool linear = c.kind == "linear" || c.kind == "noisy_linear";
    EXPECT_EQ(r["checks"].contains("max_gap_to_least_squares_below_d"), linear) << c.kind;
    // k = 0: every baseline predicts 0, so its error is the mean of y²/normaliser (about 1).
    EXPECT_NEAR(err(r, "least_squares", 0), 1.0, 0.6) << c.kind;
  }
  // Facts the baselines must show on these prompts (exact algorithms, 100 prompts):
  {
    std::ifstream f(base + "/sparse_linear/results.json");
    const auto r = nlohmann::json::parse(f);
    EXPECT_LT(err(r, "least_squares", 10), 1e-8);  // k >= d: noiseless, exact
    EXPECT_LT(err(r, "lasso", 6), 0.5 * err(r, "least_squares", 6));  // k < d: sparsity helps
  }
  {
    std::ifstream f(base + "/ill_conditioned_linear/results.json");
    const auto r = nlohmann::json::parse(f);
    EXPECT_LT(err(r, "least_squares", 8), 1e-6);
  }
  fs::remove_all(base);
}

TEST(IclClassesCli, BadClassSettingsAreOneLineErrors) {
  const std::string base = temp_dir("badclass");
  struct Case {
    std::string args, expect;
  };
  const Case cases[] = {
      {"icl --set task.kind=quadratic --out " + base + "/a", "known: linear, noisy_linear, sparse_linear"},
      {"icl --set task.kind=sparse_linear --set task.sparsity=9 --out " + base + "/b", "task.sparsity must be in [1, d = 5]"},
      {"icl --set task.kind=noisy_linear --out " + base + "/c", "task.noise_std must be > 0"},
      {"icl --set task.kind=decision_tree --set task.tree_depth=40 --out " + base + "/d", "task.tree_depth"},
      {"icl --set task.kind=ill_conditioned_linear --set task.kappa=0.5 --out " + base + "/e", "task.kappa"},
      {"icl --set task.kind=relu2nn --set task.hidden=0 --out " + base + "/f", "task.hidden"},
      {"icl --set eval.boost_lr=2 --out " + base + "/g", "eval.boost_lr"},
  };
  for (const auto& c : cases) expect_one_line_error(c.args, c.expect);
  fs::remove_all(base);
}
