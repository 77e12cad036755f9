#include "xfmr/tokenizers/utf8.h"

#include <cstdio>

namespace xfmr::tok {

std::string describe_code_point(char32_t cp) {
  char hex[16];
  std::snprintf(hex, sizeof hex, "U+%04X", static_cast<unsigned>(cp));
  // Control characters and invalid code points are shown by number only.
  if (cp < 0x20 || cp == 0x7F || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return hex;
  std::string out(1, '\'');  // built by appends: GCC 12 warns (-Wrestrict) on "'" + std::string
  utf8_append(out, cp);
  out.append("' (").append(hex).append(")");
  return out;
}

}  // namespace xfmr::tok
