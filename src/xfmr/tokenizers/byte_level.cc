#include "xfmr/tokenizers/byte_level.h"

#include "xfmr/tokenizers/unicode.h"
#include "xfmr/tokenizers/utf8.h"

namespace xfmr::tok {

namespace {

inline Utf8Unit unit_at(std::string_view s, size_t i) {
  const auto b = static_cast<unsigned char>(s[i]);
  if (b < 0x80) return {b, 1, true};
  return utf8_next(s, i);
}

inline CharClass class_of(const Utf8Unit& u) { return u.valid ? classify(u.cp) : CharClass::kOther; }

// End of the run of characters of class `c` starting at j.
size_t run_end(std::string_view s, size_t j, CharClass c) {
  while (j < s.size()) {
    const Utf8Unit u = unit_at(s, j);
    if (class_of(u) != c) break;
    j += static_cast<size_t>(u.len);
  }
  return j;
}

}  // namespace

size_t gpt2_pretoken_end(std::string_view s, size_t i) {
  const size_t n = s.size();
  // 's 't 're 've 'm 'll 'd (ASCII, case-sensitive as in GPT-2).
  if (s[i] == '\'' && i + 1 < n) {
    const char c1 = s[i + 1];
    if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') return i + 2;
    if (i + 2 < n) {
      const char c2 = s[i + 2];
      if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l')) return i + 3;
    }
  }
  // ' ?\p{L}+', ' ?\p{N}+', ' ?[^\s\p{L}\p{N}]+': an optional ASCII space, then a run of one class.
  const size_t head = s[i] == ' ' ? i + 1 : i;
  if (head < n) {
    const Utf8Unit u = unit_at(s, head);
    const CharClass c = class_of(u);
    if (c != CharClass::kSpace) return run_end(s, head + static_cast<size_t>(u.len), c);
  }
  // '\s+(?!\S)' then '\s+': the whitespace run, minus its last character when a non-space follows (that character
  // then starts the next pre-token, e.g. " word"), unless the run is a single character.
  size_t last = i;  // start of the last whitespace character of the run
  size_t j = i;
  while (j < n) {
    const Utf8Unit u = unit_at(s, j);
    if (class_of(u) != CharClass::kSpace) break;
    last = j;
    j += static_cast<size_t>(u.len);
  }
  if (j == n || last == i) return j;
  return last;
}

namespace {

struct Tables {
  std::array<char32_t, 256> to_display{};
  std::array<std::string, 256> display_utf8;
  std::array<uint8_t, 256> order{};
  // Display code point -> byte + 1 (0: not a display character). Display characters are all below U+0144.
  std::array<int16_t, 0x180> from_display{};
  Tables() {
    int k = 0, next = 256;
    auto printable = [](int b) { return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF); };
    for (int b = 0; b < 256; ++b)
      if (printable(b)) order[k++] = static_cast<uint8_t>(b), to_display[b] = static_cast<char32_t>(b);
    for (int b = 0; b < 256; ++b)
      if (!printable(b)) order[k++] = static_cast<uint8_t>(b), to_display[b] = static_cast<char32_t>(next++);
    for (int b = 0; b < 256; ++b) {
      display_utf8[b] = utf8_encode(to_display[b]);
      from_display[to_display[b]] = static_cast<int16_t>(b + 1);
    }
  }
};

const Tables& tables() {
  static const Tables t;
  return t;
}

}  // namespace

const std::array<char32_t, 256>& byte_to_display() { return tables().to_display; }
const std::array<std::string, 256>& byte_display_utf8() { return tables().display_utf8; }
const std::array<uint8_t, 256>& bytes_in_display_order() { return tables().order; }

bool display_to_bytes(std::string_view d, std::string& out) {
  const Tables& t = tables();
  out.clear();
  for (size_t i = 0; i < d.size();) {
    const Utf8Unit u = utf8_next(d, i);
    if (!u.valid || u.cp >= t.from_display.size() || t.from_display[u.cp] == 0) return false;
    out += static_cast<char>(t.from_display[u.cp] - 1);
    i += static_cast<size_t>(u.len);
  }
  return true;
}

std::string bytes_to_display(std::string_view bytes) {
  const Tables& t = tables();
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const char c : bytes) out += t.display_utf8[static_cast<unsigned char>(c)];
  return out;
}

}  // namespace xfmr::tok
