// Generation: prefill a prompt through the KV cache, then sample one token at a time until EOS, a token
// budget, the context's end or a stop string. Text is streamed through a callback when a tokenizer is given;
// a stop string is never printed, so text that might be the start of one is held back until it is decided.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "xfmr/infer/decoder.h"
#include "xfmr/infer/llama.h"
#include "xfmr/infer/sampler.h"
#include "xfmr/tokenizers/tokenizer.h"

namespace xfmr::infer {

struct GenerateOptions {
  int64_t max_tokens = 256;  // new tokens at most
  SamplerConfig sampler;
  std::vector<std::string> stop;  // stop strings (need a tokenizer)
  // Stop when the model emits EOS, or BOS: llama2.c-trained models mark the end of a story by starting the
  // next one with BOS (run.c stops there too). The ids are the model's (Decoder::eos_id / bos_id), else,
  // when the model names none (-1), the tokenizer's.
  bool stop_at_eos = true;
};

struct GenerateResult {
  std::vector<int32_t> tokens;  // the generated ids (EOS excluded)
  std::string text;             // their text up to any stop string (with a tokenizer)
  std::string stop_reason;      // "eos", "max_tokens", "context", "stop"
  int64_t prompt_tokens = 0;
  int64_t decode_steps = 0;  // forward passes after the prompt
  double prefill_seconds = 0, decode_seconds = 0;
};

// prompt: token ids, at least one (usually BOS first). on_text receives the generated text piece by piece
// (only with a tokenizer; may be empty).
// Length of the longest suffix of `text` that is a proper prefix of some stop string: those bytes might still
// become a stop string, so a streaming caller holds them back until it is decided.
size_t stop_string_hold_back(std::string_view text, const std::vector<std::string>& stops);

GenerateResult generate(Decoder& model, const std::vector<int32_t>& prompt, const GenerateOptions& opt,
                        const tok::Tokenizer* tokenizer = nullptr,
                        const std::function<void(std::string_view)>& on_text = {});

// Greedy ids without the KV cache: every step recomputes the whole prefix with LlamaReference (the oracle for
// the cached path). Returns the generated ids only.
std::vector<int32_t> generate_greedy_no_cache(const LlamaReference& ref, const std::vector<int32_t>& prompt,
                                              int64_t max_tokens, int32_t vocab_size);

}  // namespace xfmr::infer
