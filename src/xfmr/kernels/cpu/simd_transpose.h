// In-register transposes of 32-bit words (internal; for the kernels that pack or transpose operand blocks:
// kernels/cpu/gemm_bf16.cc, kernels/cpu/attention_flash.cc). AVX-512 only: callers compile it natively or
// under a target attribute that includes avx512f, and call it only where the CPU has AVX-512.
#pragma once
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

namespace xfmr::kernels::simd {

// A 16 x 16 matrix of 32-bit words (r[i] = row i on entry, column i on return): interleave 32-bit then 64-bit
// elements within each 128-bit lane, which leaves 4 x 4 blocks transposed, then move the 128-bit lanes with two
// rounds of lane shuffles. 64 shuffles replace 256 scalar stores (or 16 gathers).
__attribute__((target("avx512f"))) inline void transpose16(__m512i r[16]) {
  __m512i t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
  }
  // s[g][c]: lane L holds column 4L + c of rows 4g .. 4g+3
  __m512i s[4][4];
  for (int g = 0; g < 4; ++g) {
    const __m512i* u = t + 4 * g;
    s[g][0] = _mm512_unpacklo_epi64(u[0], u[2]);
    s[g][1] = _mm512_unpackhi_epi64(u[0], u[2]);
    s[g][2] = _mm512_unpacklo_epi64(u[1], u[3]);
    s[g][3] = _mm512_unpackhi_epi64(u[1], u[3]);
  }
  for (int c = 0; c < 4; ++c) {
    const __m512i x01_lo = _mm512_shuffle_i32x4(s[0][c], s[1][c], 0x44);  // lanes 0, 1 of rows 0-3 and 4-7
    const __m512i x01_hi = _mm512_shuffle_i32x4(s[0][c], s[1][c], 0xee);  // lanes 2, 3
    const __m512i x23_lo = _mm512_shuffle_i32x4(s[2][c], s[3][c], 0x44);  // the same for rows 8-11 and 12-15
    const __m512i x23_hi = _mm512_shuffle_i32x4(s[2][c], s[3][c], 0xee);
    r[0 + c] = _mm512_shuffle_i32x4(x01_lo, x23_lo, 0x88);
    r[4 + c] = _mm512_shuffle_i32x4(x01_lo, x23_lo, 0xdd);
    r[8 + c] = _mm512_shuffle_i32x4(x01_hi, x23_hi, 0x88);
    r[12 + c] = _mm512_shuffle_i32x4(x01_hi, x23_hi, 0xdd);
  }
}

}  // namespace xfmr::kernels::simd
#endif
