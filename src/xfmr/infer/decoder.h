// The surface generation needs from a model with a KV cache (infer/generate.h): feed tokens at positions,
// get next-token logits. Implemented by LlamaModel (infer/llama.h) and Gpt2Decoder (infer/gpt2.h).
// Positions are explicit: feeding a sequence from position 0 again overwrites the cache, so one decoder runs
// prompt after prompt with nothing to reset.
#pragma once
#include <cstdint>

namespace xfmr::infer {

class Decoder {
 public:
  virtual ~Decoder() = default;

  virtual int64_t vocab_size() const = 0;
  // Positions the KV cache holds.
  virtual int64_t context_length() const = 0;
  // Token ids that end generation (-1: none). llama2.c-style models start the next story with BOS.
  virtual int32_t bos_id() const = 0;
  virtual int32_t eos_id() const = 0;

  // Feeds `token` at position `pos` (the cache holding positions 0..pos-1 of this sequence) and returns the
  // next-token logits [vocab] (valid until the next call). Error for a token outside the vocabulary or a
  // position outside [0, context_length()).
  virtual const float* forward(int32_t token, int64_t pos) = 0;
  // Feeds tokens[0..n) at positions pos0..pos0+n-1 and returns the logits after the last one; the same
  // values as n calls of forward() within rounding.
  virtual const float* prefill(const int32_t* tokens, int64_t n, int64_t pos0) = 0;
};

}  // namespace xfmr::infer
