// GPT-2 byte-level BPE (Radford et al. 2019, "Language Models are Unsupervised Multitask Learners", sec. 2.2; OpenAI
// gpt-2 encoder.py): text is split by GPT-2's pre-tokenizer regex, each pre-token's bytes become single-byte tokens,
// and adjacent pairs are merged in the order of the merge list (lowest rank first, all occurrences left to right)
// until no listed pair remains. Lossless on arbitrary bytes (invalid UTF-8 included).
//
// Vocabulary entries are in GPT-2's "display" form (bytes_to_unicode, see byte_level.h): the form used by
// vocab.json, merges.txt, HF tokenizer.json and GGUF tokenizer.ggml.tokens / tokenizer.ggml.merges.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>

#include "xfmr/tokenizers/tokenizer.h"

namespace xfmr::tok {

class Gpt2BpeTokenizer final : public Tokenizer {
 public:
  using Merge = std::pair<std::string, std::string>;  // (left, right), display form

  // vocab: token (display form) -> id; ids need not be dense but must be >= 0 and distinct.
  // merges: in rank order (first = applied first); both sides and their concatenation must be in the vocabulary.
  // special_tokens: literal strings (not display form) matched in the text before pre-tokenization, as HF tokenizers
  //   and tiktoken with allowed_special do; those absent from the vocabulary are ignored. "<|endoftext|>" (GPT-2 id
  //   50256) is also BOS/EOS when present.
  // All 256 single-byte tokens must be in the vocabulary. Throws xfmr::Error naming the bad entry.
  Gpt2BpeTokenizer(const std::unordered_map<std::string, int32_t>& vocab, const std::vector<Merge>& merges,
                   const std::vector<std::string>& special_tokens = {"<|endoftext|>"});
  // For id-ordered token lists such as GGUF's tokenizer.ggml.tokens (id = index) with merges as "left right" lines.
  static std::unique_ptr<Gpt2BpeTokenizer> from_token_list(const std::vector<std::string>& tokens,
                                                           const std::vector<std::string>& merges,
                                                           const std::vector<std::string>& special_tokens = {
                                                               "<|endoftext|>"});
  ~Gpt2BpeTokenizer() override;

  // Special tokens in the text become their ids; add_bos prepends <|endoftext|> when the vocabulary has it.
  std::vector<int32_t> encode(std::string_view text, bool add_bos = false) const override;
  // Plain BPE: special-token strings are encoded as ordinary text (OpenAI encoder.py, tiktoken encode_ordinary).
  std::vector<int32_t> encode_ordinary(std::string_view text) const;
  // Every token decodes to its bytes; special tokens to their text ("<|endoftext|>"), as HF and tiktoken do, so
  // decode(encode(s)) == s for every byte string s. Error on ids outside the vocabulary.
  std::string decode(const std::vector<int32_t>& ids) const override;
  std::string decode_token(int32_t prev, int32_t id) const override;

  int32_t vocab_size() const override { return static_cast<int32_t>(token_bytes_.size()); }
  int32_t bos_id() const override { return eot_id_; }
  int32_t eos_id() const override { return eot_id_; }
  std::string kind() const override { return "gpt2-bpe"; }

  int32_t token_id(const std::string& display) const;  // -1 when absent
  // Empties the pre-token cache (for cold-start benchmarks; encoding refills it).
  void clear_cache() const;
  size_t num_merges() const { return n_merges_; }

 private:
  struct MergeTable;
  struct Cache;
  void encode_chunk(std::string_view text, std::vector<int32_t>& out) const;
  void bpe(std::string_view word, std::vector<int32_t>& out) const;

  std::vector<std::string> token_bytes_;  // id -> raw bytes (special tokens: their text); "" for unused ids
  std::vector<bool> valid_id_;
  std::unordered_map<std::string, int32_t> display_to_id_;
  std::vector<std::pair<std::string, int32_t>> specials_;  // (text, id), longest first
  int32_t byte_id_[256];
  int32_t eot_id_ = -1;
  size_t n_merges_ = 0;
  std::unique_ptr<MergeTable> merges_;
  std::unique_ptr<Cache> cache_;
};

// Loaders (errors name the path and the problem):
// OpenAI/HF GPT-2 files: vocab.json ({"token": id}) and merges.txt (optional "#version" line, then "left right").
std::unique_ptr<Gpt2BpeTokenizer> load_gpt2_vocab_merges(const std::string& vocab_json, const std::string& merges_txt);
// HF tokenizer.json with model.type "BPE" and a ByteLevel pre-tokenizer; merges as "a b" strings or [a, b] pairs;
// added_tokens are matched literally in the text (as HF does) and decode to their text.
std::unique_ptr<Gpt2BpeTokenizer> load_hf_tokenizer_json(const std::string& path);
std::unique_ptr<Gpt2BpeTokenizer> parse_hf_tokenizer_json(const std::string& json_text, const std::string& what);

}  // namespace xfmr::tok
