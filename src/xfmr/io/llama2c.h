// llama2.c checkpoints (Karpathy's run.c "legacy v0" .bin): a header of 7 int32 (dim, hidden_dim, n_layers,
// n_heads, n_kv_heads, vocab_size, seq_len; a negative vocab_size means the classifier is not tied to the
// embedding), then f32 arrays in this order:
//   token_embedding [vocab, dim], rms_att [L, dim], wq [L, dim, dim], wk [L, kv_dim, dim], wv [L, kv_dim,
//   dim], wo [L, dim, dim], rms_ffn [L, dim], w1 [L, hidden, dim], w2 [L, dim, hidden], w3 [L, hidden, dim],
//   rms_final [dim], freq_cis_real [seq_len, head/2], freq_cis_imag [seq_len, head/2] (ignored: RoPE is
//   recomputed), then wcls [vocab, dim] when untied.
// The file must be exactly that long; anything else is an xfmr::Error naming the file and the mismatch.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "xfmr/io/llama_weights.h"
#include "xfmr/io/mapped_file.h"

namespace xfmr::io {

LlamaWeights load_llama2c(const std::string& path);
LlamaWeights load_llama2c(std::shared_ptr<const MappedFile> file);

// A llama2.c tokenizer.bin (int32 max_token_length, then per token: f32 score, int32 length, bytes), read as
// raw pieces for converting a .bin + tokenizer into a GGUF with a vocabulary. Errors name the file.
struct Llama2cVocab {
  std::vector<std::string> pieces;
  std::vector<float> scores;
};
Llama2cVocab read_llama2c_vocab(const std::string& path, int64_t vocab_size);

}  // namespace xfmr::io
