// Token-by-token Llama decoding on plain weight buffers (io::LlamaWeights), separate from the autograd Tensor
// ops: decoding is memory-bound, so each token streams every weight once through the matrix-vector kernels of
// kernels/cpu/quant.h (f32 / f16 / q8_0 / q4_0) and keeps keys and values in a KV cache.
// The block (Touvron et al. 2023, "Llama 2"; as in llama2.c run.c):
//   h = x + Wo · Attn(RoPE(Wq · rms(x)), RoPE(Wk · rms(x)), Wv · rms(x))      (causal, grouped-query)
//   x' = h + Wdown · (silu(Wgate · rms(h)) * (Wup · rms(h)))                  (SwiGLU, Shazeer 2020)
// RMSNorm (Zhang & Sennrich 2019): x / sqrt(mean(x²) + eps) * w. RoPE (Su et al. 2021) rotates adjacent pairs
// (x[2i], x[2i+1]) of each head by pos * theta^(-2i/head_size), the pairing of llama2.c and of GGUF llama
// files. All buffers (activations, KV cache) are allocated in the constructor: forward() allocates nothing.
#pragma once
#include <cstdint>
#include <vector>

#include "xfmr/io/llama_weights.h"

namespace xfmr::infer {

class LlamaModel {
 public:
  // max_context: positions the KV cache holds (0 or more than cfg.seq_len: cfg.seq_len).
  explicit LlamaModel(io::LlamaWeights w, int64_t max_context = 0);

  const io::LlamaConfig& config() const { return w_.cfg; }
  const io::LlamaWeights& weights() const { return w_; }
  int64_t context_length() const { return ctx_; }

  // Feeds `token` at position `pos` and returns the next-token logits [vocab] (valid until the next call).
  // The cache must hold this sequence's positions 0..pos-1 (fed in order before); 0 <= pos < context_length()
  // and 0 <= token < vocab, else xfmr::Error.
  const float* forward(int32_t token, int64_t pos);

  // Feeds tokens[0..n) at positions pos0..pos0+n-1 (the cache holding positions 0..pos0-1) and returns the
  // logits [vocab] after the last one; the same values as n calls of forward() within rounding.
  const float* prefill(const int32_t* tokens, int64_t n, int64_t pos0);

 private:
  void attention(int64_t layer, int64_t pos);

  io::LlamaWeights w_;
  int64_t ctx_;
  // Activations: x, xb, xb2 [dim]; q [dim]; hb, hb2 [hidden]; att [n_heads, ctx]; logits [vocab];
  // rope_cos/rope_sin [head_size / 2]. KV cache: key/value [n_layers, ctx, kv_dim].
  std::vector<float> x_, xb_, xb2_, q_, hb_, hb2_, att_, logits_, rope_cos_, rope_sin_;
  std::vector<float> key_cache_, value_cache_;
};

// The no-cache oracle: logits [T, vocab] for every position of `tokens`, recomputing the whole sequence with
// plain loops in double over weights dequantized once at construction (kernels/ref/quant.h).
class LlamaReference {
 public:
  explicit LlamaReference(const io::LlamaWeights& w);
  std::vector<float> logits(const std::vector<int32_t>& tokens) const;

 private:
  struct Layer {
    std::vector<double> attn_norm, wq, wk, wv, wo, ffn_norm, w_gate, w_down, w_up;
  };
  io::LlamaConfig cfg_;
  std::vector<double> tok_embd_, output_norm_, output_;
  std::vector<Layer> layers_;
};

}  // namespace xfmr::infer
