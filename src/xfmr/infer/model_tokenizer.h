// The tokenizer that goes with a model file: an explicit path (llama2.c tokenizer.bin, SentencePiece .model,
// a .gguf's vocabulary, or anything tok::load_tokenizer reads), else for a .gguf its own tokenizer.ggml.*
// metadata (SentencePiece "llama" vocabularies), for a model folder its tokenizer.json (or another layout
// tok::load_tokenizer reads from a folder), else for a llama2.c .bin a tok512.bin / tokenizer.bin beside it
// whose vocabulary size matches the model.
#pragma once
#include <memory>
#include <string>

#include "xfmr/io/gguf.h"
#include "xfmr/tokenizers/tokenizer.h"

namespace xfmr::infer {

// Error naming the file when no tokenizer is found or it does not fit the model's vocabulary size.
std::unique_ptr<tok::Tokenizer> tokenizer_for_model(const std::string& model_path,
                                                    const std::string& tokenizer_path, int64_t vocab_size);

// A tokenizer from a GGUF's tokenizer.ggml.* metadata: SentencePiece from {model = "llama", tokens, scores,
// token_type, bos/eos/unknown_token_id, add_space_prefix}, or GPT-2 byte-level BPE from {model = "gpt2", tokens,
// merges} when the pre-tokenizer is GPT-2's. Error when the metadata is missing or of another model.
std::unique_ptr<tok::Tokenizer> tokenizer_from_gguf(const io::GgufFile& f);

}  // namespace xfmr::infer
