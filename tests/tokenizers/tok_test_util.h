// Shared helpers for the tokenizer tests: data paths, file reading, seeded random byte strings.
#pragma once

#include <cstdint>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace xfmr::test {

inline std::string tok_data(const std::string& rel) { return std::string(XFMR_SOURCE_DIR) + "/data/tokenizers/" + rel; }
// Files shared with other layers' tests (e.g. data/stories260K/tok512.bin).
inline std::string repo_data(const std::string& rel) { return std::string(XFMR_SOURCE_DIR) + "/data/" + rel; }

inline std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Random byte strings: a mix of ASCII text-like bytes, arbitrary bytes (often invalid UTF-8) and valid multi-byte
// characters, so both the fast ASCII paths and the fallbacks are exercised.
inline std::string random_bytes(std::mt19937& rng, size_t max_len) {
  std::uniform_int_distribution<size_t> len_d(0, max_len);
  std::uniform_int_distribution<int> kind(0, 9), byte(0, 255), ascii(0x20, 0x7e);
  const size_t n = len_d(rng);
  std::string s;
  while (s.size() < n) {
    const int k = kind(rng);
    if (k < 5)
      s += static_cast<char>(ascii(rng));
    else if (k < 6)
      s += " \n\t\r"[k % 4];
    else if (k < 8)
      s += static_cast<char>(byte(rng));
    else {
      static const char* const kChars[] = {"é", "ß", "日本", "😀", "ñ", "Ω", "\u00a0", "\u2003", "١٢", "▁"};
      s += kChars[byte(rng) % 10];
    }
  }
  return s;
}

}  // namespace xfmr::test
