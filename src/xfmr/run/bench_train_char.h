// `xfmr bench train-char`: the training step of a nanoGPT "shakespeare_char"-style character GPT on random
// tokens, as ../shared/bench/torch_char_gpt.py times it (same presets, flags and JSON fields).
#pragma once
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace xfmr {

// Shape fields < 0 keep the preset's value.
struct TrainCharBench {
  std::string preset = "shakespeare";  // shakespeare: 6 layers x 6 heads x 384, block 256, batch 12
                                       // tiny: 4 x 4 x 128, block 128, batch 12; both vocab 65
  int64_t n_layer = -1, n_head = -1, n_embd = -1, block = -1, batch = -1, vocab = -1;
  double dropout = 0.0;
  int64_t steps = 20, warmup = 3;
  uint64_t seed = 0;
  std::string precision = "f32";  // f32 | bf16: the arithmetic of the GEMMs (kernels/cpu/gemm_blas.h)
  double lr = 1e-3;
};

// One step: fresh uniformly random ids [batch, block + 1], forward (biases on, exact GELU, tied head),
// cross-entropy on the next token, backward, global-norm clip 1.0, AdamW (betas 0.9/0.99, weight decay 0.1 on
// matrices only). Returns the JSON record of torch_char_gpt.py (step_ms, steps_per_s, tokens_per_s,
// final_loss, ...) plus cpu_ms_per_step, median_ms, the FLOP and memory fields of run/bench_cost.h.
nlohmann::ordered_json bench_train_char(const TrainCharBench& opt);

}  // namespace xfmr
