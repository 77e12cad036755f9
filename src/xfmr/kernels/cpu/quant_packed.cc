#include "xfmr/kernels/cpu/quant_packed.h"

// GCC 12's false -Wmaybe-uninitialized inside its own AVX-512 intrinsics: see quant.cc.
#if defined(__GNUC__) && !defined(__clang__)  // clang has no such warning and would warn about the name
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "xfmr/core/check.h"
#include "xfmr/core/dtype.h"
#include "xfmr/kernels/cpu/cpu_features.h"
#include "xfmr/kernels/ref/quant.h"

namespace xfmr::kern {

using kernels::BlockQ4_0;
using kernels::BlockQ8_0;
using kernels::kQBlock;
using kernels::QType;

namespace {

// One packed unit: block b of rows 8g..8g+7.
//   bytes 0..15: the 8 rows' f16 scales; then the codes as unsigned bytes in four 64-byte vectors U_0..U_3:
//   U_m's 32-bit lane j (bytes 4j..4j+3) holds row j / 2, elements 8m + 4 (j % 2) .. + 3.
// So a VNNI product of U_m with x's codes 8m..8m+7 broadcast to every 64-bit lane adds to lane j the partial
// sum of row j / 2 over the elements of parity j % 2; summed over m, lanes 2r and 2r + 1 hold row r's block
// dot. VNNI multiplies unsigned by signed bytes, so codes are stored offset to unsigned and the offset comes
// off per parity: q4_0 stores its nibble n = q + 8 (correction 8 Σx), q8_0 its code + 128 (correction 128 Σx).
//   q4_0 (144 bytes): U_0 = P0 & 15, U_1 = P0 >> 4, U_2 = P1 & 15, U_3 = P1 >> 4, with P0, P1 the two 64-byte
//   vectors after the scales (two codes a byte, as in the file).
//   q8_0 (272 bytes): U_0..U_3 stored as they are.
template <bool Q4>
constexpr int64_t unit_bytes() {
  return kPackRows * static_cast<int64_t>(Q4 ? sizeof(BlockQ4_0) : sizeof(BlockQ8_0));
}
static_assert(unit_bytes<true>() == 16 + 2 * 64 && unit_bytes<false>() == 16 + 4 * 64, "packed unit layouts");

// Where element i of row r (within a unit) is stored: byte offset after the scales, nibble shift (q4_0).
struct Slot {
  int byte, shift;
};
inline Slot slot_of(QType t, int r, int i) {
  const int m = i / 8, parity = (i % 8) / 4, k = i % 4, lane_byte = 4 * (2 * r + parity) + k;
  if (t == QType::q4_0) return {64 * (m / 2) + lane_byte, 4 * (m % 2)};
  return {64 * m + lane_byte, 0};
}

int64_t unit_of(QType t) {
  return t == QType::q4_0 ? unit_bytes<true>() : unit_bytes<false>();
}

void check_type(QType t, const char* op) {
  XF_CHECK(t == QType::q4_0 || t == QType::q8_0, op, ": type ", kernels::qtype_name(t),
           " has no packed layout (q4_0, q8_0)");
}

}  // namespace

void pack_x8(QType t, const void* w, int64_t rows, int64_t cols, void* out) {
  check_type(t, "pack_x8");
  XF_CHECK(rows % kPackRows == 0 && cols % kQBlock == 0, "pack_x8: shape [", rows, ", ", cols,
           "] needs rows a multiple of 8 and cols of 32");
  const int64_t nb = cols / kQBlock, bs = kernels::qtype_block_bytes(t), ub = unit_of(t);
  const auto* src = static_cast<const uint8_t*>(w);
  auto* dst = static_cast<uint8_t*>(out);
  for (int64_t g = 0; g < rows / kPackRows; ++g)
    for (int64_t b = 0; b < nb; ++b) {
      uint8_t* u = dst + (g * nb + b) * ub;
      for (int r = 0; r < kPackRows; ++r) {
        const uint8_t* blk = src + ((g * kPackRows + r) * nb + b) * bs;
        std::memcpy(u + 2 * r, blk, 2);
        // Row r owns bytes 8r..8r+7 of every code vector (lanes 2r, 2r + 1), 8 bytes at a time (what slot_of
        // says element by element; dequantize_rows_x8 reads through slot_of, and the tests compare the two).
        if (t == QType::q4_0) {
          // U_0 / U_1 / U_2 / U_3 take elements 0..7 / 8..15 / 16..23 / 24..31 = low nibbles of bytes 0..7 /
          // low of 8..15 / high of 0..7 / high of 8..15; P0 = U_0 | U_1 << 4, P1 = U_2 | U_3 << 4.
          uint64_t a, c;
          std::memcpy(&a, blk + 2, 8);
          std::memcpy(&c, blk + 10, 8);
          const uint64_t lo = 0x0F0F0F0F0F0F0F0FULL;
          const uint64_t p0 = (a & lo) | ((c & lo) << 4), p1 = ((a >> 4) & lo) | (c & ~lo);
          std::memcpy(u + 16 + 8 * r, &p0, 8);
          std::memcpy(u + 16 + 64 + 8 * r, &p1, 8);
        } else {
          for (int m = 0; m < 4; ++m) {  // U_m takes elements 8m..8m+7, stored + 128
            uint64_t v;
            std::memcpy(&v, blk + 2 + 8 * m, 8);
            v ^= 0x8080808080808080ULL;
            std::memcpy(u + 16 + 64 * m + 8 * r, &v, 8);
          }
        }
      }
    }
}

void dequantize_rows_x8(QType t, const void* packed, int64_t cols, int64_t r0, int64_t r1, float* out) {
  check_type(t, "dequantize_rows_x8");
  const int64_t nb = cols / kQBlock, ub = unit_of(t);
  const int offset = t == QType::q4_0 ? 8 : 128;
  const auto* src = static_cast<const uint8_t*>(packed);
  for (int64_t row = r0; row < r1; ++row) {
    const int64_t g = row / kPackRows;
    const int r = static_cast<int>(row % kPackRows);
    for (int64_t b = 0; b < nb; ++b) {
      const uint8_t* u = src + (g * nb + b) * ub;
      uint16_t h;
      std::memcpy(&h, u + 2 * r, 2);
      const float d = f16_to_f32(h);
      float* o = out + (row - r0) * cols + b * kQBlock;
      for (int i = 0; i < kQBlock; ++i) {
        const Slot s = slot_of(t, r, i);
        const int code = (u[16 + s.byte] >> s.shift) & (t == QType::q4_0 ? 0xF : 0xFF);
        o[i] = d * static_cast<float>(code - offset);
      }
    }
  }
}

// The AVX-512 kernels (compiled natively or through a target pragma, kernels/cpu/cpu_features.h; run only
// when kernels::cpu_has_avx512_vnni()), then the plain loops that other CPUs run, then the entry points.
#if XFMR_X86_AVX512_KERNELS
XFMR_AVX512_KERNELS_BEGIN
namespace avx512 {

namespace {

// The four unsigned code vectors of a unit.
template <bool Q4>
inline void unpack(const uint8_t* u, __m512i (&v)[4]) {
  if constexpr (Q4) {
    const __m512i low = _mm512_set1_epi8(0x0F);
    const __m512i p0 = _mm512_loadu_si512(u + 16), p1 = _mm512_loadu_si512(u + 80);
    v[0] = _mm512_and_si512(p0, low);
    v[1] = _mm512_and_si512(_mm512_srli_epi16(p0, 4), low);
    v[2] = _mm512_and_si512(p1, low);
    v[3] = _mm512_and_si512(_mm512_srli_epi16(p1, 4), low);
  } else {
    for (int m = 0; m < 4; ++m) v[m] = _mm512_loadu_si512(u + 16 + 64 * m);
  }
}

// The unit's 8 row scales, row r in lanes 2r and 2r + 1.
inline __m512 row_scales(const uint8_t* u) {
  const __m512i dup = _mm512_set_epi32(7, 7, 6, 6, 5, 5, 4, 4, 3, 3, 2, 2, 1, 1, 0, 0);
  return _mm512_permutexvar_ps(
      dup, _mm512_castps256_ps512(_mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(u)))));
}

inline __m512i bcast8(const int8_t* c) {
  return _mm512_set1_epi64(*reinterpret_cast<const int64_t*>(c));
}

// One unit (codes v, row scales dw) against one token's block b: acc += d_w d_x (Σ code x - offset Σ x), the
// same operations for decode and prefill. The integer sum starts at the (negative) correction and chains the
// four products: integer adds are exact in any order, and 7 vector operations per unit and token remain.
inline __m512 unit_fma(const __m512i (&v)[4], __m512 dw, const int8_t* c, int64_t corr, float dx, __m512 acc) {
  __m512i s = _mm512_dpbusd_epi32(_mm512_set1_epi64(corr), v[0], bcast8(c));
  s = _mm512_dpbusd_epi32(s, v[1], bcast8(c + 8));
  s = _mm512_dpbusd_epi32(s, v[2], bcast8(c + 16));
  s = _mm512_dpbusd_epi32(s, v[3], bcast8(c + 24));
  return _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(dw, _mm512_set1_ps(dx)), acc);
}

// The per-parity correction of block b: -8 Σx (q4_0) or -128 Σx (q8_0) for each parity, as one 64-bit pair.
template <bool Q4>
inline const int64_t* corrections(const QuantizedActs& x) {
  return reinterpret_cast<const int64_t*>(Q4 ? x.parity_corr8() : x.parity_corr128());
}

// Row r's value from lanes 2r, 2r + 1, stored for the first nrows rows.
inline void store_rows(__m512 acc, float* y, int nrows) {
  const __m512i even = _mm512_set_epi32(0, 0, 0, 0, 0, 0, 0, 0, 14, 12, 10, 8, 6, 4, 2, 0);
  const __m512 pairs = _mm512_add_ps(acc, _mm512_permute_ps(acc, 0xB1));
  _mm256_mask_storeu_ps(y, static_cast<__mmask8>((1u << nrows) - 1),
                        _mm512_castps512_ps256(_mm512_permutexvar_ps(even, pairs)));
}

template <bool Q4>
void matvec_impl(const uint8_t* base, int64_t cols, const QuantizedActs& xq, float* y, int64_t r0, int64_t r1) {
  constexpr int64_t ub = unit_bytes<Q4>();
  const int64_t nb = cols / kQBlock;
  const int8_t* xc = xq.codes();
  const float* xd = xq.scales();
  const int64_t* corr = corrections<Q4>(xq);
  for (int64_t g = r0 / kPackRows; g * kPackRows < r1; ++g) {
    const uint8_t* u = base + g * nb * ub;
    __m512 acc = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; ++b, u += ub) {
      __m512i v[4];
      unpack<Q4>(u, v);
      acc = unit_fma(v, row_scales(u), xc + b * kQBlock, corr[b], xd[b], acc);
    }
    store_rows(acc, y + g * kPackRows, static_cast<int>(std::min<int64_t>(kPackRows, r1 - g * kPackRows)));
  }
}

// Tokens [0, T) of one token tile against the 8 rows of a group (its units at u), outputs y[t * ldy + row].
template <bool Q4, int T>
void group_tile(const uint8_t* u, int64_t nb, const QuantizedActs* xq, float* y, int64_t ldy, int nrows) {
  const int8_t* xc[T];
  const float* xd[T];
  const int64_t* corr[T];
  __m512 acc[T];
  for (int t = 0; t < T; ++t) {
    xc[t] = xq[t].codes();
    xd[t] = xq[t].scales();
    corr[t] = corrections<Q4>(xq[t]);
    acc[t] = _mm512_setzero_ps();
  }
  for (int64_t b = 0; b < nb; ++b, u += unit_bytes<Q4>()) {
    __m512i v[4];
    unpack<Q4>(u, v);
    const __m512 dw = row_scales(u);
    for (int t = 0; t < T; ++t) acc[t] = unit_fma(v, dw, xc[t] + b * kQBlock, corr[t][b], xd[t][b], acc[t]);
  }
  for (int t = 0; t < T; ++t) store_rows(acc[t], y + t * ldy, nrows);
}

template <bool Q4>
void matmul_impl(const uint8_t* base, int64_t cols, const QuantizedActs* xq, int64_t n, float* y, int64_t ldy,
                 int64_t r0, int64_t r1) {
  const int64_t nb = cols / kQBlock;
  constexpr int64_t kTile = 8;  // tokens per pass over a group's units (8 accumulators + 4 code vectors)
  for (int64_t g = r0 / kPackRows; g * kPackRows < r1; ++g) {
    const uint8_t* u = base + g * nb * unit_bytes<Q4>();
    const int nrows = static_cast<int>(std::min<int64_t>(kPackRows, r1 - g * kPackRows));
    float* yg = y + g * kPackRows;
    int64_t t = 0;
    for (; t + kTile <= n; t += kTile) group_tile<Q4, kTile>(u, nb, xq + t, yg + t * ldy, ldy, nrows);
    float* yt = yg + t * ldy;
    switch (n - t) {  // the last, partial tile
      case 1: group_tile<Q4, 1>(u, nb, xq + t, yt, ldy, nrows); break;
      case 2: group_tile<Q4, 2>(u, nb, xq + t, yt, ldy, nrows); break;
      case 3: group_tile<Q4, 3>(u, nb, xq + t, yt, ldy, nrows); break;
      case 4: group_tile<Q4, 4>(u, nb, xq + t, yt, ldy, nrows); break;
      case 5: group_tile<Q4, 5>(u, nb, xq + t, yt, ldy, nrows); break;
      case 6: group_tile<Q4, 6>(u, nb, xq + t, yt, ldy, nrows); break;
      case 7: group_tile<Q4, 7>(u, nb, xq + t, yt, ldy, nrows); break;
      default: break;
    }
  }
}

}  // namespace

void matvec_rows_x8(QType t, const void* packed, int64_t cols, const QuantizedActs& xq, float* y, int64_t r0,
                    int64_t r1) {
  XF_CHECK(r0 % kPackRows == 0, "matvec_rows_x8: row ", r0, " is not a multiple of 8");
  const auto* base = static_cast<const uint8_t*>(packed);
  if (t == QType::q4_0)
    matvec_impl<true>(base, cols, xq, y, r0, r1);
  else
    matvec_impl<false>(base, cols, xq, y, r0, r1);
}

void matmul_rows_x8(QType t, const void* packed, int64_t cols, const QuantizedActs* xq, int64_t n, float* y,
                    int64_t ldy, int64_t r0, int64_t r1) {
  XF_CHECK(r0 % kPackRows == 0, "matmul_rows_x8: row ", r0, " is not a multiple of 8");
  if (r1 <= r0 || n <= 0) return;
  const auto* base = static_cast<const uint8_t*>(packed);
  if (t == QType::q4_0)
    matmul_impl<true>(base, cols, xq, n, y, ldy, r0, r1);
  else
    matmul_impl<false>(base, cols, xq, n, y, ldy, r0, r1);
}

}  // namespace avx512
XFMR_AVX512_KERNELS_END
#endif  // XFMR_X86_AVX512_KERNELS

// Without AVX512-VNNI: plain loops (the same sums in a different order).
namespace generic {

void matvec_rows_x8(QType t, const void* packed, int64_t cols, const QuantizedActs& xq, float* y, int64_t r0,
                    int64_t r1) {
  XF_CHECK(r0 % kPackRows == 0, "matvec_rows_x8: row ", r0, " is not a multiple of 8");
  const int64_t nb = cols / kQBlock, ub = unit_of(t);
  const int offset = t == QType::q4_0 ? 8 : 128;
  const auto* src = static_cast<const uint8_t*>(packed);
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t g = r / kPackRows, rr = r % kPackRows;
    float s = 0;
    for (int64_t b = 0; b < nb; ++b) {
      const uint8_t* u = src + (g * nb + b) * ub;
      uint16_t h;
      std::memcpy(&h, u + 2 * rr, 2);
      int32_t dot = 0;
      for (int i = 0; i < kQBlock; ++i) {
        const Slot sl = slot_of(t, static_cast<int>(rr), i);
        const int code = (u[16 + sl.byte] >> sl.shift) & (t == QType::q4_0 ? 0xF : 0xFF);
        dot += (code - offset) * xq.codes()[b * kQBlock + i];
      }
      s += f16_to_f32(h) * xq.scales()[b] * static_cast<float>(dot);
    }
    y[r] = s;
  }
}

void matmul_rows_x8(QType t, const void* packed, int64_t cols, const QuantizedActs* xq, int64_t n, float* y,
                    int64_t ldy, int64_t r0, int64_t r1) {
  for (int64_t i = 0; i < n; ++i) generic::matvec_rows_x8(t, packed, cols, xq[i], y + i * ldy, r0, r1);
}

}  // namespace generic

bool packed_x8_available(QType t) {
  return kernels::cpu_has_avx512_vnni() && (t == QType::q4_0 || t == QType::q8_0);
}

void matvec_rows_x8(QType t, const void* packed, int64_t cols, const QuantizedActs& xq, float* y, int64_t r0,
                    int64_t r1) {
#if XFMR_X86_AVX512_KERNELS
  if (kernels::cpu_has_avx512_vnni()) return avx512::matvec_rows_x8(t, packed, cols, xq, y, r0, r1);
#endif
  generic::matvec_rows_x8(t, packed, cols, xq, y, r0, r1);
}

void matmul_rows_x8(QType t, const void* packed, int64_t cols, const QuantizedActs* xq, int64_t n, float* y,
                    int64_t ldy, int64_t r0, int64_t r1) {
#if XFMR_X86_AVX512_KERNELS
  if (kernels::cpu_has_avx512_vnni()) return avx512::matmul_rows_x8(t, packed, cols, xq, n, y, ldy, r0, r1);
#endif
  generic::matmul_rows_x8(t, packed, cols, xq, n, y, ldy, r0, r1);
}

}  // namespace xfmr::kern
