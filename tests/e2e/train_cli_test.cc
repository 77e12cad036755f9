// End-to-end: `xfmr prepare` and `xfmr train` as a user runs them, on a slice of tiny Shakespeare: the loss
// falls, the run folder is complete, a killed run resumes bit-identically, and bad input is a one-line error.
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
#include "xfmr/io/file_util.h"
#include "xfmr/models/pretrained.h"
#include "xfmr/tasks/text_data.h"

namespace fs = std::filesystem;

namespace {

using RunResult = xfmr::test::CliResult;
using xfmr::test::expect_one_line_error;
using xfmr::test::run_xfmr;

std::string bin() { return xfmr::test::xfmr_bin(); }

std::string temp_dir(const std::string& tag) { return xfmr::test::temp_dir("train_" + tag); }

// The first `bytes` of tiny Shakespeare as a text file in `dir`.
std::string shakespeare_slice(const std::string& dir, size_t bytes) {
  const std::string text = xfmr::io::read_file(std::string(XFMR_SOURCE_DIR) + "/data/text/tinyshakespeare.txt");
  const std::string path = dir + "/shakespeare_slice.txt";
  xfmr::io::write_file_atomic(path, text.substr(0, bytes));
  return path;
}

std::vector<nlohmann::json> metrics(const std::string& run) {
  std::ifstream m(run + "/metrics.jsonl");
  std::vector<nlohmann::json> out;
  std::string line;
  while (std::getline(m, line)) out.push_back(nlohmann::json::parse(line));
  return out;
}

}  // namespace

TEST(TrainCli, PrepareThenTrainSmokeLossFallsAndWritesReport) {
  const std::string base = temp_dir("smoke");
  const std::string text = shakespeare_slice(base, 100000);
  const RunResult p = run_xfmr("prepare --input " + text + " --tokenizer char --out " + base + "/data");
  ASSERT_EQ(p.code, 0) << p.out;
  EXPECT_NE(p.out.find("train"), std::string::npos) << p.out;
  for (const char* f : {"train.bin", "val.bin", "meta.json", "tokenizer.json"})
    EXPECT_TRUE(fs::exists(base + "/data/" + f)) << f;

  const std::string run = base + "/run";
  const RunResult r = run_xfmr("train --preset smoke --threads 1 --set data.path=" + base + "/data --out " + run);
  ASSERT_EQ(r.code, 0) << r.out;
  for (const char* f : {"config.json", "metrics.jsonl", "results.json", "report.html", "model/config.json",
                        "model/model.safetensors", "model/tokenizer.json"})
    EXPECT_TRUE(fs::exists(run + "/" + f)) << f;
  const auto m = metrics(run);
  ASSERT_GE(m.size(), 10u);
  double first_val = 0, last_val = 0;
  int evals = 0;
  for (const auto& j : m) {
    if (!j.contains("val_loss")) continue;
    if (evals++ == 0) first_val = j["val_loss"].get<double>();
    last_val = j["val_loss"].get<double>();
    EXPECT_TRUE(j.contains("val_ppl") && j.contains("sample")) << j.dump();
  }
  EXPECT_EQ(evals, 3);
  EXPECT_LT(m.back()["loss"].get<double>(), 0.85 * m.front()["loss"].get<double>()) << "training loss did not fall";
  EXPECT_LT(last_val, std::log(65.0)) << "val loss not below the uniform guess";
  EXPECT_LE(last_val, first_val);
  // The exported model loads and its config matches the run.
  auto model = xfmr::models::load_pretrained(run + "/model");
  EXPECT_EQ(model->model_type(), "gpt2");
  EXPECT_EQ(model->block_size(), 32);
  const std::string html = xfmr::io::read_file(run + "/report.html");
  EXPECT_NE(html.find("val_loss"), std::string::npos);
  EXPECT_NE(html.find("sample at step 60"), std::string::npos);
  fs::remove_all(base);
}

TEST(TrainCli, LlamaTrainsFromATextFile) {
  const std::string base = temp_dir("llama");
  const std::string text = shakespeare_slice(base, 60000);
  const std::string run = base + "/run";
  // A config file over the preset, then a --set over the file.
  xfmr::io::write_file_atomic(base + "/llama.json", "{\"model\": {\"type\": \"llama\", \"n_kv_head\": 2},\n"
                                                    " \"data\": {\"path\": \"" + text + "\"}}\n");
  const RunResult r = run_xfmr("train --preset smoke --threads 1 --config " + base + "/llama.json --set model.n_kv_head=1 --out " + run);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(fs::exists(run + "/data/train.bin"));  // prepared into the run folder
  const auto m = metrics(run);
  EXPECT_LT(m.back()["loss"].get<double>(), 0.85 * m.front()["loss"].get<double>());
  auto model = xfmr::models::load_pretrained(run + "/model");
  EXPECT_EQ(model->model_type(), "llama");
  const auto cfg = nlohmann::json::parse(xfmr::io::read_file(run + "/model/config.json"));
  EXPECT_EQ(cfg["num_key_value_heads"], 1);
  EXPECT_EQ(cfg["num_attention_heads"], 2);
  fs::remove_all(base);
}

// A run killed with SIGKILL mid-training and continued with --resume writes exactly the metrics of an
// uninterrupted run (losses, gradient norms, eval losses and samples; timing fields aside).
TEST(TrainCli, KilledRunResumesBitIdentically) {
  const std::string base = temp_dir("kill");
  const std::string text = shakespeare_slice(base, 100000);
  const std::string killed = base + "/killed", whole = base + "/whole";
  const std::vector<std::string> args = {"train", "--preset", "smoke", "--threads", "1", "--set", "data.path=" + text,
                                         "--set", "train.steps=600", "--set", "train.checkpoint_every=50",
                                         "--set", "train.eval_every=100", "--set", "model.dropout=0.1"};
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    freopen("/dev/null", "w", stdout);
    freopen("/dev/null", "w", stderr);
    std::vector<char*> argv;
    const std::string b = bin(), out_flag = "--out";
    argv.push_back(const_cast<char*>(b.c_str()));
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(const_cast<char*>(out_flag.c_str()));
    argv.push_back(const_cast<char*>(killed.c_str()));
    argv.push_back(nullptr);
    execv(b.c_str(), argv.data());
    _exit(127);
  }
  bool saw = false;
  for (int i = 0; i < 20000 && !saw; ++i) {
    saw = fs::exists(killed + "/checkpoints/step-150");
    usleep(1000);
  }
  usleep(20 * 1000);
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(saw) << "no checkpoint appeared within 20 s";
  ASSERT_TRUE(WIFSIGNALED(status)) << "the run finished before it could be killed";
  ASSERT_FALSE(fs::exists(killed + "/results.json"));
  const RunResult resumed = run_xfmr("train --resume " + killed + " --threads 1");
  ASSERT_EQ(resumed.code, 0) << resumed.out;
  std::string cmd;
  for (const auto& a : args) cmd += (a.find(' ') == std::string::npos ? a : "'" + a + "'") + " ";
  ASSERT_EQ(run_xfmr(cmd + "--out " + whole).code, 0);
  auto strip = [](std::vector<nlohmann::json> v) {
    for (auto& j : v) {
      j.erase("tokens_per_s");
      j.erase("elapsed_s");
    }
    return v;
  };
  const auto a = strip(metrics(killed)), b = strip(metrics(whole));
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].dump(), b[i].dump()) << "line " << i;
  // The final models are identical too.
  EXPECT_EQ(xfmr::io::read_file(killed + "/model/model.safetensors"), xfmr::io::read_file(whole + "/model/model.safetensors"));
  fs::remove_all(base);
}

TEST(TrainCli, BadInputIsOneLineAndNonZero) {
  const std::string base = temp_dir("bad");
  const std::string text = shakespeare_slice(base, 3000);
  xfmr::io::write_file_atomic(base + "/empty.txt", "");
  xfmr::io::write_file_atomic(base + "/typo.json", "{\"modle\": {\"n_layer\": 2}}");
  // A prepared folder whose val.bin is cut short (header count vs file size).
  ASSERT_EQ(run_xfmr("prepare --input " + text + " --out " + base + "/corrupt").code, 0);
  const std::string val = xfmr::io::read_file(base + "/corrupt/val.bin");
  xfmr::io::write_file_atomic(base + "/corrupt/val.bin", val.substr(0, val.size() - 3));
  const std::string d = " --set data.path=" + text + " --out " + base;
  struct Case {
    std::string args, expect;
  };
  const Case cases[] = {
      {"train --preset smoke --set model.type=bert" + d + "/a", "unknown model type 'bert'"},
      {"train --preset smoke --set model.n_layerz=2" + d + "/b", "model.n_layerz"},
      {"train --preset smoke --set model.n_embd=30 --set model.n_head=4" + d + "/c", "divisible by model.n_head"},
      {"train --preset smoke --set model.type=llama --set model.n_head=4 --set model.n_kv_head=3" + d + "/e",
       "divisible by model.n_kv_head"},
      {"train --preset smoke --set model.block_size=400" + d + "/f", "fewer than model.block_size + 1 = 401"},
      {"train --preset smoke --set data.path=" + base + "/empty.txt --out " + base + "/g", "empty"},
      {"train --preset smoke --set data.path=" + base + "/corrupt --out " + base + "/h", "header says"},
      {"train --preset nope --out " + base + "/i", "unknown preset 'nope'"},
      {"train --preset smoke --config " + base + "/typo.json --out " + base + "/l", "modle"},
      {"train --resume " + base + "/never-ran", "never-ran"},
      {"prepare --input " + base + "/nothing.txt --out " + base + "/j", "does not exist"},
      {"prepare --input " + text + " --tokenizer klingon --out " + base + "/k", "klingon"},
  };
  for (const auto& c : cases) expect_one_line_error(c.args, c.expect);
  fs::remove_all(base);
}
