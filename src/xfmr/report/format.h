// Text helpers shared by the SVG and HTML writers: XML escaping and human-readable numbers.
#pragma once
#include <string>
#include <string_view>

namespace xfmr::report {

// Escapes text for XML/HTML element content and double-quoted attribute values (& < > " ').
// Bytes that XML 1.0 forbids (control characters other than tab/newline/CR) become U+FFFD, so any input
// yields a well-formed document.
std::string xml_escape(std::string_view text);

// `v` rounded to `sig` significant digits: fixed notation for 1e-3 <= |v| < 1e5 ("0.0123", "1.20", "12300"),
// scientific otherwise ("1.23e-5", "4.5e7"). trim_zeros drops trailing zeros after the point ("1.2", "3")
// (for axis ticks); without it "1.20" keeps the digits it claims (for tables). Non-finite: "NaN", "inf",
// "-inf".
std::string format_number(double v, int sig = 3, bool trim_zeros = false);

}  // namespace xfmr::report
