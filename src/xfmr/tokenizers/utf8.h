// UTF-8 helpers shared by the tokenizers. Invalid sequences are never an error here: each invalid byte is reported
// as a one-byte unit (valid = false) so byte-level tokenizers can stay lossless on arbitrary input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace xfmr::tok {

struct Utf8Unit {
  char32_t cp;   // the code point (the byte value itself when !valid)
  int len;       // bytes consumed, 1..4
  bool valid;    // false: a lone/invalid byte
};

// Decodes the unit starting at s[i] (i < s.size()). Rejects overlong forms, surrogates and code points > U+10FFFF.
inline Utf8Unit utf8_next(std::string_view s, size_t i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) return {b0, 1, true};
  int len;
  char32_t cp, min;
  if ((b0 & 0xE0) == 0xC0) {
    len = 2, cp = b0 & 0x1F, min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3, cp = b0 & 0x0F, min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4, cp = b0 & 0x07, min = 0x10000;
  } else {
    return {b0, 1, false};
  }
  if (i + static_cast<size_t>(len) > s.size()) return {b0, 1, false};
  for (int k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) return {b0, 1, false};
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return {b0, 1, false};
  return {cp, len, true};
}

// Appends the UTF-8 encoding of a valid code point.
inline void utf8_append(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

inline std::string utf8_encode(char32_t cp) {
  std::string s;
  utf8_append(s, cp);
  return s;
}

// A printable description of a code point for error messages: 'x' (U+0078).
std::string describe_code_point(char32_t cp);

}  // namespace xfmr::tok
