#include "xfmr/tokenizers/byte.h"

#include "xfmr/core/check.h"

namespace xfmr::tok {

ByteTokenizer::ByteTokenizer(bool with_bos, bool with_eos) {
  if (with_bos) bos_ = vocab_size_++;
  if (with_eos) eos_ = vocab_size_++;
}

std::vector<int32_t> ByteTokenizer::encode(std::string_view text, bool add_bos) const {
  std::vector<int32_t> ids;
  ids.reserve(text.size() + 1);
  if (add_bos && bos_ >= 0) ids.push_back(bos_);
  for (const char c : text) ids.push_back(static_cast<unsigned char>(c));
  return ids;
}

std::string ByteTokenizer::decode_token(int32_t /*prev*/, int32_t id) const {
  XF_CHECK(id >= 0 && id < vocab_size_, "byte tokenizer: decode: id ", id, " is out of range [0, ", vocab_size_, ")");
  if (id < 256) return std::string(1, static_cast<char>(id));
  return {};
}

std::string ByteTokenizer::decode(const std::vector<int32_t>& ids) const {
  std::string out;
  out.reserve(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    const int32_t id = ids[i];
    XF_CHECK(id >= 0 && id < vocab_size_, "byte tokenizer: decode: id ", id, " at position ", i,
             " is out of range [0, ", vocab_size_, ")");
    if (id < 256) out += static_cast<char>(id);
  }
  return out;
}

}  // namespace xfmr::tok
