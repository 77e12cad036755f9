// The generic trainer (train/trainer.h) on a toy regression task (tests/trainer_child/toy_task.h): the loss
// falls, metrics.jsonl is well formed, checkpoints rotate, a run stopped by SIGINT (in-process) or killed
// with SIGKILL (a child process, tests/trainer_child) and resumed has a loss curve bit-identical to an
// uninterrupted run, damaged checkpoints give a clear Error, and bad configs are rejected.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "trainer_child/toy_task.h"
#include "xfmr/core/parallel.h"
#include "xfmr/io/config.h"
#include "xfmr/io/file_util.h"
#include "xfmr/io/safetensors.h"
#include "xfmr/train/trainer.h"

using namespace xfmr;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// A fresh, empty directory under the system temp dir, removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = (fs::temp_directory_path() /
             (std::string("xfmr_trainer_") + info->name() + "_" + std::to_string(::getpid())))
                .string();
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string sub(const std::string& name) const { return path_ + "/" + name; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::vector<json> read_metrics(const std::string& run_dir) {
  std::ifstream in(run_dir + "/metrics.jsonl");
  std::vector<json> out;
  std::string line;
  while (std::getline(in, line)) out.push_back(json::parse(line));  // throws on a malformed line
  return out;
}

// "step loss" per metrics line, the loss printed with %.17g: equal strings mean bit-identical doubles.
std::vector<std::string> loss_curve(const std::string& run_dir) {
  std::vector<std::string> out;
  for (const auto& m : read_metrics(run_dir)) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%lld %.17g", static_cast<long long>(m.at("step").get<int64_t>()),
                  m.at("loss").get<double>());
    out.emplace_back(buf);
  }
  return out;
}

TrainConfig small_config() {
  TrainConfig cfg;
  cfg.steps = 60;
  cfg.lr = 1e-2;
  cfg.warmup = 5;
  cfg.min_lr = 1e-3;
  cfg.weight_decay = 0.01;
  cfg.eval_every = 20;
  cfg.log_every = 1;
  cfg.checkpoint_every = 25;
  cfg.keep_checkpoints = 2;
  cfg.seed = 3;
  return cfg;
}

class ThreadCount {  // pins the thread count so curves are comparable; restores it after
 public:
  explicit ThreadCount(int n) : old_(num_threads()) { set_num_threads(n); }
  ~ThreadCount() { set_num_threads(old_); }

 private:
  int old_;
};

struct OuterConfig {  // how a job nests the trainer's settings: keys "train.*"
  TrainConfig train;
  template <class V>
  void visit(V& v) {
    v("train", train);
  }
};

}  // namespace

TEST(TrainerConfig, ValidateNamesTheField) {
  auto expect_bad = [](auto mutate, const std::string& field) {
    TrainConfig c;
    mutate(c);
    try {
      config::validate(c);
      ADD_FAILURE() << "no error for bad " << field;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(field), std::string::npos) << e.what();
    }
  };
  expect_bad([](TrainConfig& c) { c.steps = 0; }, "steps");
  expect_bad([](TrainConfig& c) { c.lr = -1; }, "lr");
  expect_bad([](TrainConfig& c) { c.lr = std::nan(""); }, "lr");
  expect_bad([](TrainConfig& c) { c.schedule = "step"; }, "schedule");
  expect_bad([](TrainConfig& c) { c.warmup = -1; }, "warmup");
  expect_bad([](TrainConfig& c) { c.warmup = c.steps + 1; }, "warmup");
  expect_bad([](TrainConfig& c) { c.min_lr = c.lr * 2; }, "min_lr");
  expect_bad([](TrainConfig& c) { c.weight_decay = -0.1; }, "weight_decay");
  expect_bad([](TrainConfig& c) { c.beta1 = 1.0; }, "beta1");
  expect_bad([](TrainConfig& c) { c.beta2 = -0.5; }, "beta2");
  expect_bad([](TrainConfig& c) { c.eps = 0; }, "eps");
  expect_bad([](TrainConfig& c) { c.grad_clip = -1; }, "grad_clip");
  expect_bad([](TrainConfig& c) { c.eval_every = -1; }, "eval_every");
  expect_bad([](TrainConfig& c) { c.log_every = -1; }, "log_every");
  expect_bad([](TrainConfig& c) { c.checkpoint_every = -1; }, "checkpoint_every");
  expect_bad([](TrainConfig& c) { c.keep_checkpoints = 0; }, "keep_checkpoints");
  expect_bad([](TrainConfig& c) { c.max_minutes = -1; }, "max_minutes");
  TrainConfig ok;
  EXPECT_NO_THROW(config::validate(ok));
}

TEST(TrainerConfig, NestedOverridesAndTrainRejectsBadConfig) {
  OuterConfig o;
  const std::vector<std::string> ov{"train.lr=0.5", "train.schedule=linear", "train.seed=9"};
  config::apply_overrides(o, ov);
  EXPECT_EQ(o.train.lr, 0.5);
  EXPECT_EQ(o.train.schedule, "linear");
  EXPECT_EQ(o.train.seed, 9u);
  // JSON round trip (the form stored in state.json), with uint64 seed and doubles bit-exact.
  o.train.seed = 18446744073709551615ull;
  o.train.lr = 0.1 + 0.2;
  OuterConfig back;
  config::from_json(back, config::to_json(o));
  EXPECT_EQ(back.train.seed, o.train.seed);
  EXPECT_EQ(back.train.lr, o.train.lr);
  EXPECT_EQ(config::to_json(back), config::to_json(o));
  o.train.steps = -3;
  try {
    config::validate(o);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("section 'train'"), std::string::npos) << e.what();
  }
  TempDir tmp;
  test::ToyTask task;
  TrainConfig bad = small_config();
  bad.keep_checkpoints = 0;
  EXPECT_THROW(train(task, bad, tmp.sub("run"), false), Error);
}

TEST(Trainer, LossFallsMetricsAndCheckpointRotation) {
  ThreadCount threads(1);
  TempDir tmp;
  const std::string run = tmp.sub("run");
  test::ToyTask task;
  TrainConfig cfg = small_config();
  cfg.steps = 300;
  cfg.warmup = 20;
  cfg.log_every = 50;
  cfg.eval_every = 100;
  cfg.checkpoint_every = 60;
  std::vector<StepInfo> infos;
  const TrainResult r = train(task, cfg, run, false, [&](const StepInfo& s) { infos.push_back(s); });
  EXPECT_EQ(r.steps_done, 300);
  EXPECT_FALSE(r.interrupted);
  EXPECT_EQ(r.resumed_from, -1);
  EXPECT_EQ(r.last_checkpoint, checkpoint_path(run, 300));

  ASSERT_EQ(infos.size(), 300u);
  for (size_t i = 0; i < infos.size(); ++i) EXPECT_EQ(infos[i].step, static_cast<int64_t>(i + 1));
  const double first = infos.front().loss, last = infos.back().loss;
  EXPECT_LT(last, first * 0.05) << "loss " << first << " -> " << last;
  EXPECT_EQ(r.final_loss, last);
  EXPECT_GT(infos.back().tokens_per_s, 0.0);
  EXPECT_GE(infos.back().elapsed_s, infos.front().elapsed_s);
  EXPECT_DOUBLE_EQ(infos[10].lr, 1e-2 * 11 / 20);  // warmup: lr * (step + 1) / warmup, step 10 (0-based)

  // metrics.jsonl: steps 50, 100, ..., 300; eval fields on 100, 200, 300.
  const std::vector<json> m = read_metrics(run);
  ASSERT_EQ(m.size(), 6u);
  for (size_t i = 0; i < m.size(); ++i) {
    const int64_t step = 50 * static_cast<int64_t>(i + 1);
    EXPECT_EQ(m[i].at("step").get<int64_t>(), step);
    for (const char* k : {"loss", "lr", "grad_norm", "tokens_per_s", "elapsed_s"})
      EXPECT_TRUE(m[i].contains(k) && m[i][k].is_number()) << k << " in " << m[i].dump();
    EXPECT_EQ(m[i]["loss"].get<double>(), infos[step - 1].loss);  // written with round-trip precision
    EXPECT_EQ(m[i]["lr"].get<double>(), infos[step - 1].lr);
    EXPECT_EQ(m[i].contains("val_loss"), step % 100 == 0) << m[i].dump();
  }
  EXPECT_EQ(task.evaluations, 3);
  EXPECT_LT(m.back()["val_loss"].get<double>(), m[1]["val_loss"].get<double>());

  // Rotation: checkpoints at 60, 120, 180, 240, 300; the newest two remain, no temp dirs.
  EXPECT_EQ(list_checkpoints(run), (std::vector<int64_t>{240, 300}));
  size_t entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(run + "/checkpoints")) ++entries;
  EXPECT_EQ(entries, 2u);
  const std::string ck = checkpoint_path(run, 300);
  const json st = json::parse(io::read_file(ck + "/state.json"));
  EXPECT_EQ(st.at("step").get<int64_t>(), 300);
  EXPECT_EQ(st.at("version").get<int>(), 1);
  EXPECT_EQ(st.at("optimizer").at("step_count").get<int64_t>(), 300);
  EXPECT_EQ(st.at("data_generator").at("seed").get<uint64_t>(), cfg.seed);
  EXPECT_GT(st.at("data_generator").at("offset").get<uint64_t>(), 0u);
  EXPECT_EQ(st.at("train").at("steps").get<int64_t>(), 300);
  const auto mf = io::load_safetensors(ck + "/model.safetensors");
  EXPECT_EQ(mf.size(), task.model().named_parameters().size());
  EXPECT_TRUE(mf.contains("fc1.weight"));
  const auto of = io::load_safetensors(ck + "/optimizer.safetensors");
  EXPECT_TRUE(of.contains("exp_avg.fc2.bias"));
  EXPECT_EQ(of.get("step.fc1.weight").item(), 300.0);

  // load_model: a fresh model with other initial weights evaluates exactly like the trained one.
  {
    test::ToyTask fresh(/*init_seed=*/99);
    load_model(fresh.model(), ck);
    json ev;
    NoGradGuard ng;
    fresh.evaluate(300, ev);
    EXPECT_EQ(ev["val_loss"].get<double>(), m.back()["val_loss"].get<double>());
    Generator g(5);
    test::ToyMlp other(test::ToyTask::kIn, 5, test::ToyTask::kOut, g);
    try {
      load_model(other, ck);
      ADD_FAILURE() << "no error";
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find("load_model"), std::string::npos) << msg;
      EXPECT_NE(msg.find("fc1.weight"), std::string::npos) << msg;
    }
  }

  // A finished run resumed: nothing to do.
  test::ToyTask again;
  const TrainResult r2 = train(again, cfg, run, true);
  EXPECT_EQ(r2.steps_done, 300);
  EXPECT_EQ(r2.resumed_from, 300);
  EXPECT_EQ(read_metrics(run).size(), 6u);
  // Starting over into a directory with checkpoints is refused.
  try {
    train(again, cfg, run, false);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("already has checkpoints"), std::string::npos) << e.what();
  }
}

namespace {
volatile std::sig_atomic_t g_outer_handler_hits = 0;
extern "C" void outer_handler(int) {
  g_outer_handler_hits = 1;
}
}  // namespace

TEST(Trainer, SigintStopThenResumeIsBitIdentical) {
  ThreadCount threads(1);
  TempDir tmp;
  const TrainConfig cfg = small_config();  // 60 steps, checkpoints every 25
  {
    test::ToyTask task;
    train(task, cfg, tmp.sub("full"), false);
  }
  // The caller's SIGINT handler must be back in place after train().
  struct sigaction sa {
  }, old{};
  sa.sa_handler = outer_handler;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, &old);
  const std::string run = tmp.sub("stopped");
  {
    test::ToyTask task;
    const TrainResult r = train(task, cfg, run, false, [](const StepInfo& s) {
      if (s.step == 37) std::raise(SIGINT);  // the step finishes, a checkpoint is written, train() returns
    });
    EXPECT_TRUE(r.interrupted);
    EXPECT_EQ(r.steps_done, 37);
    EXPECT_EQ(r.last_checkpoint, checkpoint_path(run, 37));
    EXPECT_EQ(list_checkpoints(run), (std::vector<int64_t>{25, 37}));
  }
  std::raise(SIGINT);
  EXPECT_EQ(g_outer_handler_hits, 1);
  ::sigaction(SIGINT, &old, nullptr);
  {
    // Different initial weights: everything must come from the checkpoint.
    test::ToyTask task(/*init_seed=*/99);
    const TrainResult r = train(task, cfg, run, true);
    EXPECT_FALSE(r.interrupted);
    EXPECT_EQ(r.resumed_from, 37);
    EXPECT_EQ(r.steps_done, 60);
  }
  const auto full = loss_curve(tmp.sub("full")), resumed = loss_curve(run);
  ASSERT_EQ(full.size(), 60u);
  EXPECT_EQ(resumed, full);
  // The eval fields match too (the model after the resume is bit-identical).
  EXPECT_EQ(read_metrics(run).back()["val_loss"].get<double>(),
            read_metrics(tmp.sub("full")).back()["val_loss"].get<double>());
}

TEST(Trainer, ResumeRejectsDamagedCheckpoints) {
  ThreadCount threads(1);
  TempDir tmp;
  TrainConfig cfg = small_config();
  cfg.steps = 30;
  cfg.checkpoint_every = 10;
  cfg.keep_checkpoints = 3;
  const std::string run = tmp.sub("run");
  {
    test::ToyTask task;
    train(task, cfg, run, false);
  }
  ASSERT_EQ(list_checkpoints(run), (std::vector<int64_t>{10, 20, 30}));
  cfg.steps = 40;
  auto expect_resume_error = [&](const std::vector<std::string>& needles) {
    test::ToyTask task;
    try {
      train(task, cfg, run, true);
      ADD_FAILURE() << "no error";
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
      for (const auto& n : needles)
        EXPECT_NE(msg.find(n), std::string::npos) << "'" << n << "' not in: " << msg;
    }
  };
  const std::string ck30 = checkpoint_path(run, 30);

  // Truncated model.safetensors.
  const std::string model_bytes = io::read_file(ck30 + "/model.safetensors");
  io::write_file_atomic(ck30 + "/model.safetensors",
                        std::string_view(model_bytes).substr(0, model_bytes.size() / 2));
  expect_resume_error({"step-30/model.safetensors", "resume"});
  io::write_file_atomic(ck30 + "/model.safetensors", model_bytes);

  // A tensor with the wrong shape, then a missing one, in the optimizer state.
  {
    const auto of = io::load_safetensors(ck30 + "/optimizer.safetensors");
    std::vector<std::pair<std::string, Tensor>> ts;
    for (const auto& n : of.names()) ts.emplace_back(n, of.copy(n));
    const std::string orig = io::read_file(ck30 + "/optimizer.safetensors");
    auto wrong = ts;
    for (auto& [n, t] : wrong)
      if (n == "exp_avg.fc1.weight") t = Tensor::zeros({3, 3});
    io::save_safetensors(ck30 + "/optimizer.safetensors", wrong);
    expect_resume_error({"optimizer.safetensors", "exp_avg.fc1.weight", "[3, 3]"});
    auto missing = ts;
    missing.erase(missing.begin());
    io::save_safetensors(ck30 + "/optimizer.safetensors", missing);
    expect_resume_error({"optimizer.safetensors", "has no tensor"});
    io::write_file_atomic(ck30 + "/optimizer.safetensors", orig);
  }

  // state.json: truncated, and a step that does not match the directory.
  const std::string state = io::read_file(ck30 + "/state.json");
  io::write_file_atomic(ck30 + "/state.json", std::string_view(state).substr(0, state.size() / 2));
  expect_resume_error({"step-30/state.json", "truncated or corrupt"});
  json st = json::parse(state);
  st["step"] = 20;
  io::write_file_atomic(ck30 + "/state.json", st.dump());
  expect_resume_error({"step-30/state.json", "does not match"});
  fs::remove(ck30 + "/state.json");
  expect_resume_error({"step-30/state.json"});
  io::write_file_atomic(ck30 + "/state.json", state);

  // Nothing was changed by the failed attempts: metrics still end at 30, all checkpoints are there.
  EXPECT_EQ(read_metrics(run).back()["step"].get<int64_t>(), 30);
  EXPECT_EQ(list_checkpoints(run), (std::vector<int64_t>{10, 20, 30}));

  // A half-written checkpoint directory (a writer killed before its rename) is ignored and removed; a partial
  // trailing metrics line is cut off.
  fs::create_directories(run + "/checkpoints/.tmp-step-40-12345");
  io::write_file_atomic(run + "/checkpoints/.tmp-step-40-12345/model.safetensors", "garbage");
  { std::ofstream(run + "/metrics.jsonl", std::ios::app) << "{\"step\": 31, \"lo"; }
  test::ToyTask task;
  const TrainResult r = train(task, cfg, run, true);
  EXPECT_EQ(r.resumed_from, 30);
  EXPECT_EQ(r.steps_done, 40);
  EXPECT_FALSE(fs::exists(run + "/checkpoints/.tmp-step-40-12345"));
  const auto m = read_metrics(run);
  ASSERT_EQ(m.size(), 40u);
  for (size_t i = 0; i < m.size(); ++i) EXPECT_EQ(m[i]["step"].get<int64_t>(), static_cast<int64_t>(i + 1));
}

TEST(Trainer, ResumeWithoutCheckpointStartsFresh) {
  ThreadCount threads(1);
  TempDir tmp;
  TrainConfig cfg = small_config();
  cfg.steps = 10;
  test::ToyTask task;
  const TrainResult r = train(task, cfg, tmp.sub("run"), true);
  EXPECT_EQ(r.resumed_from, -1);
  EXPECT_EQ(r.steps_done, 10);
  EXPECT_EQ(read_metrics(tmp.sub("run")).size(), 10u);
}

// train.max_minutes: the step that reaches the budget is the last one, run like the final step (evaluated and
// checkpointed), and the result says the time limit, not a signal, ended it.
TEST(Trainer, MaxMinutesEndsTheRunLikeALastStep) {
  ThreadCount threads(1);
  TempDir tmp;
  TrainConfig cfg = small_config();
  cfg.steps = 10;
  cfg.eval_every = 0;
  cfg.max_minutes = 1e-9;  // reached by the first step
  test::ToyTask task;
  const TrainResult r = train(task, cfg, tmp.sub("run"), false);
  EXPECT_EQ(r.steps_done, 1);
  EXPECT_TRUE(r.time_limit_reached);
  EXPECT_FALSE(r.interrupted);
  EXPECT_EQ(list_checkpoints(tmp.sub("run")), std::vector<int64_t>{1});
  const auto m = read_metrics(tmp.sub("run"));
  ASSERT_EQ(m.size(), 1u);
  EXPECT_TRUE(m[0].contains("val_loss")) << m[0].dump();
  cfg.max_minutes = 0;  // no limit: the run completes
  const TrainResult full = train(task, cfg, tmp.sub("run2"), false);
  EXPECT_EQ(full.steps_done, 10);
  EXPECT_FALSE(full.time_limit_reached);
}

#ifdef XFMR_TRAINER_CHILD
namespace {

pid_t spawn_child(const std::string& run, int steps, bool resume, int sleep_ms, const char* mode = nullptr) {
  const std::string s = std::to_string(steps), sl = std::to_string(sleep_ms);
  const pid_t pid = ::fork();
  if (pid == 0) {
    const char* argv[] = {XFMR_TRAINER_CHILD, run.c_str(), s.c_str(), resume ? "1" : "0",
                          sl.c_str(),         mode,        nullptr};
    ::execv(argv[0], const_cast<char* const*>(argv));
    std::_Exit(127);
  }
  return pid;
}

int wait_exit_code(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

size_t count_lines(const std::string& path) {
  std::ifstream in(path);
  size_t n = 0;
  std::string line;
  while (std::getline(in, line)) ++n;
  return n;
}

// The child is almost surely inside a step when the signal arrives: each step sleeps in TrainTask::loss.
// Waits until checkpoint step-`ckpt` exists and `more` further metrics lines were written, then sends `sig`.
void signal_after(pid_t pid, const std::string& run, int64_t ckpt, size_t more, int sig) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    const auto cks = list_checkpoints(run);
    if (!cks.empty() && cks.back() >= ckpt &&
        count_lines(run + "/metrics.jsonl") >= static_cast<size_t>(ckpt) + more)
      break;
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  ::kill(pid, sig);
}

void kill_after(pid_t pid, const std::string& run, int64_t ckpt, size_t more) {
  signal_after(pid, run, ckpt, more, SIGKILL);
  EXPECT_EQ(wait_exit_code(pid), -SIGKILL) << "the child finished before it could be killed";
}

}  // namespace

TEST(Trainer, SigkillMidRunThenResumeIsBitIdentical) {
  TempDir tmp;
  const int steps = 60;  // checkpoints every 10 (trainer_child.cc)
  const std::string full = tmp.sub("full"), run = tmp.sub("killed");
  ASSERT_EQ(wait_exit_code(spawn_child(full, steps, false, 0)), 0);

  kill_after(spawn_child(run, steps, false, 4), run, 10, 3);  // killed around step 13
  const size_t lines_at_kill = count_lines(run + "/metrics.jsonl");
  EXPECT_GT(lines_at_kill, 10u);
  kill_after(spawn_child(run, steps, true, 4), run, 30, 2);  // resumed, killed again around step 32
  ASSERT_EQ(wait_exit_code(spawn_child(run, steps, true, 0)), 0);

  const auto a = loss_curve(full), b = loss_curve(run);
  ASSERT_EQ(a.size(), static_cast<size_t>(steps));
  EXPECT_EQ(b, a);
  EXPECT_EQ(list_checkpoints(run), (std::vector<int64_t>{50, 60}));
  EXPECT_EQ(io::read_file(checkpoint_path(run, 60) + "/model.safetensors"),
            io::read_file(checkpoint_path(full, 60) + "/model.safetensors"));
}

TEST(Trainer, SigtermStopsCleanlyThenResumeIsBitIdentical) {
  TempDir tmp;
  const int steps = 40;
  const std::string full = tmp.sub("full"), run = tmp.sub("stopped");
  ASSERT_EQ(wait_exit_code(spawn_child(full, steps, false, 0)), 0);
  const pid_t pid = spawn_child(run, steps, false, 4);
  signal_after(pid, run, 10, 3, SIGTERM);
  ASSERT_EQ(wait_exit_code(pid), 3) << "expected a clean interrupted exit";
  // The stop step got its own checkpoint, and no metrics line goes beyond it.
  const auto cks = list_checkpoints(run);
  ASSERT_FALSE(cks.empty());
  const int64_t stopped_at = cks.back();
  EXPECT_GT(stopped_at, 10);
  EXPECT_LT(stopped_at, steps);
  EXPECT_EQ(read_metrics(run).back()["step"].get<int64_t>(), stopped_at);
  ASSERT_EQ(wait_exit_code(spawn_child(run, steps, true, 0)), 0);
  EXPECT_EQ(loss_curve(run), loss_curve(full));
}

// The steady-state step loop (trainer + the toy task's forward/backward) performs no heap allocation:
// counted in the child, which replaces operator new, between the callbacks of steps 10 and 40.
TEST(Trainer, SteadyStateStepsDoNotAllocate) {
  TempDir tmp;
  const std::string run = tmp.sub("run");
  ASSERT_EQ(wait_exit_code(spawn_child(run, 50, false, 0, "alloc")), 0);
  EXPECT_EQ(io::read_file(run + "/alloc_count.txt"), "0");
}
#endif
