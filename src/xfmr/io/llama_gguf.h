// Llama-architecture models in GGUF: llama.cpp's metadata keys (general.architecture = "llama",
// llama.embedding_length, llama.block_count, llama.attention.head_count / head_count_kv,
// llama.feed_forward_length, llama.rope.freq_base, llama.attention.layer_norm_rms_epsilon,
// llama.context_length) and tensor names (token_embd, blk.N.{attn_norm, attn_q, attn_k, attn_v, attn_output,
// ffn_norm, ffn_gate, ffn_up, ffn_down}, output_norm, output; no `output` = tied to token_embd). Q and K rows
// are in the order llama.cpp's converter leaves them, which pairs adjacent elements for RoPE exactly as
// llama2.c does (checked on stories260K: every GGUF tensor is bit-identical to the .bin's), so infer/llama.h
// uses one RoPE for both formats.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "xfmr/io/gguf.h"
#include "xfmr/io/llama2c.h"
#include "xfmr/io/llama_weights.h"

namespace xfmr::io {

// Errors (naming the file): another architecture, a missing tensor, a tensor of the wrong shape, a norm that
// is not f32, inconsistent sizes.
LlamaWeights load_llama_gguf(const GgufFile& f);

using GgufMetadata = std::vector<std::pair<std::string, GgufValue>>;

// The tokenizer.* metadata of a GGUF (empty when it has none), to carry a vocabulary into a converted file.
GgufMetadata gguf_tokenizer_metadata(const GgufFile& f);
// SentencePiece-style tokenizer.* metadata (model "llama") from a llama2.c tokenizer.bin vocabulary: spaces
// become U+2581, token types are unknown (id 0), control (bos/eos), byte (<0xNN>) or normal.
GgufMetadata gguf_tokenizer_metadata(const Llama2cVocab& v, int32_t bos_id, int32_t eos_id);

// Writes w as a llama GGUF with every matrix stored as `type` (q8_0/q4_0 fall back to f16 for a matrix whose
// rows are not a multiple of 32), norms f32, plus `extra` metadata (e.g. a tokenizer).
void write_llama_gguf(const LlamaWeights& w, const std::string& path, kernels::QType type,
                      const GgufMetadata& extra = {}, const std::string& name = "");

}  // namespace xfmr::io
