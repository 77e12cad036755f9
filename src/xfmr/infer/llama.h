// Llama decoding on plain weight buffers (io::LlamaWeights), separate from the autograd Tensor ops. Decoding
// one token is memory-bound: it streams every weight once through the matrix-vector kernels of
// kernels/cpu/quant.h (f32 / f16 / q8_0 / q4_0) and keeps keys and values in a KV cache. Prefill (the prompt) is
// compute-bound and runs blocks of tokens through matrix-matrix products (kernels/cpu/quant_gemm.h) with causal
// attention inside the block.
// The block (Touvron et al. 2023, "Llama 2"; as in llama2.c run.c):
//   h = x + Wo · Attn(RoPE(Wq · rms(x)), RoPE(Wk · rms(x)), Wv · rms(x))      (causal, grouped-query)
//   x' = h + Wdown · (silu(Wgate · rms(h)) * (Wup · rms(h)))                  (SwiGLU, Shazeer 2020)
// RMSNorm (Zhang & Sennrich 2019): x / sqrt(mean(x²) + eps) * w. RoPE (Su et al. 2021) rotates adjacent pairs
// (x[2i], x[2i+1]) of each head by pos * theta^(-2i/head_size), the pairing of llama2.c and of GGUF llama
// files.
// Threads: a token (or a prefill block) runs in ONE thread team (infer/decode_team.h); every product splits its output rows in
// fixed contiguous ranges across the team (attention splits heads) with a barrier where the next step needs
// all of them (5 per layer), instead of a thread team per product. Each row is computed by the same
// operations whatever the range, so logits are bit-identical for every thread count. Small models run on
// fewer threads (a barrier costs more than their work).
// Weights: the constructor repacks q4_0 / q8_0 matrices 8 rows at a time (kernels/cpu/quant_packed.h; decode
// and prefill then use its VNNI kernels) and copies f32 / f16 matrices from a file mapping, all into one
// huge-page arena, releasing the originals' pages (see pack_weights); models over the same weights share that
// arena (packed(), infer::LoadedModel::decoder). An original that the model alone owns (in-memory weights moved
// in, e.g. `bench decode`'s random presets) is freed once copied, so the weights are held once.
// Buffers: activations and the KV cache are allocated in the constructor, the prefill block buffers on the
// first prefill, per-thread scratch when the thread count first grows: steady-state decoding allocates nothing.
#pragma once
#include <array>
#include <cstdlib>
#include <cstdint>
#include <memory>
#include <vector>

#include "xfmr/infer/decoder.h"
#include "xfmr/io/llama_weights.h"
#include "xfmr/kernels/cpu/quant.h"

namespace xfmr::infer {

// Where the decoder reads one weight matrix from: null data = the original buffer; x8 = repacked 8 rows at a
// time (kernels/cpu/quant_packed.h); else a same-layout copy in the huge-page arena.
struct PackedMatrix {
  const uint8_t* data = nullptr;
  bool x8 = false;
};

// The repacked / huge-page copies of a model's weight matrices (see pack_weights in llama.cc). Immutable once
// built, so models decoding the same weights (serve's slots) share one: the arena is the size of the weights.
struct LlamaPackedWeights;

class LlamaModel : public Decoder {
 public:
  // max_context: positions the KV cache holds (0 or more than cfg.seq_len: cfg.seq_len). `packed`: the
  // packed copies of another LlamaModel over the same `w` (its packed()), shared instead of built again.
  // When this constructor builds the copies, each matrix buffer of `w` that it copied and that no other
  // LlamaWeights shares (io::LlamaWeights::keep: the caller moved its in-memory weights in) is freed, its
  // data set to null in weights() (with a tied embedding's, read from the output copy instead).
  explicit LlamaModel(io::LlamaWeights w, int64_t max_context = 0,
                      std::shared_ptr<const LlamaPackedWeights> packed = nullptr);

  // This model's packed weight copies, for another LlamaModel over the same weights.
  const std::shared_ptr<const LlamaPackedWeights>& packed() const { return packed_; }

  const io::LlamaConfig& config() const { return w_.cfg; }
  // The weights as decoded: a matrix freed after copying (see the constructor) has data == nullptr.
  const io::LlamaWeights& weights() const { return w_; }
  int64_t context_length() const override { return ctx_; }
  int64_t vocab_size() const override { return w_.cfg.vocab_size; }
  int32_t bos_id() const override { return w_.cfg.bos_id; }
  int32_t eos_id() const override { return w_.cfg.eos_id; }

  // Feeds `token` at position `pos` and returns the next-token logits [vocab] (valid until the next call).
  // The cache must hold this sequence's positions 0..pos-1 (fed in order before); 0 <= pos < context_length()
  // and 0 <= token < vocab, else xfmr::Error.
  const float* forward(int32_t token, int64_t pos) override;

  // Feeds tokens[0..n) at positions pos0..pos0+n-1 (the cache holding positions 0..pos0-1) and returns the
  // logits [vocab] after the last one; the same values as n calls of forward() within rounding.
  // Tokens are processed kPrefillBlock at a time.
  const float* prefill(const int32_t* tokens, int64_t n, int64_t pos0) override;
  static constexpr int64_t kPrefillBlock = 64;

 private:
  void decode_step(int tid, int nt, int64_t pos);
  void prefill_block(int tid, int nt, const int32_t* tokens, int64_t n, int64_t pos0, bool logits);
  void final_logits(int tid, int nt, const float* x);
  int team_size() const;
  void reserve_threads(int nt);
  void rope_rows(float* v, int64_t a, int64_t b, int64_t pos) const;
  // Rows [a, b) of m · x (decode) and of m · X for a prefill block, through m's packed copy when it has one.
  void embed(int32_t id, float* out) const;
  using Copy = PackedMatrix;
  void mv_rows(const io::WeightRef& m, const Copy& packed, const float* x, const kern::QuantizedActs* xq,
               float* y, int64_t a, int64_t b) const;
  // xq: x's n rows quantized (quantize_block), read only by packed matrices.
  void mm_rows(const io::WeightRef& m, const Copy& packed, const float* x, const kern::QuantizedActs* xq,
               int64_t n, float* y, int64_t ldy, int64_t a, int64_t b, float* tile) const;
  const kern::QuantizedActs* quantize_block(int tid, const float* x, int64_t n, int64_t cols);

  io::LlamaWeights w_;
  int64_t ctx_;
  int64_t madds_per_token_ = 0;  // multiply-adds of all weight matrices: sizes the thread team
  // Activations: x, xatt, xb2 [dim]; q [dim]; hb, hb2 [hidden]; att [n_heads, ctx]; logits [vocab];
  // rope_cos/rope_sin [ctx, head_size / 2]. KV cache: key/value [n_layers, ctx, kv_dim].
  std::vector<float> x_, xatt_, xb2_, q_, hb_, hb2_, att_, logits_, rope_cos_, rope_sin_;
  std::vector<float> key_cache_, value_cache_;
  // Per thread: the normalised input of the next product [threads, dim] and its q8_0 form (each thread
  // normalises the shared x itself, which saves a barrier); hq_ is hb quantized, each thread its own blocks.
  std::vector<float> xbt_;
  std::vector<kern::QuantizedActs> xqt_;
  kern::QuantizedActs hq_;
  // Prefill block [kPrefillBlock, ...]: residual x, normalised xb, q, attention out, product out, hb, hb2; per
  // thread: a dequantized weight tile and a block of attention scores [kPrefillBlock, ctx].
  std::vector<float> px_, pxb_, pq_, patt_, py_, phb_, phb2_, ptile_, pscore_;
  int threads_ready_ = 0;
  std::shared_ptr<const LlamaPackedWeights> packed_;
  // Per thread, when any matrix is packed: the input rows of the next prefill products as q8_0
  // [threads, kPrefillBlock] (each thread quantizes the whole block itself: no barrier needed).
  std::vector<kern::QuantizedActs> pxq_;
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
