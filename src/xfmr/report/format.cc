#include "xfmr/report/format.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace xfmr::report {

std::string xml_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  for (const char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default: {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 && c != '\t' && c != '\n' && c != '\r') {
          out += "\xEF\xBF\xBD";  // U+FFFD: control characters are not allowed in XML 1.0 at all
        } else {
          out += c;
        }
      }
    }
  }
  return out;
}

namespace {

// Removes trailing zeros after a decimal point, and the point itself if nothing is left behind it.
void trim_fraction(std::string& s) {
  if (s.find('.') == std::string::npos) return;
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
}

}  // namespace

std::string format_number(double v, int sig, bool trim_zeros) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  if (v == 0) return "0";
  if (sig < 1) sig = 1;
  if (sig > 17) sig = 17;
  // Let printf do the rounding first: 9.996 at 3 digits is "1.00e+01", so the exponent we branch on is the
  // one of the rounded value.
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*e", sig - 1, v);
  const char* e_pos = std::strchr(buf, 'e');
  const int exponent = std::atoi(e_pos + 1);
  std::string s;
  if (exponent >= -3 && exponent < 5) {
    // Print the already-rounded value, so digits beyond `sig` come out as zeros (12345.6 -> "12300").
    const double rounded = std::strtod(buf, nullptr);
    const int decimals = sig - 1 - exponent > 0 ? sig - 1 - exponent : 0;
    std::snprintf(buf, sizeof buf, "%.*f", decimals, rounded);
    s = buf;
    if (trim_zeros) trim_fraction(s);
  } else {
    std::string mantissa(buf, static_cast<size_t>(e_pos - buf));
    if (trim_zeros) trim_fraction(mantissa);
    s = mantissa + "e" + std::to_string(exponent);
  }
  return s;
}

}  // namespace xfmr::report
