// `xfmr bench decode`: prefill and token-by-token decoding speed of infer::LlamaModel, printed as one JSON line
// with the fields of the PyTorch peer ../shared/bench/torch_decode.py (prefill_ms, prefill_tokens_per_s,
// decode_ms_per_token, decode_tokens_per_s, params, ...), plus the memory the run needed against what it
// must need (weights + KV cache), so a script can put xfmr, PyTorch and llama.cpp side by side.
#pragma once
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "xfmr/io/llama_gguf.h"
#include "xfmr/io/llama_weights.h"

namespace xfmr {

struct DecodeBench {
  // Random weights of a llama2.c checkpoint's shape (torch_decode.py's presets):
  //   stories15M : dim 288, 6 layers, 6 heads, hidden 768, vocab 32000, seq 256
  //   stories110M: dim 768, 12 layers, 12 heads, hidden 2048, vocab 32000, seq 1024
  // or, when `model` is set, a checkpoint file (.gguf, llama2.c .bin, or a folder holding one).
  std::string preset = "stories15M";
  std::string model;
  std::string dtype;  // f32 | f16 | q8_0 | q4_0; "" keeps the file's types (f32 for a preset)
  int64_t dim = -1, n_layer = -1, n_head = -1, hidden = -1, vocab = -1, seq = -1;  // < 0: the preset's
  int64_t prompt = 1;  // prefill length, as torch_decode.py's default
  int64_t gen = -1;    // generated tokens (the first comes from the prefill); < 0: fill the context to seq
  int64_t warmup = 1;  // untimed full runs before the timed one
  uint64_t seed = 0;   // weights and prompt
  std::string write_gguf;  // when set, the weights are also written there (for llama.cpp's llama-bench)
};

// Runs `warmup` untimed then one timed run (prefill of `prompt` random tokens, then greedy decoding of gen - 1
// tokens) on the current thread count and returns the JSON record.
nlohmann::ordered_json bench_decode(const DecodeBench& opt);

// The config of a preset ("stories15M" | "stories110M"); Error for other names.
io::LlamaConfig decode_preset(const std::string& name);

// A synthetic SentencePiece vocabulary of n pieces (<unk>, <s>, </s>, the 256 byte pieces, then " w<i>"), so
// that peers which insist on a tokenizer (llama.cpp) load random-weight files.
io::GgufMetadata synthetic_vocab(int64_t n);

}  // namespace xfmr
