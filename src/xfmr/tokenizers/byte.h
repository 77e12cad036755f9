// The byte tokenizer: ids 0..255 are the bytes themselves (lossless on any input, valid UTF-8 or not).
// Optional BOS/EOS ids follow the bytes: BOS = 256 when requested, EOS = the next free id (256 or 257).
#pragma once

#include "xfmr/tokenizers/tokenizer.h"

namespace xfmr::tok {

class ByteTokenizer final : public Tokenizer {
 public:
  explicit ByteTokenizer(bool with_bos = false, bool with_eos = false);

  std::vector<int32_t> encode(std::string_view text, bool add_bos = false) const override;
  // Error when an id is outside [0, vocab_size). BOS/EOS produce no text.
  std::string decode(const std::vector<int32_t>& ids) const override;
  std::string decode_token(int32_t prev, int32_t id) const override;

  int32_t vocab_size() const override { return vocab_size_; }
  int32_t bos_id() const override { return bos_; }
  int32_t eos_id() const override { return eos_; }
  std::string kind() const override { return "byte"; }

 private:
  int32_t bos_ = -1, eos_ = -1, vocab_size_ = 256;
};

}  // namespace xfmr::tok
