// What one training step of a GPT-style model must cost, computed from its shapes: model FLOPs (the useful
// multiply-adds, no recomputation) and the memory a step needs at the least (parameters, gradients, Adam's two
// moments, and the activations the backward pass reads). `xfmr bench` prints both beside what it measured, so
// achieved GFLOP/s and the memory overhead (peak RSS / need) are read off one JSON line.
#pragma once
#include <cstdint>

#include <nlohmann/json.hpp>

namespace xfmr {

// A stack of pre-LN blocks (LN, causal MHA with a fused qkv projection, LN, GELU MLP 4x) between an input map
// and an output map, trained on `batch` sequences of `seq` tokens.
struct GptShape {
  int64_t batch = 1, seq = 1, n_layer = 1, n_head = 1, n_embd = 1;
  int64_t in_features = 0;   // read-in Linear width (ICL: d); 0 for a token embedding (a gather: no FLOPs)
  int64_t out_features = 1;  // head width (char GPT: vocab; ICL read-out: 1)
  int64_t params = 0;        // trainable parameter elements (tied tensors once)
  int64_t bytes_per_value = 4;
};

// Model FLOPs of forward + backward (backward = 2 x forward for every product), with the causal attention
// counted as the lower triangle it computes (t + 1 keys for query t), not the full T x T that nanoGPT's and
// PaLM's MFU formulas count:
//   forward = N·(24·L·C² + 2·in·C + 2·C·out) + L·B·2·C·T·(T + 1),   N = B·T tokens
//   step    = 3 · forward
double train_step_flops(const GptShape& s);

// The least memory of a training step, in bytes (values of bytes_per_value each):
//   16·P bytes  (f32 parameters, gradients, Adam m and v)
// + the activations the backward pass reads, per layer:
//     x (LN1 input) N·C, LN1 output N·C, q|k|v 3·N·C, attention output N·C, its log-sum-exp N·H,
//     h (LN2 input) N·C, LN2 output N·C, fc output 4·N·C, GELU output 4·N·C, two LNs' mean and rstd 4·N
//     = 16·N·C + N·H + 4·N values
//   and outside the blocks: the read-in input N·in, the final LN's input, output and stats 2·N·C + 2·N,
//   and the head's output and its softmax (cross-entropy) 2·N·out.
double train_step_memory_bytes(const GptShape& s);

// Adds the derived fields to a bench record: model_flops_per_step, gflops_per_s (from step_ms),
// mem_need_mb, mem_ratio (peak_rss_mb / mem_need_mb), tensor_peak_mb (the tensor allocator's peak in use) and
// tensor_mem_ratio, baseline_rss_mb (the process before the model existed) and mem_ratio_above_baseline
// ((peak_rss_mb - baseline_rss_mb) / mem_need_mb: the code, libraries and thread stacks left out).
void add_cost_fields(nlohmann::ordered_json& j, const GptShape& s, double step_ms, double baseline_rss_mb);

// Resident set size of this process now, in MiB (from /proc/self/statm; 0 where unavailable).
double current_rss_mb();

}  // namespace xfmr
