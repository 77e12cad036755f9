// GPT-2 (Radford et al. 2019, "Language Models are Unsupervised Multitask Learners"): token + learned position
// embeddings, pre-LayerNorm blocks (causal multi-head attention, GELU MLP 4x), a final LayerNorm and an LM head
// tied to the token embedding. Dropout (model.dropout, training only, as nanoGPT) after the embeddings, on the
// attention probabilities (inside the fused kernel, ops/attention.h) and on each residual branch.
//
// Parameter names are Hugging Face's GPT2LMHeadModel names, so named_parameters() reads like an HF checkpoint:
//   transformer.wte.weight [V, C]          transformer.wpe.weight [block_size, C]
//   transformer.h.N.ln_1.{weight,bias}     transformer.h.N.attn.c_attn.{weight,bias}   (q | k | v)
//   transformer.h.N.attn.c_proj.*          transformer.h.N.ln_2.*     transformer.h.N.mlp.{c_fc,c_proj}.*
//   transformer.ln_f.{weight,bias}
// Internally every Linear weight is [out, in] (PyTorch nn.Linear); HF's Conv1D stores [in, out], so
// hf_state_dict / load_hf_state transpose c_attn, c_proj and c_fc.
//
// Init (GPT-2 §2.3, as in nanoGPT): all Linear and Embedding weights N(0, 0.02²), the two residual output
// projections (attn.c_proj, mlp.c_proj) N(0, (0.02/sqrt(2·n_layer))²), biases 0, LayerNorm weights 1.
#pragma once
#include <memory>
#include <vector>

#include "xfmr/models/causal_lm.h"
#include "xfmr/nn/embedding.h"
#include "xfmr/nn/linear.h"
#include "xfmr/nn/norm.h"
#include "xfmr/ops/activation.h"

namespace xfmr::models {

struct GptConfig {
  int64_t vocab_size = 65;
  int64_t block_size = 64;  // n_positions
  int64_t n_layer = 4;
  int64_t n_head = 4;
  int64_t n_embd = 128;
  double dropout = 0.0;     // embedding, attention-probability and residual dropout
  bool bias = true;         // biases in the Linear and LayerNorm layers (HF GPT-2 always has them)
  double layer_norm_eps = 1e-5;
  GeluApprox gelu = GeluApprox::none;  // none = exact erf ("gelu"), tanh = HF's "gelu_new"
  // Error naming the field: sizes positive, n_embd % n_head == 0, 0 <= dropout < 1, eps > 0.
  void validate() const;
};

class GptBlock;

class Gpt : public CausalLM {
 public:
  Gpt(const GptConfig& cfg, Generator& init, DType dtype = DType::f32);
  ~Gpt() override;
  Tensor forward(const Tensor& ids, Generator* dropout_gen = nullptr) const override;
  int64_t vocab_size() const override { return cfg_.vocab_size; }
  int64_t block_size() const override { return cfg_.block_size; }
  std::string model_type() const override { return "gpt2"; }
  nlohmann::json hf_config() const override;
  std::vector<std::pair<std::string, Tensor>> hf_state_dict() const override;
  void load_hf_state(const io::SafetensorsFile& file) override;
  const GptConfig& config() const { return cfg_; }

  // The GptConfig described by an HF config.json object (model_type "gpt2"; n_inner must be null or 4·n_embd).
  static GptConfig config_from_hf(const nlohmann::json& j);

 private:
  GptConfig cfg_;
  Module transformer_;  // "transformer": wte, wpe, h.N, ln_f
  Module h_;
  std::unique_ptr<nn::Embedding> wte_, wpe_;
  std::vector<std::unique_ptr<GptBlock>> blocks_;
  std::unique_ptr<nn::LayerNorm> ln_f_;
};

}  // namespace xfmr::models
