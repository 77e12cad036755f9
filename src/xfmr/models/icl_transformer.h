// The in-context regression model of Garg et al. 2022 (§2): a GPT-2 decoder (pre-LN blocks, learned positions)
// over the interleaved prompt x_1, y_1, ..., x_n, y_n, with a linear read-in from R^d and a scalar read-out.
// Predictions are read at the x positions: the output for x_{i+1} sees (x_1, y_1, ..., x_i, y_i, x_{i+1}).
#pragma once
#include <memory>
#include <vector>

#include "xfmr/core/rng.h"
#include "xfmr/nn/linear.h"
#include "xfmr/nn/norm.h"
#include "xfmr/nn/transformer_block.h"

namespace xfmr::models {

struct IclTransformerConfig {
  int64_t d = 5;             // input dimension
  int64_t n_points = 11;     // (x, y) pairs per prompt; the sequence has 2·n_points tokens
  int64_t n_embd = 64;
  int64_t n_layer = 4;
  int64_t n_head = 2;
  void validate() const;     // Error naming the bad field
};

class IclTransformer : public Module {
 public:
  IclTransformer(const IclTransformerConfig& cfg, Generator& gen, DType dtype = DType::f32);
  // zs: [B, 2n', d] interleaved prompt (n' <= n_points) -> predictions at the x positions: [B, n']
  Tensor forward(const Tensor& zs) const;
  const IclTransformerConfig& config() const { return cfg_; }

 private:
  IclTransformerConfig cfg_;
  nn::Linear read_in_;
  Tensor wpe_;  // [2·n_points, n_embd] learned positional embeddings
  Module blocks_list_;  // parent of the blocks, so their parameters are named "blocks.<l>.…"
  std::vector<std::unique_ptr<nn::PreLNBlock>> blocks_;
  nn::LayerNorm ln_f_;
  nn::Linear read_out_;
};

}  // namespace xfmr::models
