// Looped transformers for in-context regression, on the interleaved prompt of Garg et al. 2022 (x_1, y_1, ...,
// x_n, y_n; predictions read at the x positions, as in icl_transformer.h):
//
// - Yang, Lee, Nowak, Papailiopoulos 2023, "Looped Transformers are Better at Learning Learning Algorithms"
//   (arXiv:2311.12424, §3): one small block M (n_loop_layer pre-LN GPT-2 blocks) applied T times with input
//   injection: Y_0 = 0, Y_{t+1} = M(Y_t + P), where P is the embedded prompt (read-in + learned positions).
//   Every iterate can be read out: ŷ_t = read_out(ln_f(Y_t)). Training uses their truncated loss: the mean
//   squared error of the last `window` iterates, with no gradient through the iterations before them.
// - Gao et al. 2024, "AlgoFormer: An Efficient Transformer Framework with Algorithmic Structures"
//   (arXiv:2402.13572, §2): a pre-transformer (n_pre_layer blocks: "preprocessing"), the looped transformer
//   (T iterations: "the iterative algorithm") and a post-transformer (n_post_layer blocks: "postprocessing"):
//   ŷ = read_out(ln_f(post(Y_T))), with P = pre(embedded prompt). With n_pre_layer = n_post_layer = 0 it is
//   Yang et al.'s model. Input injection is a switch here (off: Y_0 = P, Y_{t+1} = M(Y_t)).
#pragma once
#include <memory>
#include <vector>

#include "xfmr/core/rng.h"
#include "xfmr/nn/linear.h"
#include "xfmr/nn/norm.h"
#include "xfmr/nn/transformer_block.h"

namespace xfmr::models {

struct LoopedTransformerConfig {
  int64_t d = 5;
  int64_t n_points = 11;
  int64_t n_embd = 64;
  int64_t n_head = 2;
  int64_t n_pre_layer = 0;   // AlgoFormer's pre-transformer blocks
  int64_t n_loop_layer = 1;  // blocks inside one loop iteration
  int64_t n_post_layer = 0;  // AlgoFormer's post-transformer blocks
  int64_t n_loops = 8;       // T: loop iterations at evaluation (and at the end of the loop curriculum)
  bool input_injection = true;
  double pos_init_std = 0.01;
  double read_in_init_std = 0.5;  // as IclTransformerConfig (escapes the early plateau)
  GeluApprox gelu = GeluApprox::none;  // the blocks' MLP activation (IclTransformerConfig::gelu)
  void validate() const;          // Error naming the bad field
};

class LoopedTransformer : public Module {
 public:
  LoopedTransformer(const LoopedTransformerConfig& cfg, Generator& gen, DType dtype = DType::f32);

  // zs: [B, 2n', d] (n' <= n_points) -> predictions after `loops` iterations (default cfg.n_loops): [B, n']
  Tensor forward(const Tensor& zs, int64_t loops = -1) const;

  // The predictions of iterations loops − window + 1, ..., loops (window clamped to [1, loops]), each [B, n'];
  // iterations before the window run without recording autograd history (Yang et al.'s truncated
  // backpropagation), so a loss on these trains only through the last `window` applications of the loop.
  std::vector<Tensor> forward_window(const Tensor& zs, int64_t loops, int64_t window) const;

  // For probes: the residual stream [B, 2n', n_embd] after the embedding (with pre-transformer: after each
  // pre block), after each loop iteration (cfg.n_loops of them) and after each post block, in that order,
  // with names "embed", "pre1", ..., "loop1", ..., "post1", ... in `names`.
  std::vector<Tensor> hidden_states(const Tensor& zs, std::vector<std::string>* names = nullptr) const;

  const LoopedTransformerConfig& config() const { return cfg_; }

 private:
  void check_prompt(const Tensor& zs) const;
  // The last `window` iterations tracked; read_all: read out each of them, else only the last.
  std::vector<Tensor> run(const Tensor& zs, int64_t loops, int64_t window, bool read_all) const;
  Tensor embed(const Tensor& zs) const;               // P, before the pre-transformer
  Tensor loop_once(const Tensor& y, const Tensor& p) const;  // y undefined: the first iteration (reads P)
  Tensor read_out(const Tensor& y, int64_t B, int64_t T) const;  // post, ln_f, read-out at x positions

  LoopedTransformerConfig cfg_;
  nn::Linear read_in_;
  Tensor wpe_;
  Module pre_list_, loop_list_, post_list_;
  std::vector<std::unique_ptr<nn::PreLNBlock>> pre_, loop_, post_;
  nn::LayerNorm ln_f_;
  nn::Linear read_out_;
};

}  // namespace xfmr::models
