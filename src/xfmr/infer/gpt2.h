// GPT-2 decoding with a KV cache (Radford et al. 2019; the architecture of models/gpt.h): learned position
// embeddings, pre-LayerNorm blocks with biases, causal multi-head attention, a GELU MLP (4x; exact erf or
// tanh approximation as the config says) and an LM head tied to the token embedding:
//   h = x + Wproj · Attn(split_qkv(Wattn · ln_1(x) + b)) + b
//   x' = h + Wproj2 · gelu(Wfc · ln_2(h) + b) + b,        logits = wte · ln_f(x_last)
// The weights are read in place from a loaded models::Gpt's f32 parameters (already in [out, in] layout;
// other dtypes are copied to f32), as plain buffers: the decoder never runs the autograd graph, and decoders
// over one model share its weights. A token is a matrix-vector product per weight (kernels/cpu/quant.h, rows
// split over the thread pool); a prompt runs in blocks of tokens through matrix-matrix products
// (kernels/cpu/quant_gemm.h) with causal attention over the cache. Buffers: the KV cache [n_layer, ctx, C]
// for keys and values in the constructor, activations on the first token and again on the first prefill (for
// a block): steady-state decoding allocates nothing.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "xfmr/infer/decoder.h"
#include "xfmr/models/gpt.h"

namespace xfmr::infer {

class Gpt2Decoder : public Decoder {
 public:
  // max_context: positions the cache holds (0 or more than block_size: block_size). bos/eos: the ids that
  // end generation (-1: none; HF GPT-2 configs give 50256, <|endoftext|>). The model's parameters must
  // outlive the decoder: pass its owner as `keep` (or keep the model alive yourself).
  explicit Gpt2Decoder(const models::Gpt& model, int64_t max_context = 0, int32_t bos_id = -1,
                       int32_t eos_id = -1, std::shared_ptr<const void> keep = {});

  int64_t vocab_size() const override { return cfg_.vocab_size; }
  int64_t context_length() const override { return ctx_; }
  int32_t bos_id() const override { return bos_; }
  int32_t eos_id() const override { return eos_; }
  const models::GptConfig& config() const { return cfg_; }

  const float* forward(int32_t token, int64_t pos) override;
  const float* prefill(const int32_t* tokens, int64_t n, int64_t pos0) override;
  static constexpr int64_t kPrefillBlock = 64;

 private:
  struct Linear {  // y = W x + b, W [out, in]
    const float *w = nullptr, *b = nullptr;
    int64_t out = 0, in = 0;
  };
  struct Norm {
    const float *w = nullptr, *b = nullptr;
  };
  struct Layer {
    Norm ln_1, ln_2;
    Linear attn, proj, fc,
        fc_proj;  // c_attn [3C, C], attn.c_proj [C, C], mlp.c_fc [4C, C], mlp.c_proj [C, 4C]
  };
  // Runs n tokens (1 <= n <= kPrefillBlock) at positions pos0.. through the model; logits of the last one
  // when `logits`. The residual stream starts in x_ [n, C].
  void run_block(const int32_t* tokens, int64_t n, int64_t pos0, bool logits);
  void linear(const Linear& l, const float* x, int64_t n, float* y);
  void check_token(int32_t token, const char* what) const;

  models::GptConfig cfg_;
  int64_t ctx_ = 0;
  int32_t bos_ = -1, eos_ = -1;
  std::shared_ptr<const void> keep_;             // the model's owner, when given
  std::vector<Tensor> owned_;                    // f32 copies of parameters that were not f32, zero biases
  const float *wte_ = nullptr, *wpe_ = nullptr;  // [V, C], [block_size, C]
  std::vector<Layer> layers_;
  Norm ln_f_;
  // Activations for up to `rows_` tokens: x, xn [rows, C]; qkv [rows, 3C]; att [rows, C]; y [rows, C];
  // h [rows, 4C]; scores [rows, ctx]. KV cache: key/value [n_layer, ctx, C].
  int64_t rows_ = 0;
  std::vector<float> x_, xn_, qkv_, att_, y_, h_, scores_, logits_;
  std::vector<float> key_cache_, value_cache_;
};

}  // namespace xfmr::infer
