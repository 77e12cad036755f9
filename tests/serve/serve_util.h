// Shared by the serve tests: the stories260K model and tokenizer, and the single-sequence oracle
// (infer::generate on its own LlamaModel) that every served completion must reproduce.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "infer/stories_data.h"
#include "xfmr/infer/generate.h"
#include "xfmr/infer/model_tokenizer.h"
#include "xfmr/io/llama_weights.h"
#include "xfmr/serve/api.h"

namespace xfmr::test {

inline const io::LlamaWeights& stories_weights() {
  static const io::LlamaWeights w = io::load_llama_weights(stories_bin());
  return w;
}

inline std::unique_ptr<tok::Tokenizer> stories_tokenizer() {
  return infer::tokenizer_for_model(stories_bin(), "", stories_weights().cfg.vocab_size);
}

struct Expected {
  std::string text;
  int64_t prompt_tokens = 0, completion_tokens = 0;
  std::string finish;  // "stop" | "length"
};

// What `xfmr generate` produces for this prompt text and these options (BOS prepended, full context).
inline Expected expected_generation(const std::string& prompt, const infer::GenerateOptions& opt) {
  static const std::unique_ptr<tok::Tokenizer> tok = stories_tokenizer();
  infer::LlamaModel model(stories_weights());
  const std::vector<int32_t> ids = tok->encode(prompt, /*add_bos=*/true);
  const infer::GenerateResult r = infer::generate(model, ids, opt, tok.get());
  return {r.text, static_cast<int64_t>(ids.size()), static_cast<int64_t>(r.tokens.size()),
          serve::finish_reason(r.stop_reason)};
}

inline infer::GenerateOptions greedy(int64_t max_tokens, std::vector<std::string> stop = {}) {
  infer::GenerateOptions o;
  o.max_tokens = max_tokens;
  o.sampler.temperature = 0;
  o.sampler.top_p = 1;
  o.sampler.min_p = 0;
  o.stop = std::move(stop);
  return o;
}

// Prompts with different lengths and continuations.
inline const std::vector<std::string>& serve_prompts() {
  static const std::vector<std::string> p = {
      "Once upon a time",       "Lily and Ben went to the park", "The cat",  "One day, a little bird",
      "Tom had a big red ball", "The sun was shining and",       "Mom said", "There was a dog named Max",
  };
  return p;
}

}  // namespace xfmr::test
