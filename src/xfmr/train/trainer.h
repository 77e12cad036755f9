// The generic training loop every model and task uses: AdamW + LR schedule + global-norm clipping, metrics in
// RUN_DIR/metrics.jsonl, atomic rotating checkpoints, bit-exact resume, a clean stop on SIGINT/SIGTERM.
//
//   struct MyTask : TrainTask {
//     Module& model() override { return net; }
//     Tensor loss(int64_t step, Generator& data) override { /* batch from `data` */ return mse_loss(..); }
//     void evaluate(int64_t step, nlohmann::json& m) override { m["val_loss"] = ...; }
//   };
//   TrainConfig cfg;  cfg.steps = 5000;  config::validate(cfg);
//   TrainResult r = train(task, cfg, "runs/exp1", /*resume=*/true, [&](const StepInfo& s) { ... });
//
// Step numbering: task.loss(step, ...) gets the 0-based index of the step being computed. Everything written
// to disk counts COMPLETED steps: metrics line "step": N and checkpoint step-<N> are taken after N optimizer
// steps (N = step + 1); StepInfo::step is that N too. A run resumed from step-<N> computes step N next.
//
// RUN_DIR/metrics.jsonl: one JSON object per line, for every N with N % log_every == 0, N % eval_every == 0
//   or N == steps: {"step", "loss", "lr", "grad_norm", "tokens_per_s", "elapsed_s"}, then evaluate()'s
//   fields on eval steps. loss/lr/grad_norm are those of step N (lr: the rate its update used; grad_norm:
//   before clipping); tokens_per_s is averaged since the previous line, excluding eval and checkpoint time.
//   Each line is one write(2), so a kill leaves at most one partial trailing line, which resume removes.
// RUN_DIR/checkpoints/step-<N>/:
//   model.safetensors      the parameters, by named_parameters() name
//   optimizer.safetensors  Optimizer::state() ("step.*", "exp_avg.*", "exp_avg_sq.*")
//   state.json             {"format": "xfmr-train-checkpoint", "version": 1, "step": N,
//                           "data_generator": {"seed", "offset"}, "optimizer": {"name", "step_count"},
//                           "elapsed_s", "train": <TrainConfig>}
//   The files are written and fsynced in checkpoints/.tmp-step-<N>-<pid>/, which is then renamed to step-<N>
//   (and checkpoints/ fsynced), so a directory named step-<N> is always complete. Leftover .tmp-* directories
//   (a writer killed mid-checkpoint) are never read and are deleted by the next train() on the run directory
//   (so only one train() may use a run directory at a time). Old checkpoints are renamed to a .tmp- name
//   before being deleted, so a kill mid-delete never leaves a half-deleted step-<N> either.
// Checkpoints are taken every checkpoint_every steps (0: only at the end), after the last step and on
// SIGINT/SIGTERM; only the newest keep_checkpoints step-* directories are kept.
//
// Resume (resume = true): the newest step-<N> directory is validated completely (state.json parses and has
// the right format/version/step/optimizer; both safetensors files load and hold exactly the model's parameter
// names and the optimizer's state names, with matching shapes and dtypes). A problem is a one-line
// xfmr::Error naming the file and the problem ("resume: checkpoint '.../step-300/model.safetensors': ...").
// There is deliberately NO fallback to an older checkpoint: the writer never leaves an incomplete step-<N>,
// so a damaged one means something outside xfmr changed it, and the user should know; deleting that
// directory resumes from the previous one. Nothing is modified before validation passes. Then parameters,
// optimizer state and step counts, the data generator (seed, offset) and elapsed time are restored,
// metrics.jsonl is cut (atomically) to its lines with step <= N, and training continues at step N. With no
// checkpoint at all, resume starts from scratch. The current `cfg` governs the continued run (`steps` may be
// raised to extend a run; changing lr/schedule/seed of course changes the curve).
//
// Determinism: with the same task, config and thread count, a run killed at any point (SIGKILL mid-step or
// mid-checkpoint included) and resumed has a loss curve bit-identical to an uninterrupted run. The task must
// draw all per-step randomness from `data` and keep no other state across steps.
//
// resume = false starts from scratch: Error if RUN_DIR already holds checkpoints (an old run is never mixed
// with or silently overwritten by a new one); metrics.jsonl is truncated.
//
// Signals: while train() runs, SIGINT and SIGTERM only set a flag: the current step finishes, a checkpoint is
// saved and train() returns with interrupted = true. The previous handlers are restored on return.
//
// train() prints nothing; progress reporting is the caller's job via on_step (called after every step, on
// the calling thread). A non-finite loss or gradient norm skips that update, writes the step's metrics line
// and throws an xfmr::Error naming the step (the last checkpoint stays the resume point).
//
// The step loop performs no heap allocation of its own except on metrics/eval/checkpoint steps; whether a
// whole step is allocation-free depends on the task's loss() (tensors come from the caching allocator).
#pragma once
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "xfmr/core/rng.h"
#include "xfmr/core/tensor.h"
#include "xfmr/nn/module.h"

namespace xfmr {

struct TrainConfig {
  int64_t steps = 10000;
  double lr = 1e-3;
  std::string schedule = "cosine";  // constant|cosine|linear (train/schedule.h)
  int64_t warmup = 500;
  double min_lr = 0.0;  // absolute
  double weight_decay = 0.0;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double grad_clip = 1.0;           // max global L2 norm; 0 = off
  // f32 | bf16: the GEMMs' arithmetic during the run (kernels/cpu/gemm_blas.h: bf16 operands, f32 accumulation,
  // f32 master weights, gradients and Adam state); bf16 falls back to f32 on CPUs without AVX512-BF16.
  std::string precision = "f32";
  int64_t eval_every = 1000;        // 0 = only after the last step
  int64_t log_every = 100;          // 0 = no periodic lines (eval and last-step lines are still written)
  int64_t checkpoint_every = 1000;  // 0 = only at the end (and on SIGINT/SIGTERM)
  int64_t keep_checkpoints = 2;
  uint64_t seed = 0;  // seeds the data generator handed to TrainTask::loss
  double max_minutes = 0;  // wall-clock budget: 0 = none; else the step that reaches it is the last (eval + checkpoint)

  template <class V>
  void visit(V& v) {
    v("steps", steps, "optimizer steps");
    v("lr", lr, "peak learning rate");
    v("schedule", schedule, "constant|cosine|linear");
    v("warmup", warmup, "linear warmup steps");
    v("min_lr", min_lr, "final learning rate of the decay (absolute)");
    v("weight_decay", weight_decay, "AdamW decoupled weight decay");
    v("beta1", beta1, "AdamW beta1");
    v("beta2", beta2, "AdamW beta2");
    v("eps", eps, "AdamW epsilon");
    v("grad_clip", grad_clip, "max global gradient L2 norm (0 = off)");
    v("precision", precision, "f32|bf16 matrix products (bf16: AVX512-BF16, f32 accumulation and weights)");
    v("eval_every", eval_every, "evaluate every N steps (0 = only at the end)");
    v("log_every", log_every, "metrics line every N steps (0 = only eval/last lines)");
    v("checkpoint_every", checkpoint_every, "checkpoint every N steps (0 = only at the end)");
    v("keep_checkpoints", keep_checkpoints, "newest checkpoints kept on disk");
    v("seed", seed, "seed of the training data stream");
    v("max_minutes", max_minutes, "stop after the step that reaches this much training wall time (0 = no limit)");
  }
  // Error naming the field: steps > 0; lr finite >= 0; schedule known; 0 <= warmup <= steps;
  // 0 <= min_lr <= lr; weight_decay >= 0; 0 <= beta1, beta2 < 1; eps > 0; grad_clip >= 0; precision f32|bf16;
  // eval_every, log_every, checkpoint_every >= 0; keep_checkpoints >= 1.
  void validate() const;
};

class TrainTask {  // what a job supplies
 public:
  virtual ~TrainTask() = default;
  virtual Module& model() = 0;
  // Builds the batch for `step` (0-based) drawing ONLY from `data` and returns the scalar loss with its
  // graph.
  virtual Tensor loss(int64_t step, Generator& data) = 0;
  // Called every eval_every steps and after the last step (step = completed steps), under NoGradGuard with
  // the model in eval() mode (train mode is restored after); adds fields to that step's metrics line.
  virtual void evaluate(int64_t step, nlohmann::json& metrics) {}
  // Tokens (or examples) per step, for the throughput field.
  virtual int64_t tokens_per_step(int64_t step) const { return 0; }
};

struct StepInfo {
  int64_t step;                // completed steps (1-based)
  double loss, lr, grad_norm;  // grad_norm before clipping
  double tokens_per_s;         // this step's throughput
  double elapsed_s;            // training wall time, including time before a resume
};

struct TrainResult {
  int64_t steps_done = 0;
  bool interrupted = false;
  bool time_limit_reached = false;  // stopped by max_minutes before `steps`
  // Path of the newest checkpoint directory written or resumed from ("" if none).
  std::string last_checkpoint;
  double final_loss = 0;      // loss of the last step run in this call (NaN if none ran)
  int64_t resumed_from = -1;  // step of the checkpoint resumed from, -1 when starting from scratch
};

TrainResult train(TrainTask& task, const TrainConfig& cfg, const std::string& run_dir, bool resume,
                  const std::function<void(const StepInfo&)>& on_step = {});

// For tools and tests: the step numbers of the complete checkpoints (step-<N> directories) under
// RUN_DIR/checkpoints, ascending (not validated).
std::vector<int64_t> list_checkpoints(const std::string& run_dir);
// RUN_DIR/checkpoints/step-<N>.
std::string checkpoint_path(const std::string& run_dir, int64_t step);
// Loads the parameters of a checkpoint directory (its model.safetensors) into `model`, e.g. to evaluate a
// trained run: checkpoint_path(run_dir, list_checkpoints(run_dir).back()). Every parameter name, shape and
// dtype must match exactly (Error naming the file and the tensor otherwise; the model is unchanged on error).
void load_model(Module& model, const std::string& checkpoint_dir);

}  // namespace xfmr
