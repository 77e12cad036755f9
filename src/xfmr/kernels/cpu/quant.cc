#include "xfmr/kernels/cpu/quant.h"

// GCC 12 reports a false -Wmaybe-uninitialized inside its own AVX-512 intrinsics (the undefined pass-through
// operand of the conversion intrinsics) when they are inlined; the warning is about the header, not this code.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstring>

#include "xfmr/core/parallel.h"
#include "xfmr/kernels/ref/quant.h"

namespace xfmr::kern {

using kernels::BlockQ4_0;
using kernels::BlockQ8_0;
using kernels::kQBlock;
using kernels::QType;

namespace {

#if defined(__AVX512F__) && defined(__F16C__)

inline float half_scale(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return _cvtsh_ss(h);
}

float dot_f32(const float* w, const float* x, int64_t n) {
  __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    a0 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i), _mm512_loadu_ps(x + i), a0);
    a1 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i + 16), _mm512_loadu_ps(x + i + 16), a1);
  }
  for (; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? __mmask16(0xFFFF) : static_cast<__mmask16>((1u << (n - i)) - 1);
    a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, w + i), _mm512_maskz_loadu_ps(m, x + i), a0);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
}

float dot_f16(const uint16_t* w, const float* x, int64_t n) {
  __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    a0 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + i))),
                         _mm512_loadu_ps(x + i), a0);
    a1 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + i + 16))),
                         _mm512_loadu_ps(x + i + 16), a1);
  }
  for (; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? __mmask16(0xFFFF) : static_cast<__mmask16>((1u << (n - i)) - 1);
    const __m256i h = _mm256_maskz_loadu_epi16(m, w + i);
    a0 = _mm512_fmadd_ps(_mm512_cvtph_ps(h), _mm512_maskz_loadu_ps(m, x + i), a0);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
}

// Σ_b d_b Σ_i q_bi x_bi: the block sum in f32 lanes, then one FMA with the block's scale.
float dot_q8_0(const uint8_t* row, const float* x, int64_t n) {
  __m512 acc = _mm512_setzero_ps();
  for (int64_t b = 0; b < n / kQBlock; ++b, row += sizeof(BlockQ8_0), x += kQBlock) {
    const __m512 w0 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2))));
    const __m512 w1 =
        _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 18))));
    const __m512 s = _mm512_fmadd_ps(w1, _mm512_loadu_ps(x + 16), _mm512_mul_ps(w0, _mm512_loadu_ps(x)));
    acc = _mm512_fmadd_ps(_mm512_set1_ps(half_scale(row)), s, acc);
  }
  return _mm512_reduce_add_ps(acc);
}

float dot_q4_0(const uint8_t* row, const float* x, int64_t n) {
  __m512 acc = _mm512_setzero_ps();
  const __m512i mask = _mm512_set1_epi32(0xF), eight = _mm512_set1_epi32(8);
  for (int64_t b = 0; b < n / kQBlock; ++b, row += sizeof(BlockQ4_0), x += kQBlock) {
    const __m512i q = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2)));
    const __m512 lo = _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_and_si512(q, mask), eight));
    const __m512 hi = _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_srli_epi32(q, 4), eight));
    const __m512 s = _mm512_fmadd_ps(hi, _mm512_loadu_ps(x + 16), _mm512_mul_ps(lo, _mm512_loadu_ps(x)));
    acc = _mm512_fmadd_ps(_mm512_set1_ps(half_scale(row)), s, acc);
  }
  return _mm512_reduce_add_ps(acc);
}

#else  // portable fallback: the reference loop in f32

float dot_generic(QType t, const void* row, const float* x, int64_t n) {
  float s = 0;
  for (int64_t c = 0; c < n; ++c) s += kernels::ref::dequantize_elem(t, row, c) * x[c];
  return s;
}

#endif

}  // namespace

float dot_row(QType t, const void* row, const float* x, int64_t cols) {
#if defined(__AVX512F__) && defined(__F16C__)
  switch (t) {
    case QType::f32: return dot_f32(static_cast<const float*>(row), x, cols);
    case QType::f16: return dot_f16(static_cast<const uint16_t*>(row), x, cols);
    case QType::q8_0: return dot_q8_0(static_cast<const uint8_t*>(row), x, cols);
    case QType::q4_0: return dot_q4_0(static_cast<const uint8_t*>(row), x, cols);
  }
  return 0;
#else
  return dot_generic(t, row, x, cols);
#endif
}

void matvec_serial(QType t, const void* w, const float* x, float* y, int64_t rows, int64_t cols) {
  const int64_t rb = kernels::qtype_row_bytes(t, cols);
  const auto* p = static_cast<const uint8_t*>(w);
  for (int64_t r = 0; r < rows; ++r) y[r] = dot_row(t, p + r * rb, x, cols);
}

void matvec(QType t, const void* w, const float* x, float* y, int64_t rows, int64_t cols) {
  // A chunk should carry ~64K multiply-adds (tens of microseconds) to be worth a thread team's start.
  const int64_t chunks = rows * cols / 65536;
  const int64_t rb = kernels::qtype_row_bytes(t, cols);
  parallel_chunks(rows, chunks, [&](int64_t r0, int64_t r1) {
    matvec_serial(t, static_cast<const uint8_t*>(w) + r0 * rb, x, y + r0, r1 - r0, cols);
  });
}

void quantize_rows(QType t, const float* x, void* out, int64_t rows, int64_t cols) {
  const int64_t rb = kernels::qtype_row_bytes(t, cols);
  parallel_for(rows, std::max<int64_t>(1, 4096 / std::max<int64_t>(cols, 1)), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r)
      kernels::ref::quantize_row(t, x + r * cols, static_cast<uint8_t*>(out) + r * rb, cols);
  });
}

void dequantize_row(QType t, const void* w, int64_t r, float* out, int64_t cols) {
  const auto* row = static_cast<const uint8_t*>(w) + r * kernels::qtype_row_bytes(t, cols);
  if (t == QType::f32) {
    std::memcpy(out, row, static_cast<size_t>(cols) * 4);
    return;
  }
  kernels::ref::dequantize_row(t, row, out, cols);
}

}  // namespace xfmr::kern
