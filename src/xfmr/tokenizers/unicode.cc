#include "xfmr/tokenizers/unicode.h"

#include <algorithm>

namespace xfmr::tok::detail {

namespace {

bool in_ranges(const CodePointRange* r, size_t n, char32_t cp) {
  // First range whose upper end is >= cp; the ranges are sorted and disjoint.
  const CodePointRange* it = std::lower_bound(r, r + n, cp, [](const CodePointRange& a, char32_t c) { return a.hi < c; });
  return it != r + n && it->lo <= cp;
}

bool is_white_space(char32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F ||
         cp == 0x3000;
}

}  // namespace

CharClass classify_slow(char32_t cp) {
  if (is_white_space(cp)) return CharClass::kSpace;
  if (in_ranges(kLetterRanges, kLetterRanges_size, cp)) return CharClass::kLetter;
  if (in_ranges(kNumberRanges, kNumberRanges_size, cp)) return CharClass::kNumber;
  return CharClass::kOther;
}

}  // namespace xfmr::tok::detail
