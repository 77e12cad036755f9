#include "xfmr/train/trainer.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <utility>
#include <vector>

#include "xfmr/core/autograd.h"
#include "xfmr/core/check.h"
#include "xfmr/io/config.h"
#include "xfmr/kernels/cpu/gemm_blas.h"
#include "xfmr/io/file_util.h"
#include "xfmr/io/safetensors.h"
#include "xfmr/train/clip.h"
#include "xfmr/train/optimizer.h"
#include "xfmr/train/schedule.h"

namespace xfmr {

namespace fs = std::filesystem;
using OJson = nlohmann::ordered_json;

void TrainConfig::validate() const {
  XF_CHECK(steps > 0, "steps must be > 0, got ", steps);
  XF_CHECK(std::isfinite(lr) && lr >= 0, "lr must be finite and >= 0, got ", lr);
  XF_CHECK(schedule == "constant" || schedule == "cosine" || schedule == "linear",
           "schedule must be constant|cosine|linear, got '", schedule, "'");
  XF_CHECK(warmup >= 0 && warmup <= steps, "warmup must be in [0, steps=", steps, "], got ", warmup);
  XF_CHECK(std::isfinite(min_lr) && min_lr >= 0 && min_lr <= lr, "min_lr must be in [0, lr=", lr, "], got ",
           min_lr);
  XF_CHECK(std::isfinite(weight_decay) && weight_decay >= 0, "weight_decay must be >= 0, got ", weight_decay);
  XF_CHECK(beta1 >= 0 && beta1 < 1, "beta1 must be in [0, 1), got ", beta1);
  XF_CHECK(beta2 >= 0 && beta2 < 1, "beta2 must be in [0, 1), got ", beta2);
  XF_CHECK(std::isfinite(eps) && eps > 0, "eps must be > 0, got ", eps);
  XF_CHECK(std::isfinite(grad_clip) && grad_clip >= 0, "grad_clip must be >= 0 (0 = off), got ", grad_clip);
  parse_matmul_precision(precision, "precision");
  XF_CHECK(eval_every >= 0, "eval_every must be >= 0 (0 = only at the end), got ", eval_every);
  XF_CHECK(log_every >= 0, "log_every must be >= 0, got ", log_every);
  XF_CHECK(checkpoint_every >= 0, "checkpoint_every must be >= 0 (0 = only at the end), got ",
           checkpoint_every);
  XF_CHECK(keep_checkpoints >= 1, "keep_checkpoints must be >= 1, got ", keep_checkpoints);
  XF_CHECK(std::isfinite(max_minutes) && max_minutes >= 0, "max_minutes must be finite and >= 0, got ", max_minutes);
}

namespace {

constexpr int kFormatVersion = 1;
constexpr const char* kFormatName = "xfmr-train-checkpoint";

// ---- signals ----

// Set by the handler; read once per step. A plain flag is all an async-signal-safe handler may touch.
volatile std::sig_atomic_t g_stop_requested = 0;

extern "C" void on_stop_signal(int) {
  g_stop_requested = 1;
}

// Installs the SIGINT/SIGTERM handlers for the lifetime of train() and restores the previous ones.
class SignalScope {
 public:
  SignalScope() {
    g_stop_requested = 0;
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;  // don't make the kernels' or writers' syscalls fail with EINTR
    ::sigaction(SIGINT, &sa, &old_int_);
    ::sigaction(SIGTERM, &sa, &old_term_);
  }
  ~SignalScope() {
    ::sigaction(SIGINT, &old_int_, nullptr);
    ::sigaction(SIGTERM, &old_term_, nullptr);
  }
  SignalScope(const SignalScope&) = delete;
  SignalScope& operator=(const SignalScope&) = delete;

 private:
  struct sigaction old_int_ {
  }, old_term_{};
};

// ---- files ----

std::string errno_str() {
  return std::strerror(errno);
}

void fsync_dir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

std::string checkpoints_dir(const std::string& run_dir) {
  return (fs::path(run_dir) / "checkpoints").string();
}

// "step-123" -> 123; -1 for any other name (temp directories, stray files).
int64_t parse_step_name(const std::string& name) {
  if (name.size() <= 5 || name.compare(0, 5, "step-") != 0) return -1;
  int64_t v = 0;
  for (size_t i = 5; i < name.size(); ++i) {
    const char c = name[i];
    if (c < '0' || c > '9' || v > (std::numeric_limits<int64_t>::max() - 9) / 10) return -1;
    v = v * 10 + (c - '0');
  }
  return v;
}

void remove_temp_dirs(const std::string& run_dir) {
  std::error_code ec;
  const fs::path dir = checkpoints_dir(run_dir);
  if (!fs::is_directory(dir, ec)) return;
  std::vector<fs::path> tmp;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.path().filename().string().rfind(".tmp-", 0) == 0) tmp.push_back(e.path());
  for (const auto& p : tmp) fs::remove_all(p, ec);
}

// Appends metrics lines with one write(2) each (O_APPEND), so a killed process leaves whole lines plus at
// most one partial trailing line.
class MetricsFile {
 public:
  MetricsFile(const std::string& path) : path_(path) {
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
    XF_CHECK(fd_ >= 0, "train: cannot open '", path, "': ", errno_str());
  }
  ~MetricsFile() {
    if (fd_ >= 0) ::close(fd_);
  }
  MetricsFile(const MetricsFile&) = delete;
  MetricsFile& operator=(const MetricsFile&) = delete;
  // Makes the lines written so far durable (before a checkpoint that refers to them).
  void sync() { ::fdatasync(fd_); }
  void append(const std::string& line) {
    const char* p = line.data();
    size_t n = line.size();
    while (n > 0) {
      const ssize_t w = ::write(fd_, p, n);
      if (w < 0) {
        if (errno == EINTR) continue;
        throw Error(detail::concat("train: write '", path_, "': ", errno_str()));
      }
      p += w;
      n -= static_cast<size_t>(w);
    }
  }

 private:
  std::string path_;
  int fd_ = -1;
};

// Keeps the lines of metrics.jsonl up to and including `step` (stopping at the first line that does not parse
// or lacks an integer "step", i.e. a partial line left by a kill) and writes the result atomically.
void truncate_metrics(const std::string& path, int64_t step) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return;
  const std::string text = io::read_file(path);
  std::string kept;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) break;  // no newline: a partial last line
    const std::string_view line(text.data() + pos, nl - pos);
    const OJson j = OJson::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object() || !j.contains("step") || !j["step"].is_number_integer()) break;
    if (j["step"].get<int64_t>() > step) break;
    kept.append(line);
    kept.push_back('\n');
    pos = nl + 1;
  }
  if (kept.size() != text.size()) io::write_file_atomic(path, kept);
}

// ---- checkpoints ----

struct Checkpointer {
  const std::string run_dir;
  const TrainConfig& cfg;
  const std::vector<NamedParameter>& params;
  const Optimizer& opt;

  std::string save(int64_t step, const Generator& data, double elapsed_s) const {
    const std::string dir = checkpoints_dir(run_dir);
    std::error_code ec;
    fs::create_directories(dir, ec);
    XF_CHECK(!ec, "train: cannot create '", dir, "': ", ec.message());
    const std::string tmp = (fs::path(dir) / detail::concat(".tmp-step-", step, "-", ::getpid())).string();
    fs::remove_all(tmp, ec);
    fs::create_directory(tmp, ec);
    XF_CHECK(!ec, "train: cannot create '", tmp, "': ", ec.message());
    try {
      std::vector<std::pair<std::string, Tensor>> model_t, opt_t;
      for (const auto& p : params) model_t.emplace_back(p.name, p.tensor.detach());
      for (const auto& s : opt.state()) opt_t.emplace_back(s.name, s.tensor.detach());
      const std::map<std::string, std::string> meta{{"format", kFormatName}};
      io::save_safetensors(tmp + "/model.safetensors", model_t, meta);
      io::save_safetensors(tmp + "/optimizer.safetensors", opt_t, meta);
      OJson st = OJson::object();
      st["format"] = kFormatName;
      st["version"] = kFormatVersion;
      st["step"] = step;
      st["data_generator"] = {{"seed", data.seed()}, {"offset", data.offset()}};
      st["optimizer"] = {{"name", opt.name()}, {"step_count", opt.step_count()}};
      st["elapsed_s"] = elapsed_s;
      st["train"] = config::to_json(cfg);
      io::write_file_atomic(tmp + "/state.json", st.dump(2) + "\n");  // last: its presence marks completeness
    } catch (...) {
      fs::remove_all(tmp, ec);
      throw;
    }
    fsync_dir(tmp);
    const std::string final_dir = checkpoint_path(run_dir, step);
    if (fs::exists(final_dir, ec)) discard(step);  // the same step saved again: rename(2) needs a free name
    if (::rename(tmp.c_str(), final_dir.c_str()) != 0) {
      const std::string err = errno_str();
      fs::remove_all(tmp, ec);
      throw Error(detail::concat("train: cannot rename '", tmp, "' to '", final_dir, "': ", err));
    }
    fsync_dir(dir);
    rotate();
    return final_dir;
  }

  void rotate() const {
    const std::vector<int64_t> steps = list_checkpoints(run_dir);
    const size_t keep = static_cast<size_t>(cfg.keep_checkpoints);
    for (size_t i = 0; i + keep < steps.size(); ++i) discard(steps[i]);
  }

  // Renames step-<N> to a temp name first, so that a kill during the (non-atomic) recursive delete never
  // leaves a half-deleted directory that still looks like a checkpoint.
  void discard(int64_t step) const {
    const std::string from = checkpoint_path(run_dir, step);
    const std::string to =
        (fs::path(checkpoints_dir(run_dir)) / detail::concat(".tmp-old-step-", step, "-", ::getpid()))
            .string();
    std::error_code ec;
    fs::remove_all(to, ec);
    if (::rename(from.c_str(), to.c_str()) != 0) return;  // already gone, or not ours to delete
    fs::remove_all(to, ec);
  }
};

// Checks that `file` holds exactly the tensors `expected` (names, shapes, dtypes). Returns the loaded file.
// `ctx` starts every message ("resume", "load_model").
io::SafetensorsFile load_matching(const std::string& file, const std::vector<NamedParameter>& expected,
                                  const char* what, const char* ctx) {
  io::SafetensorsFile f;
  try {
    f = io::load_safetensors(file);
  } catch (const Error& e) {
    throw Error(detail::concat(ctx, ": ", e.what()));
  }
  for (const auto& p : expected) {
    XF_CHECK(f.contains(p.name), ctx, ": checkpoint '", file, "' has no tensor '", p.name, "' (", what,
             " expects it)");
    const Tensor t = f.get(p.name);
    XF_CHECK(t.shape() == p.tensor.shape() && t.dtype() == p.tensor.dtype(), ctx, ": checkpoint '", file,
             "': tensor '", p.name, "' is ", dtype_name(t.dtype()), t.shape(), " but the ", what, " has ",
             dtype_name(p.tensor.dtype()), p.tensor.shape());
  }
  if (f.size() != expected.size()) {
    for (const auto& n : f.names()) {
      const bool known =
          std::any_of(expected.begin(), expected.end(), [&](const NamedParameter& p) { return p.name == n; });
      XF_CHECK(known, ctx, ": checkpoint '", file, "' has tensor '", n, "' that the ", what,
               " does not have");
    }
  }
  return f;
}

struct LoadedState {
  int64_t step = 0;
  uint64_t seed = 0, offset = 0;
  int64_t opt_step_count = 0;
  double elapsed_s = 0;
};

LoadedState read_state(const std::string& file, int64_t expected_step, const Optimizer& opt) {
  const std::string text = io::read_file(file);
  const OJson j = OJson::parse(text, nullptr, /*allow_exceptions=*/false);
  auto bad = [&](const std::string& why) {
    return Error(detail::concat("resume: checkpoint '", file, "': ", why));
  };
  if (j.is_discarded() || !j.is_object()) throw bad("not a valid JSON object (truncated or corrupt)");
  try {
    if (j.value("format", "") != kFormatName) throw bad(detail::concat("format is not '", kFormatName, "'"));
    const int version = j.at("version").get<int>();
    if (version != kFormatVersion)
      throw bad(detail::concat("format version ", version, " is not supported (this build reads ",
                               kFormatVersion, ")"));
    LoadedState s;
    s.step = j.at("step").get<int64_t>();
    if (s.step != expected_step)
      throw bad(
          detail::concat("step ", s.step, " does not match the directory name (step-", expected_step, ")"));
    s.seed = j.at("data_generator").at("seed").get<uint64_t>();
    s.offset = j.at("data_generator").at("offset").get<uint64_t>();
    const std::string oname = j.at("optimizer").at("name").get<std::string>();
    if (oname != opt.name())
      throw bad(detail::concat("optimizer '", oname, "' does not match this run's '", opt.name(), "'"));
    s.opt_step_count = j.at("optimizer").at("step_count").get<int64_t>();
    s.elapsed_s = j.value("elapsed_s", 0.0);
    return s;
  } catch (const nlohmann::json::exception& e) {
    throw bad(detail::concat("missing or mistyped field (", e.what(), ")"));
  }
}

// Validates checkpoint step-<N> completely, then restores it. Returns the restored state.
LoadedState restore(const std::string& run_dir, int64_t step, const std::vector<NamedParameter>& params,
                    Optimizer& opt) {
  const std::string dir = checkpoint_path(run_dir, step);
  const LoadedState st = read_state(dir + "/state.json", step, opt);
  const io::SafetensorsFile mf = load_matching(dir + "/model.safetensors", params, "model", "resume");
  const io::SafetensorsFile of =
      load_matching(dir + "/optimizer.safetensors", opt.state(), "optimizer", "resume");
  // Everything checked: now mutate.
  NoGradGuard ng;
  for (const auto& p : params) {
    Tensor dst = p.tensor.detach();
    dst.copy_(mf.get(p.name));
  }
  for (const auto& s : opt.state()) {
    Tensor dst = s.tensor.detach();
    dst.copy_(of.get(s.name));
  }
  opt.set_step_count(st.opt_step_count);
  return st;
}

LrSchedule make_schedule(const TrainConfig& cfg) {
  if (cfg.schedule == "constant") return LrSchedule::constant(cfg.lr, cfg.warmup);
  if (cfg.schedule == "linear") return LrSchedule::linear(cfg.lr, cfg.warmup, cfg.steps, cfg.min_lr);
  return LrSchedule::cosine(cfg.lr, cfg.warmup, cfg.steps, cfg.min_lr);
}

bool every(int64_t n, int64_t period) {
  return period > 0 && n % period == 0;
}

}  // namespace

std::string checkpoint_path(const std::string& run_dir, int64_t step) {
  return (fs::path(checkpoints_dir(run_dir)) / detail::concat("step-", step)).string();
}

std::vector<int64_t> list_checkpoints(const std::string& run_dir) {
  std::vector<int64_t> steps;
  std::error_code ec;
  const fs::path dir = checkpoints_dir(run_dir);
  if (!fs::is_directory(dir, ec)) return steps;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const int64_t s = parse_step_name(e.path().filename().string());
    if (s >= 0 && e.is_directory(ec)) steps.push_back(s);
  }
  std::sort(steps.begin(), steps.end());
  return steps;
}

void load_model(Module& model, const std::string& checkpoint_dir) {
  const std::vector<NamedParameter> params = model.named_parameters();
  const io::SafetensorsFile f =
      load_matching(checkpoint_dir + "/model.safetensors", params, "model", "load_model");
  NoGradGuard ng;
  for (const auto& p : params) {
    Tensor dst = p.tensor.detach();
    dst.copy_(f.get(p.name));
  }
}

TrainResult train(TrainTask& task, const TrainConfig& cfg, const std::string& run_dir, bool resume,
                  const std::function<void(const StepInfo&)>& on_step) {
  config::validate(cfg);
  XF_CHECK(!run_dir.empty(), "train: empty run directory");
  // The run's matmul precision, restored when train() returns or throws.
  struct PrecisionScope {
    MatmulPrecision old = matmul_precision();
    ~PrecisionScope() { set_matmul_precision(old); }
  } precision_scope;
  set_matmul_precision(parse_matmul_precision(cfg.precision, "precision"));
  std::error_code ec;
  fs::create_directories(run_dir, ec);
  XF_CHECK(!ec, "train: cannot create run directory '", run_dir, "': ", ec.message());
  const std::string metrics_path = (fs::path(run_dir) / "metrics.jsonl").string();

  Module& model = task.model();
  const std::vector<NamedParameter> params = model.named_parameters();
  XF_CHECK(!params.empty(), "train: the model has no parameters");
  std::vector<Tensor> param_tensors;
  param_tensors.reserve(params.size());
  for (const auto& p : params) param_tensors.push_back(p.tensor);
  AdamW opt(params, cfg.lr, cfg.beta1, cfg.beta2, cfg.eps, cfg.weight_decay);
  const LrSchedule sched = make_schedule(cfg);
  Generator data(cfg.seed);
  Checkpointer ckpt{run_dir, cfg, params, opt};

  TrainResult res;
  res.final_loss = std::numeric_limits<double>::quiet_NaN();
  int64_t start = 0;
  double elapsed_base = 0;
  remove_temp_dirs(run_dir);  // leftovers of a writer killed mid-checkpoint
  const std::vector<int64_t> existing = list_checkpoints(run_dir);
  if (resume && !existing.empty()) {
    const int64_t step = existing.back();
    const LoadedState st = restore(run_dir, step, params, opt);
    data.set_state(st.seed, st.offset);
    start = step;
    elapsed_base = st.elapsed_s;
    res.resumed_from = step;
    res.last_checkpoint = checkpoint_path(run_dir, step);
    truncate_metrics(metrics_path, step);
  } else {
    XF_CHECK(existing.empty(), "train: run directory '", run_dir, "' already has checkpoints (newest: step-",
             existing.empty() ? 0 : existing.back(), "); resume it or use a new directory");
    io::write_file_atomic(metrics_path, std::string_view());
  }
  res.steps_done = start;
  if (start >= cfg.steps) return res;

  MetricsFile metrics(metrics_path);
  SignalScope signals;
  using Clock = std::chrono::steady_clock;
  const Clock::time_point t_begin = Clock::now();
  auto elapsed = [&] { return elapsed_base + std::chrono::duration<double>(Clock::now() - t_begin).count(); };
  Clock::time_point window_start = t_begin;
  int64_t window_tokens = 0;

  for (int64_t s = start; s < cfg.steps; ++s) {
    const Clock::time_point t0 = Clock::now();
    const int64_t n = s + 1;  // completed steps after this one
    opt.lr = sched.lr_at(s);
    opt.zero_grad();
    double loss_v, gn;
    {
      Tensor loss = task.loss(s, data);
      XF_CHECK(loss.defined() && loss.numel() == 1, "train: TrainTask::loss must return a scalar (step ", s,
               ")");
      loss.backward();
      loss_v = loss.item();
    }  // the graph is released here, before the update
    gn = cfg.grad_clip > 0 ? clip_grad_norm(param_tensors, cfg.grad_clip) : grad_norm(param_tensors);
    const bool finite = std::isfinite(loss_v) && std::isfinite(gn);
    if (finite) opt.step();
    const Clock::time_point t1 = Clock::now();
    const int64_t tokens = task.tokens_per_step(s);
    window_tokens += tokens;
    const double step_s = std::chrono::duration<double>(t1 - t0).count();
    const StepInfo info{n,        loss_v, opt.lr, gn, step_s > 0 ? static_cast<double>(tokens) / step_s : 0.0,
                        elapsed()};
    res.steps_done = n;
    res.final_loss = loss_v;

    // The step that crosses max_minutes is run to the end like the final one (evaluated, checkpointed).
    const bool out_of_time = cfg.max_minutes > 0 && n < cfg.steps && info.elapsed_s >= cfg.max_minutes * 60.0;
    const bool last = n == cfg.steps || out_of_time;
    const bool do_eval = finite && (every(n, cfg.eval_every) || last);
    if (every(n, cfg.log_every) || do_eval || last || !finite) {
      const double window_s = std::chrono::duration<double>(t1 - window_start).count();
      OJson line = OJson::object();
      line["step"] = n;
      line["loss"] = loss_v;
      line["lr"] = opt.lr;
      line["grad_norm"] = gn;
      line["tokens_per_s"] = window_s > 0 ? static_cast<double>(window_tokens) / window_s : 0.0;
      line["elapsed_s"] = info.elapsed_s;
      if (do_eval) {
        nlohmann::json extra = nlohmann::json::object();
        {
          NoGradGuard ng;
          model.eval();
          try {
            task.evaluate(n, extra);
          } catch (...) {
            model.train(true);
            throw;
          }
          model.train(true);
        }
        XF_CHECK(extra.is_object(), "train: TrainTask::evaluate must leave the metrics an object");
        for (const auto& [k, v] : extra.items()) line[k] = v;
      }
      metrics.append(line.dump() + "\n");
      window_start = Clock::now();  // evaluation time is not training throughput
      window_tokens = 0;
    }
    XF_CHECK(finite, "train: non-finite ", std::isfinite(loss_v) ? "gradient norm" : "loss", " at step ", n,
             " (loss ", loss_v, ", grad_norm ", gn, "); the last checkpoint is ",
             res.last_checkpoint.empty() ? "none" : res.last_checkpoint);
    if (on_step) on_step(info);

    const bool stop = g_stop_requested != 0;
    if (every(n, cfg.checkpoint_every) || last || stop) {
      const Clock::time_point c0 = Clock::now();
      metrics.sync();
      res.last_checkpoint = ckpt.save(n, data, elapsed());
      window_start += Clock::now() - c0;  // checkpoint time is not training throughput either
    }
    if (out_of_time) {
      res.time_limit_reached = true;
      break;
    }
    if (stop && !last) {
      res.interrupted = true;
      break;
    }
  }
  return res;
}

}  // namespace xfmr
