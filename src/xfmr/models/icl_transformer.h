// The in-context regression model of Garg et al. 2022 (§2): a GPT-2 decoder (pre-LN blocks, learned positions)
// over the interleaved prompt x_1, y_1, ..., x_n, y_n, with a linear read-in from R^d and a scalar read-out.
// Predictions are read at the x positions: the output for x_{i+1} sees (x_1, y_1, ..., x_i, y_i, x_{i+1}).
#pragma once
#include <memory>
#include <string>
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
  double pos_init_std = 0.01;      // std of the learned positional embeddings at initialisation
  // std of the read-in weights at initialisation. GPT-2's 0.02 leaves a token's content a few percent of the
  // residual stream beside its position, and training then sits for 10k+ steps on a plateau at error ≈ (d − 1)/d
  // (the model regresses on the one coordinate that x and y tokens share). At 0.5 the default run leaves it within
  // ~4k steps (README, "The main job": side-by-side runs with 0.02, 0.2, 0.5 and 1.0).
  double read_in_init_std = 0.5;
  // The MLPs' GELU: "exact" (x Φ(x)) or "tanh" (GPT-2's approximation, HF's "gelu_new", which Garg et al.'s
  // HF GPT2Model uses; also the PyTorch peer of `xfmr bench train-icl`).
  std::string gelu = "exact";
  GeluApprox gelu_approx() const { return gelu == "tanh" ? GeluApprox::tanh : GeluApprox::none; }
  template <class V>
  void visit(V& v) {
    v("n_embd", n_embd, "model width");
    v("n_layer", n_layer, "transformer blocks");
    v("n_head", n_head, "attention heads (must divide n_embd)");
    v("pos_init_std", pos_init_std, "std of the positional embeddings at initialisation");
    v("read_in_init_std", read_in_init_std, "std of the read-in weights at initialisation");
    v("gelu", gelu, "exact | tanh: the MLPs' GELU (tanh: GPT-2's approximation, as in Garg et al.'s HF model)");
  }
  void validate() const;     // Error naming the bad field
};

class IclTransformer : public Module {
 public:
  IclTransformer(const IclTransformerConfig& cfg, Generator& gen, DType dtype = DType::f32);
  // zs: [B, 2n', d] interleaved prompt (n' <= n_points) -> predictions at the x positions: [B, n']
  Tensor forward(const Tensor& zs) const;
  // For probes: the residual stream [B, 2n', n_embd] after the embedding ("embed") and after each block
  // ("layer1", ...), before the final LayerNorm; names go to `names` when given.
  std::vector<Tensor> hidden_states(const Tensor& zs, std::vector<std::string>* names = nullptr) const;
  const IclTransformerConfig& config() const { return cfg_; }

 private:
  IclTransformerConfig cfg_;
  nn::Linear read_in_;
  Tensor wpe_;  // [2·n_points, n_embd] learned positional embeddings
  Module blocks_list_;  // children "0", "1", ...: parameter names "blocks.<l>.<...>" as in GPT-2 checkpoints
  std::vector<std::unique_ptr<nn::PreLNBlock>> blocks_;
  nn::LayerNorm ln_f_;
  nn::Linear read_out_;
};

}  // namespace xfmr::models
