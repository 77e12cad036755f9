// Llama (Touvron et al. 2023): RMSNorm pre-normalisation (Zhang & Sennrich 2019), rotary position embeddings
// (Su et al. 2021), SwiGLU feed-forward (Shazeer 2020), grouped-query attention (Ainslie et al. 2023) with
// n_kv_head key/value heads, no biases, an untied LM head.
//
// Parameter names are Hugging Face's LlamaForCausalLM names:
//   model.embed_tokens.weight [V, C]
//   model.layers.N.input_layernorm.weight, model.layers.N.post_attention_layernorm.weight
//   model.layers.N.self_attn.{q_proj [H·D, C], k_proj [Hkv·D, C], v_proj [Hkv·D, C], o_proj [C, H·D]}.weight
//   model.layers.N.mlp.{gate_proj [I, C], up_proj [I, C], down_proj [C, I]}.weight
//   model.norm.weight, lm_head.weight [V, C]
// RoPE uses the rotate-half pairing (RopeStyle::half), which is the layout HF's q_proj/k_proj rows are stored in
// (HF permutes Meta's interleaved checkpoints at conversion), so weights load and save without permutation.
//
// Init: every Linear and the embedding N(0, 0.02²) (HF initializer_range); o_proj and down_proj, which write
// into the residual stream, N(0, (0.02/sqrt(2·n_layer))²) as in GPT-2; norm weights 1.
#pragma once
#include <memory>
#include <vector>

#include "xfmr/models/causal_lm.h"
#include "xfmr/nn/embedding.h"
#include "xfmr/nn/linear.h"
#include "xfmr/nn/norm.h"

namespace xfmr::models {

struct LlamaConfig {
  int64_t vocab_size = 65;
  int64_t block_size = 64;  // max_position_embeddings
  int64_t n_layer = 4;
  int64_t n_head = 4;
  int64_t n_kv_head = 4;    // must divide n_head (n_head: plain multi-head attention, 1: multi-query)
  int64_t n_embd = 128;
  int64_t intermediate_size = 0;  // SwiGLU hidden width; 0: 8·n_embd/3 rounded up to a multiple of 32
  double rms_norm_eps = 1e-5;
  double rope_theta = 10000.0;
  double dropout = 0.0;     // attention-probability and residual-branch dropout (training only)
  // Error naming the field: sizes positive, n_embd % n_head == 0, head dim even, n_head % n_kv_head == 0, ...
  void validate() const;
  int64_t hidden() const;   // the resolved intermediate_size
};

class LlamaBlock;

class Llama : public CausalLM {
 public:
  Llama(const LlamaConfig& cfg, Generator& init, DType dtype = DType::f32);
  ~Llama() override;
  Tensor forward(const Tensor& ids, Generator* dropout_gen = nullptr) const override;
  int64_t vocab_size() const override { return cfg_.vocab_size; }
  int64_t block_size() const override { return cfg_.block_size; }
  std::string model_type() const override { return "llama"; }
  nlohmann::json hf_config() const override;
  std::vector<std::pair<std::string, Tensor>> hf_state_dict() const override;
  void load_hf_state(const io::SafetensorsFile& file) override;
  const LlamaConfig& config() const { return cfg_; }

  static LlamaConfig config_from_hf(const nlohmann::json& j);

 private:
  LlamaConfig cfg_;
  Module model_;   // "model": embed_tokens, layers.N, norm
  Module layers_;
  std::unique_ptr<nn::Embedding> embed_tokens_;
  std::vector<std::unique_ptr<LlamaBlock>> blocks_;
  std::unique_ptr<nn::RMSNorm> norm_;
  std::unique_ptr<nn::Linear> lm_head_;
};

}  // namespace xfmr::models
