// Tokenizers: text <-> token ids, byte-exact with the reference implementations they mirror
// (GPT-2 byte-level BPE, SentencePiece BPE as in llama2.c / Llama, plain byte and char vocabularies).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace xfmr::tok {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Encodes UTF-8 (or arbitrary) bytes. add_bos prepends bos_id() when the vocabulary has one.
  virtual std::vector<int32_t> encode(std::string_view text, bool add_bos = false) const = 0;
  // Decodes a whole sequence. SentencePiece control tokens (BOS/EOS) and the byte/char tokenizers' BOS/EOS produce no
  // text; GPT-2 special tokens such as <|endoftext|> decode to their text (as HF and tiktoken do), which keeps GPT-2
  // decoding lossless. Ids outside the vocabulary are an xfmr::Error.
  virtual std::string decode(const std::vector<int32_t>& ids) const = 0;
  // The bytes one token adds when it follows `prev` (-1 at the start), for streaming output; SentencePiece
  // drops the leading space of the first piece after BOS, so the previous id matters.
  virtual std::string decode_token(int32_t prev, int32_t id) const = 0;

  virtual int32_t vocab_size() const = 0;
  virtual int32_t bos_id() const { return -1; }  // -1: none
  virtual int32_t eos_id() const { return -1; }  // -1: none
  virtual std::string kind() const = 0;          // "byte", "char", "gpt2-bpe", "sentencepiece-bpe"
};

// Loads a tokenizer from a file or folder, choosing the format from its content: tokenizer.json (HF), a folder with
// vocab.json + merges.txt, tokenizer.model (SentencePiece protobuf), tokenizer.bin (llama2.c), a char vocabulary JSON
// ({"kind": "char", ...}). A .gguf is refused for now: GGUF vocabularies are built by io/gguf through the public
// constructors in gpt2_bpe.h / sentencepiece.h. Throws xfmr::Error naming the path and what is wrong.
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path);

}  // namespace xfmr::tok
