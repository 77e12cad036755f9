// One training step of the in-context regression model (Garg et al. 2022) end to end, the xfmr side of
// /work/shared/bench/torch_icl_linear.py: fresh prompts (sample_icl_linear + interleave_prompt), forward, MSE
// loss, backward, clip_grad_norm(1.0), AdamW. `--warmup` steps are untimed, then `--steps` steps are timed.
//
// Run: bench_train_icl --preset small --threads 1 [--steps 50] [--warmup 5]
//      bench_train_icl --preset paper --threads 2 --steps 3 --warmup 1
// Prints one JSON line: preset, shape, threads, steps, steps_per_s, ms_per_step (mean), median_ms, tokens_per_s,
// cpu_ms_per_step (process CPU time, all threads), peak_rss_mb, first/final loss.
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "xfmr/core/parallel.h"
#include "xfmr/core/rng.h"
#include "xfmr/models/icl_transformer.h"
#include "xfmr/ops/loss.h"
#include "xfmr/tasks/icl_linear.h"
#include "xfmr/train/clip.h"
#include "xfmr/train/optimizer.h"

using namespace xfmr;

namespace {

struct Preset {
  const char* name;
  models::IclTransformerConfig model;
  int64_t batch;
};

// The two presets of torch_icl_linear.py.
const Preset kPresets[] = {
    {"small", {5, 11, 64, 4, 2}, 64},
    {"paper", {20, 41, 256, 12, 8}, 64},
};

[[noreturn]] void usage(const char* msg) {
  std::fprintf(stderr, "bench_train_icl: %s\nusage: bench_train_icl [--preset small|paper] [--threads N] "
                       "[--steps N] [--warmup N]\n", msg);
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  std::string preset = "small";
  int threads = 1, steps = 50, warmup = 5;
  for (int i = 1; i < argc; ++i) {
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) usage("missing value");
      return argv[++i];
    };
    if (!std::strcmp(argv[i], "--preset")) preset = value();
    else if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(value());
    else if (!std::strcmp(argv[i], "--steps")) steps = std::atoi(value());
    else if (!std::strcmp(argv[i], "--warmup")) warmup = std::atoi(value());
    else usage("unknown argument");
  }
  const Preset* p = nullptr;
  for (const Preset& q : kPresets)
    if (preset == q.name) p = &q;
  if (!p) usage("unknown preset");
  if (threads < 1 || steps < 1 || warmup < 0) usage("--threads and --steps must be >= 1, --warmup >= 0");
  set_num_threads(threads);

  const models::IclTransformerConfig& mc = p->model;
  Generator init(0), data(1);
  models::IclTransformer model(mc, init);
  const std::vector<Tensor> params = model.parameters();
  AdamW opt(model.named_parameters(), 1e-4, 0.9, 0.999, 1e-8, 0.01);

  auto step = [&] {
    const IclBatch b = sample_icl_linear(p->batch, mc.n_points, mc.d, mc.d, 0.0, data);
    const Tensor zs = interleave_prompt(b);
    opt.zero_grad();
    Tensor loss = mse_loss(model.forward(zs), b.ys);
    loss.backward();
    clip_grad_norm(params, 1.0);
    opt.step();
    return loss.item();
  };

  double first_loss = 0, loss = 0;
  for (int i = 0; i < warmup; ++i) {
    loss = step();
    if (i == 0) first_loss = loss;
  }
  std::vector<double> ms(steps);
  using clock = std::chrono::steady_clock;
  // Process CPU time next to wall time: on a shared machine wall time includes waits for the core.
  auto cpu_now = [] {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
  };
  const double c0 = cpu_now();
  const auto t0 = clock::now();
  for (int i = 0; i < steps; ++i) {
    const auto s0 = clock::now();
    loss = step();
    ms[i] = std::chrono::duration<double, std::milli>(clock::now() - s0).count();
    if (warmup == 0 && i == 0) first_loss = loss;
  }
  const double total = std::chrono::duration<double>(clock::now() - t0).count();
  const double cpu_total = cpu_now() - c0;
  std::sort(ms.begin(), ms.end());
  const double median = ms[steps / 2];
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  const double tokens_per_step = static_cast<double>(p->batch * 2 * mc.n_points);
  std::printf(
      "{\"bench\": \"xfmr_icl_linear\", \"preset\": \"%s\", \"d\": %lld, \"n_points\": %lld, \"n_layer\": %lld, "
      "\"n_head\": %lld, \"n_embd\": %lld, \"batch\": %lld, \"threads\": %d, \"params\": %lld, \"warmup\": %d, "
      "\"steps\": %d, \"steps_per_s\": %.3f, \"ms_per_step\": %.3f, \"median_ms\": %.3f, \"cpu_ms_per_step\": %.3f, \"tokens_per_s\": %.1f, "
      "\"peak_rss_mb\": %.1f, \"first_loss\": %.5f, \"final_loss\": %.5f}\n",
      p->name, static_cast<long long>(mc.d), static_cast<long long>(mc.n_points), static_cast<long long>(mc.n_layer),
      static_cast<long long>(mc.n_head), static_cast<long long>(mc.n_embd), static_cast<long long>(p->batch), threads,
      static_cast<long long>(model.num_parameters()), warmup, steps, steps / total, 1e3 * total / steps, median,
      1e3 * cpu_total / steps,      tokens_per_step * steps / total, ru.ru_maxrss / 1024.0, first_loss, loss);
  return 0;
}
