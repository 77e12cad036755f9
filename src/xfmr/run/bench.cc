#include "xfmr/run/bench.h"

#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <vector>

#include "xfmr/core/check.h"
#include "xfmr/core/parallel.h"
#include "xfmr/core/rng.h"
#include "xfmr/kernels/cpu/gemm_blas.h"
#include "xfmr/models/icl_transformer.h"
#include "xfmr/ops/loss.h"
#include "xfmr/run/bench_cost.h"
#include "xfmr/tasks/icl_linear.h"
#include "xfmr/train/clip.h"
#include "xfmr/train/optimizer.h"

namespace xfmr {

namespace {

// Process CPU time (all threads), beside wall time: on a shared machine wall time includes waits for a core.
double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

void pick(int64_t& field, int64_t given, const char* name) {
  if (given < 0) return;
  XF_CHECK(given > 0, "bench: --", name, " must be positive, got ", given);
  field = given;
}

}  // namespace

StepTimes time_steps(int64_t steps, int64_t warmup, const std::function<double()>& step) {
  StepTimes r;
  double loss = 0;
  for (int64_t i = 0; i < warmup; ++i) {
    loss = step();
    if (i == 0) r.first_loss = loss;
  }
  using clock = std::chrono::steady_clock;
  std::vector<double> ms(static_cast<size_t>(steps));
  const double c0 = cpu_seconds();
  const auto t0 = clock::now();
  for (int64_t i = 0; i < steps; ++i) {
    const auto s0 = clock::now();
    loss = step();
    ms[static_cast<size_t>(i)] = std::chrono::duration<double, std::milli>(clock::now() - s0).count();
    if (warmup == 0 && i == 0) r.first_loss = loss;
  }
  const double total = std::chrono::duration<double>(clock::now() - t0).count();
  const double cpu = cpu_seconds() - c0;
  std::sort(ms.begin(), ms.end());
  const double n = static_cast<double>(steps);
  r.step_ms = 1e3 * total / n;
  r.median_ms = ms[ms.size() / 2];
  r.cpu_ms_per_step = 1e3 * cpu / n;
  r.steps_per_s = n / total;
  r.final_loss = loss;
  return r;
}

void add_step_fields(nlohmann::ordered_json& j, const StepTimes& t, int64_t warmup, int64_t steps,
                     double tokens_per_step) {
  j["warmup"] = warmup;
  j["steps"] = steps;
  j["step_ms"] = t.step_ms;
  j["median_ms"] = t.median_ms;
  j["cpu_ms_per_step"] = t.cpu_ms_per_step;
  j["steps_per_s"] = t.steps_per_s;
  j["tokens_per_s"] = tokens_per_step * t.steps_per_s;
  j["first_loss"] = t.first_loss;
  j["final_loss"] = t.final_loss;
}

double peak_rss_mb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;
}

nlohmann::ordered_json bench_train_icl(const TrainIclBench& opt) {
  models::IclTransformerConfig mc;
  int64_t batch = 64;
  if (opt.preset == "small") {
    mc.d = 5, mc.n_points = 11, mc.n_layer = 4, mc.n_head = 2, mc.n_embd = 64;
  } else if (opt.preset == "paper") {
    mc.d = 20, mc.n_points = 41, mc.n_layer = 12, mc.n_head = 8, mc.n_embd = 256;
  } else {
    throw Error("bench train-icl: unknown preset '" + opt.preset + "' (known: small, paper)");
  }
  pick(mc.d, opt.d, "d");
  pick(mc.n_points, opt.n_points, "n_points");
  pick(mc.n_layer, opt.n_layer, "n_layer");
  pick(mc.n_head, opt.n_head, "n_head");
  pick(mc.n_embd, opt.n_embd, "n_embd");
  pick(batch, opt.batch, "batch");
  mc.gelu = opt.gelu;
  mc.validate();
  XF_CHECK(opt.steps >= 1 && opt.warmup >= 0, "bench: --steps must be >= 1 and --warmup >= 0");
  XF_CHECK(opt.lr > 0, "bench: --lr must be positive");

  const MatmulPrecision old_precision = matmul_precision();
  set_matmul_precision(parse_matmul_precision(opt.precision, "bench: --precision"));
  struct Restore {
    MatmulPrecision p;
    ~Restore() { set_matmul_precision(p); }
  } restore{old_precision};
  const double baseline_rss = current_rss_mb();
  Generator init(opt.seed), data(opt.seed + 1);
  models::IclTransformer model(mc, init);
  const std::vector<Tensor> params = model.parameters();
  AdamW adamw(model.named_parameters(), opt.lr, 0.9, 0.999, 1e-8, 0.01);
  auto step = [&] {
    const IclBatch b = sample_icl_linear(batch, mc.n_points, mc.d, mc.d, 0.0, data);
    adamw.zero_grad();
    Tensor loss = mse_loss(model.forward(interleave_prompt(b)), b.ys);
    loss.backward();
    clip_grad_norm(params, 1.0);
    adamw.step();
    return loss.item();
  };

  const StepTimes t = time_steps(opt.steps, opt.warmup, step);
  const double tokens_per_step = static_cast<double>(batch * 2 * mc.n_points);

  nlohmann::ordered_json j;
  j["bench"] = "xfmr_icl_linear";
  j["preset"] = opt.preset;
  j["d"] = mc.d;
  j["n_points"] = mc.n_points;
  j["n_layer"] = mc.n_layer;
  j["n_head"] = mc.n_head;
  j["n_embd"] = mc.n_embd;
  j["batch"] = batch;
  j["gelu"] = mc.gelu;
  j["threads"] = num_threads();
  j["omp_wait_policy"] = std::getenv("OMP_WAIT_POLICY") ? std::getenv("OMP_WAIT_POLICY") : "unset";
  j["precision"] = matmul_precision_name(effective_matmul_precision());
  j["params"] = model.num_parameters();
  add_step_fields(j, t, opt.warmup, opt.steps, tokens_per_step);
  GptShape shape;
  shape.batch = batch, shape.seq = 2 * mc.n_points, shape.n_layer = mc.n_layer, shape.n_head = mc.n_head;
  shape.n_embd = mc.n_embd, shape.in_features = mc.d, shape.out_features = 1, shape.params = model.num_parameters();
  add_cost_fields(j, shape, t.step_ms, baseline_rss);
  return j;
}

}  // namespace xfmr
