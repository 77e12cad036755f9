#include "xfmr/kernels/cpu/quant.h"

#include "xfmr/kernels/cpu/cpu_features.h"
#include "xfmr/kernels/cpu/quant_gemm.h"

// GCC 12 reports a false -Wmaybe-uninitialized inside its own AVX-512 intrinsics (the undefined pass-through
// operand of the conversion intrinsics) when they are inlined; the warning is about the header, not this
// code. (-Wuninitialized: the same for _mm512_reduce_add_ps once inlined into a loop over N rows.)
#if defined(__GNUC__) && !defined(__clang__)  // clang has no such warning and would warn about the name
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <cstring>
#include <vector>

#include "xfmr/core/dtype.h"
#include "xfmr/core/parallel.h"
#include "xfmr/kernels/ref/quant.h"

namespace xfmr::kern {

using kernels::BlockQ4_0;
using kernels::BlockQ8_0;
using kernels::kQBlock;
using kernels::QType;

// The AVX-512 kernels (compiled natively or through a target pragma, run only when
// kernels::cpu_has_avx512_vnni(): kernels/cpu/cpu_features.h), then the plain fallbacks, then the entry points
// that choose between them.
#if XFMR_X86_AVX512_KERNELS
XFMR_AVX512_KERNELS_BEGIN
namespace avx512 {
namespace {

inline float half_scale(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return _cvtsh_ss(h);
}

// Rows per kernel call. Reading N rows side by side shares each x load between them, but it turns one
// sequential stream into N interleaved ones, and the hardware prefetchers then fetch DRAM far worse: measured
// on the 110M shape (weights 4x the L3), whole-model matvec CPU time per token for q4_0 was 7.5 ms with N = 4,
// 5.9 with N = 2 and 4.3 with N = 1 (q8_0: 19 / 19 / 6 ms); for cache-resident 15M weights N made no
// difference. So rows go one at a time (the templates keep N for repeating the experiment).
constexpr int kRowsAtOnce = 1;

// N rows at once (row k at w + k * stride elements) against one x, so each x vector is loaded once for N
// rows. Every row's arithmetic is the same for any N (two accumulators per row: 16-lane chunks alternate
// between them, a masked tail goes into the first), so grouping rows never changes a result.
template <int N, class Load>
void dot_rows_float(Load load, int64_t stride, const float* x, int64_t n, float* out) {
  __m512 a0[N], a1[N];
  for (int k = 0; k < N; ++k) a0[k] = a1[k] = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m512 x0 = _mm512_loadu_ps(x + i), x1 = _mm512_loadu_ps(x + i + 16);
    for (int k = 0; k < N; ++k) {
      a0[k] = _mm512_fmadd_ps(load(k * stride + i, __mmask16(0xFFFF)), x0, a0[k]);
      a1[k] = _mm512_fmadd_ps(load(k * stride + i + 16, __mmask16(0xFFFF)), x1, a1[k]);
    }
  }
  for (; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? __mmask16(0xFFFF) : static_cast<__mmask16>((1u << (n - i)) - 1);
    const __m512 xv = _mm512_maskz_loadu_ps(m, x + i);
    for (int k = 0; k < N; ++k) a0[k] = _mm512_fmadd_ps(load(k * stride + i, m), xv, a0[k]);
  }
  for (int k = 0; k < N; ++k) out[k] = _mm512_reduce_add_ps(_mm512_add_ps(a0[k], a1[k]));
}

template <int N>
void dot_rows_f32(const float* w, int64_t stride, const float* x, int64_t n, float* out) {
  dot_rows_float<N>([w](int64_t off, __mmask16 m) { return _mm512_maskz_loadu_ps(m, w + off); }, stride, x, n,
                    out);
}

template <int N>
void dot_rows_f16(const uint16_t* w, int64_t stride, const float* x, int64_t n, float* out) {
  dot_rows_float<N>([w](int64_t off, __mmask16 m) { return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, w + off)); },
                    stride, x, n, out);
}

float dot_f32(const float* w, const float* x, int64_t n) {
  float r;
  dot_rows_f32<1>(w, 0, x, n, &r);
  return r;
}

float dot_f16(const uint16_t* w, const float* x, int64_t n) {
  float r;
  dot_rows_f16<1>(w, 0, x, n, &r);
  return r;
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


inline float hsum256(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// One q8_0 weight block's integer dot with x's codes q: VNNI multiplies unsigned by signed bytes, so the
// weights' signs move onto x (|w| · sign(w) x), exact because codes are within ±127.
inline __m256i block_dot_q8(const uint8_t* blk, __m256i q) {
  const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 2));
  return _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_sign_epi8(w, w), _mm256_sign_epi8(q, w));
}

// One q4_0 weight block: the nibbles (0..15, elements 0..15 low, 16..31 high) are the unsigned operand
// directly; Σ (n - 8) q = Σ n q - 8 Σ q, with 8 Σ q per 4-byte lane precomputed (ls8).
inline __m256i block_dot_q4(const uint8_t* blk, __m256i q, __m256i ls8) {
  const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 2));
  const __m256i nib = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(raw, 4), raw), _mm256_set1_epi8(0x0F));
  return _mm256_sub_epi32(_mm256_dpbusd_epi32(_mm256_setzero_si256(), nib, q), ls8);
}

// N rows (row k at w + k * rb bytes) against x's q8_0 blocks; x's codes and lane sums are loaded once per
// block for all N rows. One accumulator per row, blocks in order: a row's result does not depend on N.
template <int N, bool Q4>
void dot_rows_int(const uint8_t* w, int64_t rb, const QuantizedActs& x, int64_t nb, float* out) {
  constexpr int64_t bs = Q4 ? sizeof(BlockQ4_0) : sizeof(BlockQ8_0);
  __m256 acc[N];
  for (int k = 0; k < N; ++k) acc[k] = _mm256_setzero_ps();
  const BlockQ8_0* xb = x.blocks();
  const float* xd = x.scales();
  const int32_t* ls8 = x.lane_sums8();
  for (int64_t b = 0; b < nb; ++b) {
    const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb[b].q));
    const __m256i l = Q4 ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ls8 + 8 * b)) : __m256i{};
    for (int k = 0; k < N; ++k) {
      const uint8_t* blk = w + k * rb + b * bs;
      const __m256i dot = Q4 ? block_dot_q4(blk, q, l) : block_dot_q8(blk, q);
      acc[k] = _mm256_fmadd_ps(_mm256_set1_ps(half_scale(blk) * xd[b]), _mm256_cvtepi32_ps(dot), acc[k]);
    }
  }
  for (int k = 0; k < N; ++k) out[k] = hsum256(acc[k]);
}

template <bool Q4>
void rows_int(const uint8_t* w, int64_t cols, const QuantizedActs& x, float* y, int64_t r0, int64_t r1) {
  const int64_t rb = kernels::qtype_row_bytes(Q4 ? QType::q4_0 : QType::q8_0, cols), nb = cols / kQBlock;
  // One row at a time: see rows_at_once.
  for (int64_t r = r0; r < r1; ++r) dot_rows_int<kRowsAtOnce, Q4>(w + r * rb, rb, x, nb, y + r);
}

// ref::quantize_row_q8_0 in 16-lane steps, the same codes bit for bit: max|x| ignoring NaNs (max_ps returns
// its second operand when the first is NaN), the scale from the same scalar code, round to nearest even
// (nearbyint's default mode), clamp to ±127, NaN to 0. It runs once per product input, for every prefill
// token (libm's nearbyint per element cost ~6% of a q4_0 prefill).
void quantize_blocks(const float* x, BlockQ8_0* out, int64_t nb) {
  const __m512 lo = _mm512_set1_ps(-127.0f), hi = _mm512_set1_ps(127.0f);
  for (int64_t b = 0; b < nb; ++b, x += kQBlock) {
    const __m512 x0 = _mm512_loadu_ps(x), x1 = _mm512_loadu_ps(x + 16);
    const __m512 m = _mm512_max_ps(_mm512_abs_ps(x1), _mm512_max_ps(_mm512_abs_ps(x0), _mm512_setzero_ps()));
    const uint16_t dh = kernels::ref::f16_at_least(_mm512_reduce_max_ps(m) / 127.0f);
    const float d = f16_to_f32(dh);
    const __m512 id = _mm512_set1_ps(d != 0 ? 1.0f / d : 0.0f);
    out[b].d = dh;
    for (int h = 0; h < 2; ++h) {
      const __m512 v = _mm512_mul_ps(h ? x1 : x0, id);
      const __mmask16 ord = _mm512_cmp_ps_mask(v, v, _CMP_ORD_Q);
      const __m512 r = _mm512_min_ps(_mm512_max_ps(_mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT), lo), hi);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out[b].q + 16 * h),
                       _mm512_cvtepi32_epi8(_mm512_maskz_cvtps_epi32(ord, r)));
    }
  }
}

}  // namespace

float dot_row(QType t, const void* row, const float* x, int64_t cols) {
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
}

void matvec_rows(QType t, const uint8_t* wb, int64_t cols, const float* x, const QuantizedActs* xq, float* y,
                 int64_t r0, int64_t r1) {
  if (t == QType::q8_0) return rows_int<false>(wb, cols, *xq, y, r0, r1);
  if (t == QType::q4_0) return rows_int<true>(wb, cols, *xq, y, r0, r1);
  if (t == QType::f32) {
    const auto* wf = reinterpret_cast<const float*>(wb);
    for (int64_t r = r0; r < r1; ++r) dot_rows_f32<kRowsAtOnce>(wf + r * cols, cols, x, cols, y + r);
  } else {
    const auto* wh = reinterpret_cast<const uint16_t*>(wb);
    for (int64_t r = r0; r < r1; ++r) dot_rows_f16<kRowsAtOnce>(wh + r * cols, cols, x, cols, y + r);
  }
}

void quantize_q8_0_blocks(const float* x, BlockQ8_0* out, int64_t nb) {
  quantize_blocks(x, out, nb);
}

}  // namespace avx512
XFMR_AVX512_KERNELS_END
#endif  // XFMR_X86_AVX512_KERNELS

namespace {

// The fallback (no AVX-512, or XFMR_ISA=generic): dequantize, then a loop the compiler vectorises for the ISA
// it targets (omp simd permits the reordered sum).
float dot_generic(QType t, const void* row, const float* x, int64_t n) {
  const float* w = static_cast<const float*>(row);
  static thread_local std::vector<float> buf;  // grows to the widest row once per thread
  if (t != QType::f32) {
    if (buf.size() < static_cast<size_t>(n)) buf.resize(static_cast<size_t>(n));
    dequantize_rows(t, row, n, 0, 1, buf.data());
    w = buf.data();
  }
  float s = 0;
#pragma omp simd reduction(+ : s)
  for (int64_t c = 0; c < n; ++c) s += w[c] * x[c];
  return s;
}

bool use_avx512() {
  return XFMR_X86_AVX512_KERNELS && kernels::cpu_has_avx512_vnni();
}

}  // namespace

float dot_row(QType t, const void* row, const float* x, int64_t cols) {
#if XFMR_X86_AVX512_KERNELS
  if (use_avx512()) return avx512::dot_row(t, row, x, cols);
#endif
  return dot_generic(t, row, x, cols);
}

bool matvec_quantizes_activations(QType t) {
  return use_avx512() && (t == QType::q8_0 || t == QType::q4_0);
}

void QuantizedActs::reserve(int64_t cols) {
  const size_t nb = static_cast<size_t>(cols / kQBlock);
  if (blocks_.size() >= nb) return;
  blocks_.resize(nb);
  d_.resize(nb);
  lane_sums8_.resize(nb * 8);
  codes_.resize(nb * kQBlock);
  parity_corr8_.resize(nb * 2);
  parity_corr128_.resize(nb * 2);
}

void QuantizedActs::set_blocks(const float* x, int64_t b0, int64_t b1) {
#if XFMR_X86_AVX512_KERNELS
  if (use_avx512())
    avx512::quantize_q8_0_blocks(x + b0 * kQBlock, blocks_.data() + b0, b1 - b0);
  else
#endif
    kernels::ref::quantize_row_q8_0(x + b0 * kQBlock, blocks_.data() + b0, (b1 - b0) * kQBlock);
  for (int64_t b = b0; b < b1; ++b) {
    const BlockQ8_0& blk = blocks_[static_cast<size_t>(b)];
    d_[static_cast<size_t>(b)] = f16_to_f32(blk.d);
    std::memcpy(codes_.data() + b * kQBlock, blk.q, kQBlock);
    int32_t par[2] = {0, 0};
    for (int j = 0; j < 8; ++j) {
      const int8_t* q = blk.q + 4 * j;
      lane_sums8_[static_cast<size_t>(b * 8 + j)] = 8 * (q[0] + q[1] + q[2] + q[3]);
      par[j & 1] += 8 * (q[0] + q[1] + q[2] + q[3]);
    }
    for (int k = 0; k < 2; ++k) {
      parity_corr8_[static_cast<size_t>(b * 2 + k)] = -par[k];
      parity_corr128_[static_cast<size_t>(b * 2 + k)] = -16 * par[k];
    }
  }
}

void matvec_rows(QType t, const void* w, int64_t cols, const float* x, const QuantizedActs* xq, float* y,
                 int64_t r0, int64_t r1) {
  const auto* wb = static_cast<const uint8_t*>(w);
#if XFMR_X86_AVX512_KERNELS
  if (use_avx512()) return avx512::matvec_rows(t, wb, cols, x, xq, y, r0, r1);
#endif
  (void)xq;
  const int64_t rb = kernels::qtype_row_bytes(t, cols);
  for (int64_t r = r0; r < r1; ++r) y[r] = dot_generic(t, wb + r * rb, x, cols);
}

namespace {

void matvec_impl(QType t, const void* w, const float* x, float* y, int64_t rows, int64_t cols,
                 bool parallel) {
  static thread_local QuantizedActs xq;  // quantized on the calling thread, read by the workers
  const bool q = matvec_quantizes_activations(t);
  if (q) {
    xq.reserve(cols);
    xq.set(x, cols);
  }
  const QuantizedActs* xr = q ? &xq : nullptr;
  // A chunk should carry ~64K multiply-adds (tens of microseconds) to be worth a thread team's start.
  const int64_t chunks = parallel ? rows * cols / 65536 : 1;
  parallel_chunks(rows, chunks, [&](int64_t r0, int64_t r1) { matvec_rows(t, w, cols, x, xr, y, r0, r1); });
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
