// End-to-end: the `xfmr icl` command as a user runs it (a short "smoke" run: the pipeline, not the accuracy),
// and its one-line errors on bad input.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "support/cli_run.h"

namespace fs = std::filesystem;

using xfmr::test::expect_one_line_error;
using xfmr::test::run_xfmr;
using xfmr::test::temp_dir;
using RunResult = xfmr::test::CliResult;

TEST(IclCli, SmokeRunTrainsAndWritesReport) {
  const std::string dir = temp_dir("smoke") + "/run";
  const RunResult r = run_xfmr("icl --preset smoke --threads 1 --out " + dir);
  ASSERT_EQ(r.code, 0) << r.out;
  for (const char* f : {"config.json", "metrics.jsonl", "results.json", "report.html"})
    EXPECT_TRUE(fs::exists(fs::path(dir) / f)) << f;
  EXPECT_TRUE(fs::exists(fs::path(dir) / "checkpoints"));
  // The training loss falls: mean of the last ten logged losses well below the first ten.
  std::ifstream m(dir + "/metrics.jsonl");
  std::vector<double> losses;
  std::string line;
  while (std::getline(m, line)) {
    auto j = nlohmann::json::parse(line);
    if (j.contains("loss")) losses.push_back(j["loss"].get<double>());
  }
  ASSERT_GE(losses.size(), 20u);
  double first = 0, last = 0;
  for (int i = 0; i < 10; ++i) {
    first += losses[i];
    last += losses[losses.size() - 1 - i];
  }
  EXPECT_LT(last, 0.9 * first) << "training loss did not fall";
  // results.json has the documented machine-readable shape.
  std::ifstream rf(dir + "/results.json");
  const auto res = nlohmann::json::parse(rf);
  EXPECT_EQ(res["d"], 5);
  ASSERT_EQ(res["k"].size(), 11u);
  for (const char* method : {"transformer", "least_squares", "averaging", "knn3", "ridge"}) {
    ASSERT_TRUE(res["error"].contains(method)) << method;
    EXPECT_EQ(res["error"][method].size(), 11u) << method;
  }
  // Least squares is exact from k = d on (noiseless prompts).
  EXPECT_LT(res["error"]["least_squares"][6].get<double>(), 1e-10);
  EXPECT_NE(r.out.find("report.html"), std::string::npos) << r.out;
  // `xfmr report` rebuilds the page.
  fs::remove(dir + "/report.html");
  EXPECT_EQ(run_xfmr("report " + dir).code, 0);
  EXPECT_TRUE(fs::exists(dir + "/report.html"));
  fs::remove_all(fs::path(dir).parent_path());
}

// The linear-self-attention model (von Oswald et al.) runs through the same job: a short run on the first
// curriculum stage must lower its training loss and report under the same keys.
TEST(IclCli, LsaModelTrainsThroughTheSameJob) {
  const std::string dir = temp_dir("lsa") + "/run";
  const RunResult r = run_xfmr("icl --preset smoke --threads 1 --set model.kind=lsa --set model.n_layer=1 "
                               "--set model.n_head=1 --steps 1500 --out " + dir);
  ASSERT_EQ(r.code, 0) << r.out;
  std::ifstream rf(dir + "/results.json");
  const auto res = nlohmann::json::parse(rf);
  EXPECT_EQ(res["model_kind"], "lsa");
  ASSERT_EQ(res["error"]["transformer"].size(), 11u);
  const auto& train = res["train"]["loss"];
  // Per-batch losses of a linear model on Gaussian prompts are heavy-tailed: compare quarter means.
  const size_t q = train.size() / 4;
  ASSERT_GE(q, 10u);
  double first = 0, last = 0;
  for (size_t i = 0; i < q; ++i) {
    first += train[i].get<double>();
    last += train[train.size() - 1 - i].get<double>();
  }
  EXPECT_LT(last, 0.85 * first) << "LSA training loss did not fall";
  fs::remove_all(fs::path(dir).parent_path());
}

TEST(IclCli, BadInputIsOneLineAndNonZero) {
  const std::string base = temp_dir("bad");
  struct Case {
    std::string args, expect;
  };
  const Case cases[] = {
      {"icl --set train.lrr=1 --out " + base + "/a", "train.lrr"},
      {"icl --set model.n_embd=30 --set model.n_head=4 --out " + base + "/b", "divisible"},
      {"icl --set task.d=0 --out " + base + "/c", "task.d"},
      {"icl --set model.n_layer=-1 --out " + base + "/d", "n_layer"},
      {"icl --preset nope --out " + base + "/e", "nope"},
      {"icl --frobnicate", "--frobnicate"},
      {"icl --config " + base + "/missing.json --out " + base + "/f", "missing.json"},
      {"icl --resume --out " + base + "/never-ran", "never-ran"},
      {"nonsense", "nonsense"},
      {"icl --set model.kind=rnn --out " + base + "/g", "model.kind"},
      {"icl --set model.read_in_init_std=-1 --out " + base + "/h", "read_in_init_std"},
  };
  for (const auto& c : cases) expect_one_line_error(c.args, c.expect);
  fs::remove_all(base);
}

TEST(IclCli, ExistingRunFolderIsNotOverwritten) {
  const std::string dir = temp_dir("exists");
  { std::ofstream(dir + "/results.json") << "{\"precious\": true}"; }
  const RunResult r = run_xfmr("icl --preset smoke --out " + dir);
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("already exists"), std::string::npos) << r.out;
  std::ifstream f(dir + "/results.json");
  std::string s((std::istreambuf_iterator<char>(f)), {});
  EXPECT_EQ(s, "{\"precious\": true}");
  fs::remove_all(dir);
}

// A run killed with SIGKILL in mid-training and resumed with --resume has exactly the loss curve of an
// uninterrupted run (same seed, same thread count).
TEST(IclCli, KilledRunResumesBitIdentically) {
  const std::string base = temp_dir("kill");
  const std::string killed = base + "/killed", whole = base + "/whole";
  const std::string bin = std::getenv("XFMR_BIN") ? std::getenv("XFMR_BIN") : XFMR_CLI_PATH;
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    freopen("/dev/null", "w", stdout);
    freopen("/dev/null", "w", stderr);
    execl(bin.c_str(), bin.c_str(), "icl", "--preset", "smoke", "--threads", "1", "--out", killed.c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  // Wait for the first checkpoint, then a little more so the kill lands between checkpoints, mid-run.
  bool saw_checkpoint = false;
  for (int i = 0; i < 600 && !saw_checkpoint; ++i) {
    saw_checkpoint = fs::exists(killed + "/checkpoints/step-500");
    usleep(50 * 1000);
  }
  usleep(300 * 1000);
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(saw_checkpoint) << "no checkpoint appeared within 30 s";
  ASSERT_TRUE(WIFSIGNALED(status)) << "the run finished before it could be killed";
  ASSERT_FALSE(fs::exists(killed + "/results.json"));
  const RunResult resumed = run_xfmr("icl --resume --threads 1 --out " + killed);
  ASSERT_EQ(resumed.code, 0) << resumed.out;
  ASSERT_EQ(run_xfmr("icl --preset smoke --threads 1 --out " + whole).code, 0);
  auto losses = [](const std::string& dir) {
    std::ifstream m(dir + "/metrics.jsonl");
    std::vector<std::string> out;
    std::string line;
    while (std::getline(m, line)) {
      auto j = nlohmann::json::parse(line);
      char buf[64];
      std::snprintf(buf, sizeof buf, "%lld %.17g", j["step"].get<long long>(), j["loss"].get<double>());
      out.push_back(buf);
    }
    return out;
  };
  const auto a = losses(killed), b = losses(whole);
  ASSERT_FALSE(a.empty());
  EXPECT_EQ(a, b);
  fs::remove_all(base);
}
