// Weight element types for inference, with the GGML block layouts (numbered as GGML numbers them, so a GGUF
// tensor's type field maps straight onto QType). A row of `cols` elements is stored as cols/32 blocks for the
// quantized types, each block holding one f16 scale d and 32 codes:
//   q8_0: d, int8 q[32];                 value i = q[i] * d                      (34 bytes per 32 elements)
//   q4_0: d, uint8 qs[16] (two nibbles); value i = (nibble_i - 8) * d, where elements 0..15 are the low
//         nibbles of qs[0..15] and elements 16..31 the high nibbles    (18 bytes per 32 elements)
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace xfmr::kernels {

enum class QType : uint32_t { f32 = 0, f16 = 1, q4_0 = 2, q8_0 = 8 };

inline constexpr int64_t kQBlock = 32;  // elements per q8_0 / q4_0 block

struct BlockQ8_0 {
  uint16_t d;  // f16 scale
  int8_t q[kQBlock];
};
struct BlockQ4_0 {
  uint16_t d;  // f16 scale
  uint8_t qs[kQBlock / 2];
};
static_assert(sizeof(BlockQ8_0) == 34 && sizeof(BlockQ4_0) == 18, "GGML block layouts are packed");

// True for the four types xfmr reads and writes.
inline bool qtype_known(uint32_t t) {
  return t == 0 || t == 1 || t == 2 || t == 8;
}

inline const char* qtype_name(QType t) {
  switch (t) {
    case QType::f32:
      return "f32";
    case QType::f16:
      return "f16";
    case QType::q4_0:
      return "q4_0";
    case QType::q8_0:
      return "q8_0";
  }
  return "?";
}

// Parses "f32", "f16", "q8_0", "q4_0"; returns false for anything else.
inline bool qtype_from_name(const std::string& s, QType* t) {
  for (QType c : {QType::f32, QType::f16, QType::q4_0, QType::q8_0})
    if (s == qtype_name(c)) {
      *t = c;
      return true;
    }
  return false;
}

// Elements per block (1 for the float types).
inline int64_t qtype_block_elems(QType t) {
  return t == QType::q8_0 || t == QType::q4_0 ? kQBlock : 1;
}
inline int64_t qtype_block_bytes(QType t) {
  switch (t) {
    case QType::f32:
      return 4;
    case QType::f16:
      return 2;
    case QType::q4_0:
      return static_cast<int64_t>(sizeof(BlockQ4_0));
    case QType::q8_0:
      return static_cast<int64_t>(sizeof(BlockQ8_0));
  }
  return 0;
}
// Bytes of one row of n elements; n must be a multiple of qtype_block_elems(t).
inline int64_t qtype_row_bytes(QType t, int64_t n) {
  return n / qtype_block_elems(t) * qtype_block_bytes(t);
}

}  // namespace xfmr::kernels
