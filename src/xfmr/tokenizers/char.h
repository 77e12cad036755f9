// The character tokenizer of nanoGPT's shakespeare_char: the vocabulary is the distinct characters (Unicode code
// points) of a corpus, sorted by code point (Python's sorted(set(text))), and a character's id is its index.
// Saved as a small JSON file: {"kind": "char", "chars": ["\n", " ", "!", ...]} (one UTF-8 character per entry).
#pragma once

#include <string>
#include <unordered_map>

#include "xfmr/tokenizers/tokenizer.h"

namespace xfmr::tok {

class CharTokenizer final : public Tokenizer {
 public:
  // chars: the vocabulary in id order; Error when empty, not strictly increasing, or not valid code points.
  explicit CharTokenizer(std::vector<char32_t> chars);
  // sorted(set(text)); Error when the corpus is empty or not valid UTF-8 (naming the byte offset).
  static CharTokenizer from_corpus(std::string_view text);
  // Reads/writes the JSON file above; load() errors name the path and the problem. save() writes atomically.
  static CharTokenizer load(const std::string& path);
  static CharTokenizer from_json_text(const std::string& json_text, const std::string& what);
  void save(const std::string& path) const;
  std::string to_json() const;

  // Error naming the character and its position (character index and byte offset) when it is not in the vocabulary.
  std::vector<int32_t> encode(std::string_view text, bool add_bos = false) const override;
  std::string decode(const std::vector<int32_t>& ids) const override;
  std::string decode_token(int32_t prev, int32_t id) const override;

  int32_t vocab_size() const override { return static_cast<int32_t>(chars_.size()); }
  std::string kind() const override { return "char"; }
  const std::vector<char32_t>& chars() const { return chars_; }

 private:
  std::vector<char32_t> chars_;
  std::vector<std::string> utf8_;  // chars_[i] encoded
  int32_t ascii_[128];             // fast path: id of an ASCII character or -1
  std::unordered_map<char32_t, int32_t> index_;
};

}  // namespace xfmr::tok
