// A Llama-architecture checkpoint as plain weight buffers for the inference path (infer/llama.h): the config
// and, for each matrix, its element type and rows. Buffers usually point into a memory-mapped file (GGUF or
// llama2.c .bin); `keep` holds whatever owns them. Readers: io/llama2c.h, io/llama_gguf.h, io/llama_hf.h;
// load_llama_weights picks by content.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "xfmr/kernels/quant_types.h"

namespace xfmr::io {

struct LlamaConfig {
  int64_t dim = 0;         // model width
  int64_t hidden_dim = 0;  // SwiGLU inner width
  int64_t n_layers = 0;
  int64_t n_heads = 0;
  int64_t n_kv_heads = 0;  // grouped-query attention: n_heads is a multiple of n_kv_heads
  int64_t vocab_size = 0;
  int64_t seq_len = 0;  // the longest context the KV cache holds
  float rope_theta = 10000.0f;
  float norm_eps = 1e-5f;
  int32_t bos_id = 1, eos_id = 2;  // llama2.c / SentencePiece defaults; GGUF metadata overrides; -1: none

  int64_t head_size() const { return dim / n_heads; }
  int64_t kv_dim() const { return n_kv_heads * head_size(); }
};

// Throws xfmr::Error (prefixed by `what`, e.g. the file name) when the config is inconsistent or absurd:
// non-positive sizes, dim not a multiple of n_heads, odd head size (RoPE rotates pairs), n_heads not a
// multiple of n_kv_heads, sizes so large that products could overflow.
void validate_llama_config(const LlamaConfig& c, const std::string& what);

// A matrix W [rows, cols] (PyTorch Linear layout: out x in), row r at data + r * row_bytes().
struct WeightRef {
  kernels::QType type = kernels::QType::f32;
  const uint8_t* data = nullptr;
  int64_t rows = 0, cols = 0;
  int64_t row_bytes() const { return kernels::qtype_row_bytes(type, cols); }
  int64_t bytes() const { return rows * row_bytes(); }
};

struct LlamaLayer {
  const float* attn_norm = nullptr;  // [dim]
  WeightRef wq, wk, wv, wo;          // [dim, dim], [kv_dim, dim], [kv_dim, dim], [dim, dim]
  const float* ffn_norm = nullptr;   // [dim]
  WeightRef w_gate, w_down, w_up;    // [hidden, dim], [dim, hidden], [hidden, dim]  (llama2.c w1, w2, w3)
};

struct LlamaWeights {
  LlamaConfig cfg;
  WeightRef tok_embd;  // [vocab, dim]
  std::vector<LlamaLayer> layers;
  const float* output_norm = nullptr;  // [dim]
  WeightRef output;                    // [vocab, dim]; the same buffer as tok_embd when tied
  bool tied = true;
  std::string source;                             // file name, for messages
  // Owners of the buffers above. An entry whose get() is a matrix's data owns that matrix's buffer alone (the
  // in-memory weights of random_llama_weights / requantize_llama_weights): a consumer that holds the only
  // reference and no longer reads the matrix may free it (infer::LlamaModel does once it has repacked it).
  std::vector<std::shared_ptr<const void>> keep;
};

// Reads a .gguf (magic "GGUF"), a llama2.c .bin checkpoint, or a Hugging Face Llama model folder
// (config.json + model.safetensors, io/llama_hf.h). Errors name the file and what is wrong.
LlamaWeights load_llama_weights(const std::string& path);

// Random weights of the given shape (N(0, 0.02) matrices, unit norms; tied when `tied`), every matrix stored
// as `type` (f16 where a row length is not a multiple of 32 and type is q8_0/q4_0), for benchmarks and tests.
LlamaWeights random_llama_weights(const LlamaConfig& cfg, kernels::QType type, uint64_t seed,
                                  bool tied = true);

// The same weights with every matrix re-encoded as `type` (f16 where a row is not a multiple of 32 and type
// is a block type): dequantize to f32, quantize. Norms stay f32.
LlamaWeights requantize_llama_weights(const LlamaWeights& w, kernels::QType type);

}  // namespace xfmr::io
