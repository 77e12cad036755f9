// `xfmr bench`: steady-state speed of one workload, printed as one JSON line whose fields match the PyTorch peer
// scripts in ../shared/bench (torch_icl_linear.py, ...), so a script can put the two side by side as ratios.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

namespace xfmr {

// One training step of Garg et al.'s in-context regression model (fresh prompts, forward, MSE, backward,
// global-norm clip 1.0, AdamW), as torch_icl_linear.py times it. Shape fields < 0 keep the preset's value.
struct TrainIclBench {
  std::string preset = "small";  // small: d 5, 11 points, 4x2x64, batch 64; paper: d 20, 41 points, 12x8x256
  int64_t d = -1, n_points = -1, n_layer = -1, n_head = -1, n_embd = -1, batch = -1;
  int64_t steps = 50, warmup = 5;
  uint64_t seed = 0;
  std::string precision = "f32";  // f32 | bf16: the arithmetic of the GEMMs (kernels/cpu/gemm_blas.h)
  double lr = 1e-4;
  std::string gelu = "tanh";  // the MLPs' GELU (IclTransformerConfig::gelu): tanh, as the peer's GPT-2
};

// Runs `warmup` untimed then `steps` timed steps on the current thread count; returns the JSON record:
// steps_per_s, step_ms (mean), median_ms, cpu_ms_per_step, tokens_per_s, peak_rss_mb, params, first/final loss.
nlohmann::ordered_json bench_train_icl(const TrainIclBench& opt);

// Timing of a training-step function (returns the step's loss): `warmup` untimed calls, then `steps` timed ones.
struct StepTimes {
  double step_ms = 0, median_ms = 0, cpu_ms_per_step = 0, steps_per_s = 0;
  double first_loss = 0, final_loss = 0;
};
StepTimes time_steps(int64_t steps, int64_t warmup, const std::function<double()>& step);
// The timing fields every training bench prints, in the peers' order: warmup, steps, step_ms, median_ms,
// cpu_ms_per_step, steps_per_s, tokens_per_s, first_loss, final_loss.
void add_step_fields(nlohmann::ordered_json& j, const StepTimes& t, int64_t warmup, int64_t steps,
                     double tokens_per_step);

// Peak resident set size of this process so far, in MiB.
double peak_rss_mb();

}  // namespace xfmr
