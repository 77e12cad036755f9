#include "xfmr/tokenizers/char.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "xfmr/core/check.h"
#include "xfmr/io/file_util.h"
#include "xfmr/tokenizers/utf8.h"

namespace xfmr::tok {

CharTokenizer::CharTokenizer(std::vector<char32_t> chars) : chars_(std::move(chars)) {
  XF_CHECK(!chars_.empty(), "char tokenizer: the vocabulary is empty");
  std::fill(std::begin(ascii_), std::end(ascii_), -1);
  utf8_.reserve(chars_.size());
  for (size_t i = 0; i < chars_.size(); ++i) {
    const char32_t c = chars_[i];
    XF_CHECK(c <= 0x10FFFF && !(c >= 0xD800 && c <= 0xDFFF), "char tokenizer: entry ", i, " (", static_cast<unsigned>(c),
             ") is not a valid code point");
    XF_CHECK(i == 0 || chars_[i - 1] < c, "char tokenizer: the characters must be distinct and sorted by code point; ",
             describe_code_point(c), " at index ", i, " is not greater than the one before it");
    utf8_.push_back(utf8_encode(c));
    if (c < 128) ascii_[c] = static_cast<int32_t>(i);
    index_.emplace(c, static_cast<int32_t>(i));
  }
}

CharTokenizer CharTokenizer::from_corpus(std::string_view text) {
  XF_CHECK(!text.empty(), "char tokenizer: the corpus is empty");
  bool seen_ascii[128] = {};
  std::vector<char32_t> other;
  for (size_t i = 0; i < text.size();) {
    const Utf8Unit u = utf8_next(text, i);
    XF_CHECK(u.valid, "char tokenizer: the corpus is not valid UTF-8 (byte 0x", std::hex,
             static_cast<unsigned>(static_cast<unsigned char>(text[i])), std::dec, " at byte offset ", i, ")");
    if (u.cp < 128)
      seen_ascii[u.cp] = true;
    else
      other.push_back(u.cp);
    i += static_cast<size_t>(u.len);
  }
  std::vector<char32_t> chars;
  for (char32_t c = 0; c < 128; ++c)
    if (seen_ascii[c]) chars.push_back(c);
  std::sort(other.begin(), other.end());
  other.erase(std::unique(other.begin(), other.end()), other.end());
  chars.insert(chars.end(), other.begin(), other.end());
  return CharTokenizer(std::move(chars));
}

std::string CharTokenizer::to_json() const {
  nlohmann::ordered_json j;
  j["kind"] = "char";
  j["chars"] = utf8_;
  return j.dump() + "\n";
}

void CharTokenizer::save(const std::string& path) const { io::write_file_atomic(path, to_json()); }

CharTokenizer CharTokenizer::from_json_text(const std::string& text, const std::string& what) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw Error(detail::concat("char tokenizer '", what, "': invalid JSON: ", e.what()));
  }
  XF_CHECK(j.is_object() && j.value("kind", "") == "char", "char tokenizer '", what,
           "': expected a JSON object with \"kind\": \"char\"");
  XF_CHECK(j.contains("chars") && j["chars"].is_array(), "char tokenizer '", what, "': missing the \"chars\" array");
  std::vector<char32_t> chars;
  for (size_t i = 0; i < j["chars"].size(); ++i) {
    const auto& e = j["chars"][i];
    XF_CHECK(e.is_string(), "char tokenizer '", what, "': chars[", i, "] is not a string");
    const std::string s = e.get<std::string>();
    const Utf8Unit u = s.empty() ? Utf8Unit{0, 0, false} : utf8_next(s, 0);
    XF_CHECK(u.valid && static_cast<size_t>(u.len) == s.size(), "char tokenizer '", what, "': chars[", i,
             "] is not exactly one UTF-8 character");
    chars.push_back(u.cp);
  }
  try {
    return CharTokenizer(std::move(chars));
  } catch (const Error& e) {
    throw Error(detail::concat("'", what, "': ", e.what()));
  }
}

CharTokenizer CharTokenizer::load(const std::string& path) { return from_json_text(io::read_file(path), path); }

std::vector<int32_t> CharTokenizer::encode(std::string_view text, bool /*add_bos*/) const {
  std::vector<int32_t> ids;
  ids.reserve(text.size());
  size_t n_chars = 0;
  for (size_t i = 0; i < text.size(); ++n_chars) {
    const auto b = static_cast<unsigned char>(text[i]);
    if (b < 128 && ascii_[b] >= 0) {
      ids.push_back(ascii_[b]);
      ++i;
      continue;
    }
    const Utf8Unit u = utf8_next(text, i);
    XF_CHECK(u.valid, "char tokenizer: invalid UTF-8 byte 0x", std::hex, static_cast<unsigned>(b), std::dec,
             " at character ", n_chars, " (byte offset ", i, ")");
    const auto it = index_.find(u.cp);
    XF_CHECK(it != index_.end(), "char tokenizer: character ", describe_code_point(u.cp), " at character ", n_chars,
             " (byte offset ", i, ") is not in the vocabulary of ", chars_.size(), " characters");
    ids.push_back(it->second);
    i += static_cast<size_t>(u.len);
  }
  return ids;
}

std::string CharTokenizer::decode_token(int32_t /*prev*/, int32_t id) const {
  XF_CHECK(id >= 0 && id < vocab_size(), "char tokenizer: decode: id ", id, " is out of range [0, ", vocab_size(), ")");
  return utf8_[static_cast<size_t>(id)];
}

std::string CharTokenizer::decode(const std::vector<int32_t>& ids) const {
  std::string out;
  out.reserve(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    const int32_t id = ids[i];
    XF_CHECK(id >= 0 && id < vocab_size(), "char tokenizer: decode: id ", id, " at position ", i,
             " is out of range [0, ", vocab_size(), ")");
    out += utf8_[static_cast<size_t>(id)];
  }
  return out;
}

}  // namespace xfmr::tok
