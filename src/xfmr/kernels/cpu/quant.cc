#include "xfmr/kernels/cpu/quant.h"

// GCC 12 reports a false -Wmaybe-uninitialized inside its own AVX-512 intrinsics (the undefined pass-through
// operand of the conversion intrinsics) when they are inlined; the warning is about the header, not this
// code.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstring>
#include <vector>

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
    const __m512 w0 =
        _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2))));
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

#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
#define XFMR_QUANT_INT_PATH 1

// x quantized to q8_0 blocks once per product, for the integer dot products of the block types: codes, f32
// scales, and (for q4_0) 8 x the sum of each 4-byte lane's codes, the correction for the nibbles' offset
// of 8.
struct QuantizedX {
  std::vector<BlockQ8_0> blocks;
  std::vector<float> d;
  std::vector<int32_t> lane_sums8;  // [nb, 8]
  std::vector<float> last;  // the x quantized last: q, k, v (and gate, up) share their input
  void set(const float* x, int64_t cols) {
    const size_t nb = static_cast<size_t>(cols / kQBlock);
    if (last.size() == static_cast<size_t>(cols) && std::memcmp(last.data(), x, last.size() * 4) == 0) return;
    if (blocks.size() < nb) {  // grows to the widest row once; no allocation in steady state
      blocks.resize(nb);
      d.resize(nb);
      lane_sums8.resize(nb * 8);
    }
    if (last.capacity() < static_cast<size_t>(cols)) last.reserve(static_cast<size_t>(cols) * 2);
    last.assign(x, x + cols);
    kernels::ref::quantize_row_q8_0(x, blocks.data(), cols);
    for (size_t b = 0; b < nb; ++b) {
      d[b] = _cvtsh_ss(blocks[b].d);
      for (int j = 0; j < 8; ++j) {
        const int8_t* q = blocks[b].q + 4 * j;
        lane_sums8[b * 8 + j] = 8 * (q[0] + q[1] + q[2] + q[3]);
      }
    }
  }
};

inline float hsum256(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// One q8_0 weight block against one x block: VNNI multiplies unsigned by signed bytes, so the weights' signs
// move onto x (|w| · sign(w) x), exact because codes are within ±127.
inline __m256 block_q8(const uint8_t* blk, const BlockQ8_0& xb, float dx, __m256 acc) {
  const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 2));
  const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb.q));
  const __m256i dot =
      _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_sign_epi8(w, w), _mm256_sign_epi8(q, w));
  return _mm256_fmadd_ps(_mm256_set1_ps(half_scale(blk) * dx), _mm256_cvtepi32_ps(dot), acc);
}

// One q4_0 weight block: the nibbles (0..15, elements 0..15 low, 16..31 high) are the unsigned operand
// directly; Σ (n - 8) q = Σ n q - 8 Σ q, with 8 Σ q per lane precomputed.
inline __m256 block_q4(const uint8_t* blk, const BlockQ8_0& xb, float dx, const int32_t* ls8, __m256 acc) {
  const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 2));
  const __m256i nib = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(raw, 4), raw), _mm256_set1_epi8(0x0F));
  const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb.q));
  const __m256i dot = _mm256_sub_epi32(_mm256_dpbusd_epi32(_mm256_setzero_si256(), nib, q),
                                       _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ls8)));
  return _mm256_fmadd_ps(_mm256_set1_ps(half_scale(blk) * dx), _mm256_cvtepi32_ps(dot), acc);
}

float dot_q8_int(QType t, const uint8_t* row, const QuantizedX& x, int64_t nb) {
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
  if (t == QType::q8_0) {
    int64_t b = 0;
    for (; b + 2 <= nb; b += 2, row += 2 * sizeof(BlockQ8_0)) {
      a0 = block_q8(row, x.blocks[b], x.d[b], a0);
      a1 = block_q8(row + sizeof(BlockQ8_0), x.blocks[b + 1], x.d[b + 1], a1);
    }
    if (b < nb) a0 = block_q8(row, x.blocks[b], x.d[b], a0);
  } else {
    int64_t b = 0;
    for (; b + 2 <= nb; b += 2, row += 2 * sizeof(BlockQ4_0)) {
      a0 = block_q4(row, x.blocks[b], x.d[b], &x.lane_sums8[b * 8], a0);
      a1 = block_q4(row + sizeof(BlockQ4_0), x.blocks[b + 1], x.d[b + 1], &x.lane_sums8[(b + 1) * 8], a1);
    }
    if (b < nb) a0 = block_q4(row, x.blocks[b], x.d[b], &x.lane_sums8[b * 8], a0);
  }
  return hsum256(_mm256_add_ps(a0, a1));
}

#endif  // VNNI

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
    case QType::f32:
      return dot_f32(static_cast<const float*>(row), x, cols);
    case QType::f16:
      return dot_f16(static_cast<const uint16_t*>(row), x, cols);
    case QType::q8_0:
      return dot_q8_0(static_cast<const uint8_t*>(row), x, cols);
    case QType::q4_0:
      return dot_q4_0(static_cast<const uint8_t*>(row), x, cols);
  }
  return 0;
#else
  return dot_generic(t, row, x, cols);
#endif
}

bool matvec_quantizes_activations(QType t) {
#ifdef XFMR_QUANT_INT_PATH
  return t == QType::q8_0 || t == QType::q4_0;
#else
  return false;
#endif
}

namespace {

void rows_float(QType t, const uint8_t* w, const float* x, float* y, int64_t rows, int64_t cols) {
  const int64_t rb = kernels::qtype_row_bytes(t, cols);
  for (int64_t r = 0; r < rows; ++r) y[r] = dot_row(t, w + r * rb, x, cols);
}

template <class Rows>
void run_rows(QType t, const void* w, float* y, int64_t rows, int64_t cols, bool parallel, Rows&& f) {
  // A chunk should carry ~64K multiply-adds (tens of microseconds) to be worth a thread team's start.
  const int64_t chunks = parallel ? rows * cols / 65536 : 1;
  const int64_t rb = kernels::qtype_row_bytes(t, cols);
  parallel_chunks(rows, chunks, [&](int64_t r0, int64_t r1) {
    f(static_cast<const uint8_t*>(w) + r0 * rb, y + r0, r1 - r0);
  });
}

void matvec_impl(QType t, const void* w, const float* x, float* y, int64_t rows, int64_t cols,
                 bool parallel) {
#ifdef XFMR_QUANT_INT_PATH
  if (matvec_quantizes_activations(t)) {
    static thread_local QuantizedX xq;  // quantized on the calling thread, read by the workers
    xq.set(x, cols);
    const QuantizedX& xr = xq;
    const int64_t rb = kernels::qtype_row_bytes(t, cols), nb = cols / kQBlock;
    run_rows(t, w, y, rows, cols, parallel, [&](const uint8_t* p, float* out, int64_t n) {
      for (int64_t r = 0; r < n; ++r) out[r] = dot_q8_int(t, p + r * rb, xr, nb);
    });
    return;
  }
#endif
  run_rows(t, w, y, rows, cols, parallel,
           [&](const uint8_t* p, float* out, int64_t n) { rows_float(t, p, x, out, n, cols); });
}

}  // namespace

void matvec_serial(QType t, const void* w, const float* x, float* y, int64_t rows, int64_t cols) {
  matvec_impl(t, w, x, y, rows, cols, false);
}

void matvec(QType t, const void* w, const float* x, float* y, int64_t rows, int64_t cols) {
  matvec_impl(t, w, x, y, rows, cols, true);
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
