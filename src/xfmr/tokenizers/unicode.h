// Unicode character classes for the GPT-2 pre-tokenizer: \p{L}, \p{N} and \s. The L/N ranges are a generated table
// (scripts/gen_unicode_tables.py -> unicode_tables.cc); ASCII is answered from a small lookup table.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace xfmr::tok {

enum class CharClass : uint8_t { kLetter, kNumber, kSpace, kOther };

namespace detail {
struct CodePointRange {
  char32_t lo, hi;  // inclusive
};
extern const CodePointRange kLetterRanges[];
extern const size_t kLetterRanges_size;
extern const CodePointRange kNumberRanges[];
extern const size_t kNumberRanges_size;
CharClass classify_slow(char32_t cp);

constexpr std::array<CharClass, 128> make_ascii_classes() {
  std::array<CharClass, 128> c{};
  for (int i = 0; i < 128; ++i) {
    if ((i >= 'a' && i <= 'z') || (i >= 'A' && i <= 'Z'))
      c[i] = CharClass::kLetter;
    else if (i >= '0' && i <= '9')
      c[i] = CharClass::kNumber;
    else if ((i >= 0x09 && i <= 0x0D) || i == 0x20)
      c[i] = CharClass::kSpace;
    else
      c[i] = CharClass::kOther;
  }
  return c;
}
inline constexpr std::array<CharClass, 128> kAsciiClass = make_ascii_classes();
}  // namespace detail

// \s is the Unicode White_Space property (what the `regex` module and tiktoken's fancy-regex use):
// U+0009..U+000D, U+0020, U+0085, U+00A0, U+1680, U+2000..U+200A, U+2028, U+2029, U+202F, U+205F, U+3000.
inline CharClass classify(char32_t cp) {
  if (cp < 128) return detail::kAsciiClass[cp];
  return detail::classify_slow(cp);
}

}  // namespace xfmr::tok
