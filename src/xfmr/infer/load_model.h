// Opens any checkpoint `xfmr generate` runs: a .gguf, a llama2.c .bin, or a native model folder (what
// `xfmr train` writes as RUN/model/, or a transformers save_pretrained folder: config.json +
// model.safetensors) of model_type "llama" (decoded by infer/llama.h, weights read by io/llama_hf.h) or
// "gpt2" (loaded through models/pretrained.h, decoded by infer/gpt2.h).
// Loading and sizing the KV cache are separate steps so that a caller can first pick the tokenizer (it needs
// the vocabulary size) and encode its prompts, then make a decoder whose cache holds just what they need.
#pragma once
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "xfmr/infer/decoder.h"
#include "xfmr/infer/llama.h"
#include "xfmr/io/llama_weights.h"
#include "xfmr/models/gpt.h"

namespace xfmr::infer {

struct LoadedModel {
  std::string kind;  // "llama" (every file format) or "gpt2" (folders only)
  std::string path;
  io::LlamaWeights llama;                   // kind "llama"
  std::shared_ptr<const models::Gpt> gpt2;  // kind "gpt2"
  int32_t bos_id = -1, eos_id = -1;         // kind "gpt2": bos/eos_token_id of config.json (-1: none)

  int64_t vocab_size() const;
  int64_t max_context() const;  // the longest context the model supports
  // A fresh decoder whose KV cache holds `context` positions (0 or more than max_context(): max_context()).
  // Decoders share the weight buffers (and keep them alive), including a Llama model's repacked copies: the
  // first decoder builds them, later ones (serve's slots) reuse them. Safe to call from several threads.
  std::unique_ptr<Decoder> decoder(int64_t context = 0) const;

 private:
  struct Shared {
    std::mutex mu;
    std::shared_ptr<const LlamaPackedWeights> packed;
  };
  std::shared_ptr<Shared> shared_ = std::make_shared<Shared>();
};

// One-line errors naming the path: a folder without config.json or model.safetensors, a model_type other
// than gpt2 / llama, a missing tensor or one of the wrong shape (and every file-format error of
// io::load_llama_weights).
LoadedModel load_model(const std::string& path);

}  // namespace xfmr::infer
