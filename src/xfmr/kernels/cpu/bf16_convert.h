// f32 -> bf16 pair words for the AVX512-BF16 kernels (internal: kernels/cpu/gemm_bf16.cc,
// kernels/cpu/attention_flash.cc). VDPBF16PS multiplies pairs: a 32-bit word holds bf16 x[2q] in its low half
// and x[2q + 1] in its high half, and one instruction adds both products of each lane's pair to an f32 sum.
// Every conversion goes through VCVTNE2PS2BF16 (32 values in one instruction): round to nearest even, NaN kept
// quiet, denormal inputs treated as zero (their products are below 2^-126 times the other operand, far inside
// f32 accumulation error), the one difference from float_to_bf16 (kernels/ref/gemm_bf16.h).
// Callers run these only where cpu_has_avx512_bf16() (kernels/cpu/gemm_bf16.h).
#pragma once
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#include <cstdint>

#define XF_BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

namespace xfmr::kernels::bf16 {

// Lanes [0, n) of a 16-lane mask (n may be <= 0 or >= 16).
inline __mmask16 lanes(int64_t n) {
  return n >= 16 ? __mmask16(0xffff) : n <= 0 ? __mmask16(0) : __mmask16((1u << n) - 1);
}

// 32 consecutive floats, of which only the first n (<= 32) are read and the rest count as 0, -> 16 pair words
// (bf16 x[2q] | bf16 x[2q+1] << 16): the layout of one row read along its pairs.
XF_BF16_TARGET inline __m512i cvt_pairs(const float* x, int64_t n) {
  const __m512 lo = _mm512_maskz_loadu_ps(lanes(n), x), hi = _mm512_maskz_loadu_ps(lanes(n - 16), x + 16);
  return (__m512i)_mm512_cvtne2ps_pbh(hi, lo);  // bf16 words 0..15 from lo, 16..31 from hi
}

// 16 pair words (bf16 x[i] | bf16 y[i] << 16) for i < n (n <= 16), zero beyond; y == nullptr counts as zeros
// (an odd last pair). Word w of an interleaved pair vector takes word kInterleave[w] of [x0..x15 | y0..y15]
// (VCVTNE2PS2BF16's order).
alignas(64) inline constexpr uint16_t kInterleave[32] = {0, 16, 1, 17, 2,  18, 3,  19, 4,  20, 5,  21, 6,  22, 7,  23,
                                                         8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31};
XF_BF16_TARGET inline __m512i cvt_interleave(const float* x, const float* y, int64_t n) {
  const __mmask16 m = lanes(n);
  const __m512 vx = _mm512_maskz_loadu_ps(m, x), vy = y ? _mm512_maskz_loadu_ps(m, y) : _mm512_setzero_ps();
  const __m512i w = (__m512i)_mm512_cvtne2ps_pbh(vy, vx);
  return _mm512_permutexvar_epi16(_mm512_load_si512(kInterleave), w);
}

}  // namespace xfmr::kernels::bf16
#endif
