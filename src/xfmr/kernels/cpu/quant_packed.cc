#include "xfmr/kernels/cpu/quant_packed.h"

// GCC 12's false -Wmaybe-uninitialized inside its own AVX-512 intrinsics: see quant.cc.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "xfmr/core/check.h"
#include "xfmr/core/dtype.h"
#include "xfmr/kernels/ref/quant.h"

namespace xfmr::kern {

using kernels::BlockQ4_0;
using kernels::kQBlock;
using kernels::QType;

namespace {

// One packed unit: block b of rows 8g..8g+7.
//   bytes 0..15   the 8 rows' f16 scales
//   bytes 16..79  P0, bytes 80..143 P1 (64 bytes each)
// Unpacked vector U_m (m = 0..3; U_0 = P0 & 15, U_1 = P0 >> 4, U_2 = P1 & 15, U_3 = P1 >> 4) holds in its 32-bit
// lane j (bytes 4j..4j+3) the codes (0..15) of row j / 2, elements 8m + 4 (j % 2) .. + 3. So a VNNI product of
// U_m with x's codes 8m..8m+7 broadcast to every 64-bit lane adds to lane j the partial sum of row j / 2 over
// the elements of parity j % 2; summed over m, lanes 2r and 2r + 1 hold row r's block dot (of the unsigned
// codes; the -8 offset is the correction 8 Σ x per parity).
constexpr int64_t kUnit = kPackRows * static_cast<int64_t>(sizeof(BlockQ4_0));  // 144
static_assert(kUnit == 16 + 2 * 64, "packed unit layout");

// Code of element i (0..31) in a q4_0 block: low nibbles are elements 0..15, high nibbles 16..31.
inline uint8_t code_of(const BlockQ4_0& b, int i) {
  return i < 16 ? b.qs[i] & 0xF : b.qs[i - 16] >> 4;
}

// Where element i of row r (within a unit) goes: P index (0/1), byte offset in P, and the nibble (0 low, 1 high).
struct Slot {
  int p, byte, high;
};
inline Slot slot_of(int r, int i) {
  const int m = i / 8, parity = (i % 8) / 4, k = i % 4, j = 2 * r + parity;
  return {m / 2, 4 * j + k, m % 2};
}

}  // namespace

void pack_q4_0x8(const void* w, int64_t rows, int64_t cols, void* out) {
  XF_CHECK(rows % kPackRows == 0 && cols % kQBlock == 0, "pack_q4_0x8: shape [", rows, ", ", cols,
           "] needs rows a multiple of 8 and cols of 32");
  const int64_t nb = cols / kQBlock;
  const auto* src = static_cast<const BlockQ4_0*>(w);
  auto* dst = static_cast<uint8_t*>(out);
  for (int64_t g = 0; g < rows / kPackRows; ++g)
    for (int64_t b = 0; b < nb; ++b) {
      uint8_t* u = dst + (g * nb + b) * kUnit;
      std::memset(u, 0, kUnit);
      for (int r = 0; r < kPackRows; ++r) {
        const BlockQ4_0& blk = src[(g * kPackRows + r) * nb + b];
        std::memcpy(u + 2 * r, &blk.d, 2);
        for (int i = 0; i < kQBlock; ++i) {
          const Slot s = slot_of(r, i);
          u[16 + 64 * s.p + s.byte] |= static_cast<uint8_t>(code_of(blk, i) << (4 * s.high));
        }
      }
    }
}

void dequantize_rows_q4_0x8(const void* packed, int64_t cols, int64_t r0, int64_t r1, float* out) {
  XF_CHECK(r0 % kPackRows == 0, "dequantize_rows_q4_0x8: row ", r0, " is not a multiple of 8");
  const int64_t nb = cols / kQBlock;
  const auto* src = static_cast<const uint8_t*>(packed);
  for (int64_t g = r0 / kPackRows; g * kPackRows < r1; ++g)
    for (int64_t b = 0; b < nb; ++b) {
      const uint8_t* u = src + (g * nb + b) * kUnit;
      for (int r = 0; r < kPackRows && g * kPackRows + r < r1; ++r) {
        uint16_t h;
        std::memcpy(&h, u + 2 * r, 2);
        const float d = f16_to_f32(h);
        float* o = out + (g * kPackRows + r - r0) * cols + b * kQBlock;
        for (int i = 0; i < kQBlock; ++i) {
          const Slot s = slot_of(r, i);
          const int code = (u[16 + 64 * s.p + s.byte] >> (4 * s.high)) & 0xF;
          o[i] = d * static_cast<float>(code - 8);
        }
      }
    }
}

#if defined(__AVX512F__) && defined(__AVX512VNNI__) && defined(__AVX512VL__)

bool q4_0x8_available() {
  return true;
}

namespace {

// The 8 rows of group g against x: 16 f32 lanes (row r in lanes 2r, 2r + 1), the blocks summed in order.
inline __m512 group_dot(const uint8_t* u, int64_t nb, const int8_t* xc, const float* xd, const int64_t* par) {
  const __m512i low = _mm512_set1_epi8(0x0F);
  // Lane pairs (2r, 2r + 1) take row r's scale.
  const __m512i dup = _mm512_set_epi32(7, 7, 6, 6, 5, 5, 4, 4, 3, 3, 2, 2, 1, 1, 0, 0);
  __m512 acc = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b, u += kUnit, xc += kQBlock) {
    const __m512i p0 = _mm512_loadu_si512(u + 16), p1 = _mm512_loadu_si512(u + 80);
    const __m512i x0 = _mm512_set1_epi64(*reinterpret_cast<const int64_t*>(xc));
    const __m512i x1 = _mm512_set1_epi64(*reinterpret_cast<const int64_t*>(xc + 8));
    const __m512i x2 = _mm512_set1_epi64(*reinterpret_cast<const int64_t*>(xc + 16));
    const __m512i x3 = _mm512_set1_epi64(*reinterpret_cast<const int64_t*>(xc + 24));
    // Two independent chains of two products each.
    __m512i s0 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_and_si512(p0, low), x0);
    __m512i s1 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_and_si512(p1, low), x2);
    s0 = _mm512_dpbusd_epi32(s0, _mm512_and_si512(_mm512_srli_epi16(p0, 4), low), x1);
    s1 = _mm512_dpbusd_epi32(s1, _mm512_and_si512(_mm512_srli_epi16(p1, 4), low), x3);
    const __m512i dot = _mm512_sub_epi32(_mm512_add_epi32(s0, s1), _mm512_set1_epi64(par[b]));
    const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(u)));
    const __m512 scale = _mm512_mul_ps(_mm512_permutexvar_ps(dup, _mm512_castps256_ps512(dw)),
                                       _mm512_set1_ps(xd[b]));
    acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), scale, acc);
  }
  return acc;
}

}  // namespace

void matvec_rows_q4_0x8(const void* packed, int64_t cols, const QuantizedActs& xq, float* y, int64_t r0,
                        int64_t r1) {
  XF_CHECK(r0 % kPackRows == 0, "matvec_rows_q4_0x8: row ", r0, " is not a multiple of 8");
  const int64_t nb = cols / kQBlock;
  const auto* base = static_cast<const uint8_t*>(packed);
  const int8_t* xc = xq.codes();
  const float* xd = xq.scales();
  const auto* par = reinterpret_cast<const int64_t*>(xq.parity_sums8());
  // Even lanes of (acc + acc with neighbours swapped): row r's two parity halves summed.
  const __m512i even = _mm512_set_epi32(0, 0, 0, 0, 0, 0, 0, 0, 14, 12, 10, 8, 6, 4, 2, 0);
  for (int64_t g = r0 / kPackRows; g * kPackRows < r1; ++g) {
    const __m512 acc = group_dot(base + g * nb * kUnit, nb, xc, xd, par);
    const __m512 pairs = _mm512_add_ps(acc, _mm512_permute_ps(acc, 0xB1));
    const __m256 rows8 = _mm512_castps512_ps256(_mm512_permutexvar_ps(even, pairs));
    const int64_t n = std::min<int64_t>(kPackRows, r1 - g * kPackRows);
    _mm256_mask_storeu_ps(y + g * kPackRows, static_cast<__mmask8>((1u << n) - 1), rows8);
  }
}

namespace {

// Tokens [0, T) of one token tile against the 8 rows of group g (its units at u), outputs y[t * ldy + row].
template <int T>
void group_tile(const uint8_t* u, int64_t nb, const QuantizedActs* xq, float* y, int64_t ldy, int nrows) {
  const __m512i low = _mm512_set1_epi8(0x0F);
  const __m512i dup = _mm512_set_epi32(7, 7, 6, 6, 5, 5, 4, 4, 3, 3, 2, 2, 1, 1, 0, 0);
  const int8_t* xc[T];
  const float* xd[T];
  const int64_t* par[T];
  __m512 acc[T];
  for (int t = 0; t < T; ++t) {
    xc[t] = xq[t].codes();
    xd[t] = xq[t].scales();
    par[t] = reinterpret_cast<const int64_t*>(xq[t].parity_sums8());
    acc[t] = _mm512_setzero_ps();
  }
  for (int64_t b = 0; b < nb; ++b, u += kUnit) {
    const __m512i p0 = _mm512_loadu_si512(u + 16), p1 = _mm512_loadu_si512(u + 80);
    const __m512i u0 = _mm512_and_si512(p0, low), u1 = _mm512_and_si512(_mm512_srli_epi16(p0, 4), low);
    const __m512i u2 = _mm512_and_si512(p1, low), u3 = _mm512_and_si512(_mm512_srli_epi16(p1, 4), low);
    const __m512 dw = _mm512_permutexvar_ps(
        dup, _mm512_castps256_ps512(_mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(u)))));
    for (int t = 0; t < T; ++t) {
      const int8_t* c = xc[t] + b * kQBlock;
      // The operations (and their order) of group_dot, for one token.
      __m512i s0 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), u0,
                                       _mm512_set1_epi64(*reinterpret_cast<const int64_t*>(c)));
      __m512i s1 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), u2,
                                       _mm512_set1_epi64(*reinterpret_cast<const int64_t*>(c + 16)));
      s0 = _mm512_dpbusd_epi32(s0, u1, _mm512_set1_epi64(*reinterpret_cast<const int64_t*>(c + 8)));
      s1 = _mm512_dpbusd_epi32(s1, u3, _mm512_set1_epi64(*reinterpret_cast<const int64_t*>(c + 24)));
      const __m512i dot = _mm512_sub_epi32(_mm512_add_epi32(s0, s1), _mm512_set1_epi64(par[t][b]));
      acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_mul_ps(dw, _mm512_set1_ps(xd[t][b])), acc[t]);
    }
  }
  const __m512i even = _mm512_set_epi32(0, 0, 0, 0, 0, 0, 0, 0, 14, 12, 10, 8, 6, 4, 2, 0);
  const auto mask = static_cast<__mmask8>((1u << nrows) - 1);
  for (int t = 0; t < T; ++t) {
    const __m512 pairs = _mm512_add_ps(acc[t], _mm512_permute_ps(acc[t], 0xB1));
    _mm256_mask_storeu_ps(y + t * ldy, mask, _mm512_castps512_ps256(_mm512_permutexvar_ps(even, pairs)));
  }
}

}  // namespace

void matmul_rows_q4_0x8_int(const void* packed, int64_t cols, const QuantizedActs* xq, int64_t n, float* y,
                            int64_t ldy, int64_t r0, int64_t r1) {
  XF_CHECK(r0 % kPackRows == 0, "matmul_rows_q4_0x8_int: row ", r0, " is not a multiple of 8");
  const int64_t nb = cols / kQBlock;
  const auto* base = static_cast<const uint8_t*>(packed);
  constexpr int64_t kTile = 8;  // tokens per pass over a group's units (8 accumulators + 4 unpacked vectors)
  for (int64_t g = r0 / kPackRows; g * kPackRows < r1; ++g) {
    const uint8_t* u = base + g * nb * kUnit;
    const int nrows = static_cast<int>(std::min<int64_t>(kPackRows, r1 - g * kPackRows));
    float* yg = y + g * kPackRows;
    int64_t t = 0;
    for (; t + kTile <= n; t += kTile) group_tile<kTile>(u, nb, xq + t, yg + t * ldy, ldy, nrows);
    switch (n - t) {  // the last, partial tile
      case 1: group_tile<1>(u, nb, xq + t, yg + t * ldy, ldy, nrows); break;
      case 2: group_tile<2>(u, nb, xq + t, yg + t * ldy, ldy, nrows); break;
      case 3: group_tile<3>(u, nb, xq + t, yg + t * ldy, ldy, nrows); break;
      case 4: group_tile<4>(u, nb, xq + t, yg + t * ldy, ldy, nrows); break;
      case 5: group_tile<5>(u, nb, xq + t, yg + t * ldy, ldy, nrows); break;
      case 6: group_tile<6>(u, nb, xq + t, yg + t * ldy, ldy, nrows); break;
      case 7: group_tile<7>(u, nb, xq + t, yg + t * ldy, ldy, nrows); break;
      default: break;
    }
  }
}

#else  // no VNNI: callers keep row-major q4_0 (q4_0x8_available() is false); a plain loop for completeness

bool q4_0x8_available() {
  return false;
}

void matvec_rows_q4_0x8(const void* packed, int64_t cols, const QuantizedActs& xq, float* y, int64_t r0,
                        int64_t r1) {
  const int64_t nb = cols / kQBlock;
  const auto* src = static_cast<const uint8_t*>(packed);
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t g = r / kPackRows, rr = r % kPackRows;
    float s = 0;
    for (int64_t b = 0; b < nb; ++b) {
      const uint8_t* u = src + (g * nb + b) * kUnit;
      uint16_t h;
      std::memcpy(&h, u + 2 * rr, 2);
      int32_t dot = 0;
      for (int i = 0; i < kQBlock; ++i) {
        const Slot sl = slot_of(static_cast<int>(rr), i);
        dot += (((u[16 + 64 * sl.p + sl.byte] >> (4 * sl.high)) & 0xF) - 8) * xq.codes()[b * kQBlock + i];
      }
      s += f16_to_f32(h) * xq.scales()[b] * static_cast<float>(dot);
    }
    y[r] = s;
  }
}

void matmul_rows_q4_0x8_int(const void* packed, int64_t cols, const QuantizedActs* xq, int64_t n, float* y,
                            int64_t ldy, int64_t r0, int64_t r1) {
  for (int64_t i = 0; i < n; ++i) matvec_rows_q4_0x8(packed, cols, xq[i], y + i * ldy, r0, r1);
}

#endif

}  // namespace xfmr::kern
