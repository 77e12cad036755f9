// A Hugging Face Llama model folder as io::LlamaWeights for the inference path: DIR/config.json (model_type
// "llama": hidden_size, intermediate_size, num_hidden_layers, num_attention_heads, num_key_value_heads,
// vocab_size, max_position_embeddings -> seq_len, rms_norm_eps, rope_theta, tie_word_embeddings,
// bos/eos_token_id) and DIR/model.safetensors with LlamaForCausalLM's tensor names (models/llama.h lists
// them). This is what `xfmr train` writes for model.type=llama (RUN/model/) and what transformers'
// save_pretrained writes for a single-file Llama.
//
// Weights: F32 and F16 matrices are used in place (borrowed from the mapping), BF16 / F64 ones are converted
// to f32; norms are always f32.
//
// RoPE pairing: HF stores q_proj / k_proj rows for the rotate-half RoPE (element i of a head pairs with
// i + head_size/2), while infer/llama.h rotates adjacent pairs (2i, 2i+1) as llama2.c and GGUF files do. The
// two are the same rotation up to a permutation of each head's rows: our row 2i + p (p = 0, 1) is HF row
// p * head_size/2 + i (the inverse of the permutation HF's convert_llama_weights_to_hf applies to Meta's
// checkpoints). q and k are permuted alike, so q·k, and the attention, is unchanged.
#pragma once
#include <string>

#include "xfmr/io/llama_weights.h"

namespace xfmr::io {

// True when `path` is a folder holding a config.json (a model folder, whatever its model_type).
bool is_model_folder(const std::string& path);

// The "model_type" of DIR/config.json. Error naming the file when it is missing, not JSON, or has none.
std::string model_folder_type(const std::string& dir);

// Reads a Llama folder as above. Errors are one line naming the file: a missing config.json or
// model.safetensors, a model_type other than "llama", unsupported settings (rope_scaling, biases, an
// activation other than silu, head_dim != hidden_size / num_attention_heads), a missing tensor, a tensor of
// the wrong shape or a non-float dtype, a tensor the model does not use.
LlamaWeights load_llama_hf(const std::string& dir);

}  // namespace xfmr::io
