#include "xfmr/kernels/cpu/gemm_bf16.h"

// GCC 12 reports its own _mm512_undefined_epi32() inside the shift and lane-shuffle intrinsics as (maybe-)
// uninitialized when they are inlined into a target("avx512...") function (at -O0 as "uninitialized"); the value
// is never read (the mask is all ones).
#if defined(__GNUC__) && !defined(__clang__)  // clang has no such warning and would warn about the name
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <algorithm>
#include <vector>

#include "xfmr/kernels/cpu/bf16_convert.h"
#include "xfmr/kernels/cpu/cpu_features.h"
#include "xfmr/kernels/cpu/simd_transpose.h"
#include "xfmr/kernels/ref/gemm_bf16.h"

namespace xfmr::kernels {

namespace {

// Blocking in the manner of Goto & van de Geijn 2008 ("Anatomy of High-Performance Matrix Multiplication"):
// a KC x NC block of B is packed once, an MC x KC block of A is packed per B block and stays in L2, and the
// MR x NR micro-kernel streams one A micro-panel (MR rows) against one B micro-panel (NR columns).
// MR x NR = 12 x 32 keeps 24 zmm accumulators, two B vectors and one A broadcast in the 32 zmm registers.
constexpr int64_t kMR = 12, kNR = 32;
// KC: K is cut into the fewest equal blocks of at most kKCMax (even: bf16 values are consumed in pairs along K).
// A K block short enough for the B micro-panel to stay in L1 (384: 24 KB) meant, for K = 1024 or 1536 (the MLP
// projections and their dx), writing C two to four times and reading it back in between, and C (activations)
// lives in DRAM; with one K block C is written once. The B micro-panel (up to 128 KB) then streams from L2 at
// 128 bytes per 24 vdpbf16ps, far below L2's bandwidth. bench_gemm_bf16 --benchmark_filter=Linear (best of 3,
// CPU-time GFLOP/s, with the other session-5 changes): dx of a 256 -> 1024 layer over 5248 rows 171 -> 190,
// forward M x N x K = 5248 x 256 x 1024 171 -> 189, 3072 x 384 x 1536 172 -> 204 (docs/BENCHMARKS.md).
// NC covers the whole N of the training benches' products (up to 4 x 384 and 4 x 256 columns): with NC = 512, a
// 1536-column product packed each A block three times, once per B block, and A (activations, output gradients)
// comes from DRAM; each B micro-panel is read from L3 once per A block and reused across its MC / MR micro-panels.
constexpr int64_t kKCMax = 2048;
constexpr int64_t kMC = 96;    // multiple of kMR
constexpr int64_t kNC = 2048;  // multiple of kNR

// Per-thread packing buffers, grown to the largest block seen and then reused (no allocation in steady state).
struct PackBuffers {
  std::vector<uint32_t> a, b;  // pair words
};
PackBuffers& pack_buffers() {
  thread_local PackBuffers buf;
  return buf;
}

using bf16::cvt_interleave;
using bf16::cvt_pairs;
using bf16::kInterleave;
using bf16::lanes;

// Software prefetch while packing: the operands of a training step's products (activations, output gradients)
// come from L3 or DRAM, and a packing loop reads short row segments (a kc-column block of a row, or the block's
// columns of two rows) that end before the hardware prefetcher has locked on to the stream. The packing loops
// ask for the rows they will read a few iterations later.
constexpr int64_t kPrefetchRows = 2;   // row-major A: the row two rows ahead
constexpr int64_t kPrefetchPairs = 4;  // two-row (K pair) loops: the pair four pairs ahead
// The n values at x + 2·d·stride and x + (2·d + 1)·stride (rows 2d and 2d + 1 ahead), one request per cache line.
inline void prefetch_pair(const float* x, int64_t stride, int64_t d, int64_t n) {
  const float* r0 = x + 2 * d * stride;
  for (int64_t j = 0; j < n; j += 16) {
    __builtin_prefetch(r0 + j);
    __builtin_prefetch(r0 + stride + j);
  }
}

// One value at a time, for the strides the vector paths do not cover.
inline uint32_t pair_word(float lo, float hi) {
  return static_cast<uint32_t>(float_to_bf16(lo)) | static_cast<uint32_t>(float_to_bf16(hi)) << 16;
}

// B block (kc rows, nc columns) into NR-column panels: for each K pair p, NR 32-bit words
// (bf16 b(2p, j), bf16 b(2p+1, j)), zero-padded past kc and nc. Panel q starts at out + q·panel words (0: the
// block's own kp·NR; a larger stride writes these kc rows into part of a longer operand's panels, the layout of
// gemm_bf16_pack_b).
// `prefetch`: ask for the rows a few pairs ahead (B read from L3 or DRAM); off where the block was just read by
// pack_a and is in L1 or L2.
XF_BF16_TARGET void pack_b(const float* b, int64_t sb_r, int64_t sb_c, int64_t kc, int64_t nc, uint32_t* out,
                           int64_t panel = 0, bool prefetch = true) {
  const int64_t kp = (kc + 1) / 2;
  if (panel == 0) panel = kp * kNR;
  if (sb_c == 1) {
    // Rows of B are contiguous: two rows give 16 words at once. The K pairs are the outer loop, so each pair of
    // rows is read front to back once instead of a panel's width at a time (no measurable change on the
    // char-GPT step, but no worse).
    const __m512i idx = _mm512_load_si512(kInterleave);
    const int64_t nfull = nc / kNR * kNR;  // whole panels of the fast loop
    for (int64_t p = 0; p < kp; ++p) {
      const float* r0 = b + 2 * p * sb_r;
      const float* r1 = 2 * p + 1 < kc ? r0 + sb_r : nullptr;
      const bool pf = prefetch && 2 * (p + kPrefetchPairs) + 1 < kc;
      int64_t j0 = 0;
      if (r1) {
        // Both rows there, whole panels: plain loads, no masks (on a hot block of a linear layer's input the
        // masks and branches of the general loop were most of the cost).
        for (; j0 < nfull; j0 += kNR) {
          uint32_t* dst = out + (j0 / kNR) * panel + p * kNR;
          if (pf) prefetch_pair(r0 + j0, sb_r, kPrefetchPairs, kNR);
          const __m512i w0 = (__m512i)_mm512_cvtne2ps_pbh(_mm512_loadu_ps(r1 + j0), _mm512_loadu_ps(r0 + j0));
          const __m512i w1 =
              (__m512i)_mm512_cvtne2ps_pbh(_mm512_loadu_ps(r1 + j0 + 16), _mm512_loadu_ps(r0 + j0 + 16));
          _mm512_storeu_si512(dst, _mm512_permutexvar_epi16(idx, w0));
          _mm512_storeu_si512(dst + 16, _mm512_permutexvar_epi16(idx, w1));
        }
      }
      for (; j0 < nc; j0 += kNR) {
        uint32_t* dst = out + (j0 / kNR) * panel + p * kNR;
        if (pf) prefetch_pair(r0 + j0, sb_r, kPrefetchPairs, std::min(kNR, nc - j0));
        for (int64_t h = 0; h < kNR; h += 16)
          _mm512_storeu_si512(dst + h, cvt_interleave(r0 + j0 + h, r1 ? r1 + j0 + h : nullptr, nc - j0 - h));
      }
    }
    return;
  }
  for (int64_t j0 = 0; j0 < nc; j0 += kNR) {
    const int64_t nr = std::min(kNR, nc - j0);
    uint32_t* panel_out = out + (j0 / kNR) * panel;
    if (sb_r == 1) {
      // Columns of B are contiguous (B = Wᵀ of a row-major W): 16 columns x 16 K pairs are converted along the
      // columns and transposed in registers into 16 panel rows.
      for (int64_t p0 = 0; p0 < kp; p0 += 16) {
        const int64_t nq = std::min<int64_t>(16, kp - p0), nf = std::min<int64_t>(32, kc - 2 * p0);
        for (int64_t h = 0; h < kNR; h += 16) {
          __m512i v[16];
          for (int64_t j = 0; j < 16; ++j)
            v[j] = h + j < nr ? cvt_pairs(b + (j0 + h + j) * sb_c + 2 * p0, nf) : _mm512_setzero_si512();
          simd::transpose16(v);  // kernels/cpu/simd_transpose.h
          for (int64_t q = 0; q < nq; ++q) _mm512_storeu_si512(panel_out + (p0 + q) * kNR + h, v[q]);
        }
      }
    } else {
      for (int64_t p = 0; p < kp; ++p) {
        for (int64_t j = 0; j < kNR; ++j) {
          if (j >= nr) {
            panel_out[p * kNR + j] = 0;
            continue;
          }
          const float* src = b + 2 * p * sb_r + (j0 + j) * sb_c;
          panel_out[p * kNR + j] = pair_word(src[0], 2 * p + 1 < kc ? src[sb_r] : 0.0f);
        }
      }
    }
  }
}

// The packed A block. Unlike B, A is not vector-loaded by the micro-kernel: each pair word a(i, p) (bf16 a(i, 2p)
// | bf16 a(i, 2p+1) << 16) is broadcast on its own, so the layout can follow the operand's memory order, which
// saves the in-register transpose a fixed panel layout needs for one of the two orientations:
//   row-major (A with unit column stride: activations in x·Wᵀ, output gradients in dY·W): row i of the block at
//     i·kARow words, its pairs consecutive; packing is a conversion of each row, no transpose.
//   pair-major (A with unit row stride: dYᵀ in the weight gradient dYᵀ·X): pair p at p·ld words, the block's
//     rows consecutive within it (ld = rows rounded up to the micro-panel and to 16); packing converts two
//     memory rows (K indices 2p, 2p+1) 16 values at a time and interleaves them, no transpose either.
// The micro-kernel reads a(i, p) at a[i·row + p·step] with the row stride a compile-time constant (one
// instantiation per layout), so every broadcast is a load with a constant displacement.
// Row stride of the row-major layout, in pair words: one cache line more than the longest row, so the 12 rows
// a micro-kernel call reads fall in different L1 sets (a stride of a multiple of 4 KB would put them all in one).
constexpr int64_t kARow = kKCMax / 2 + 16;

struct PackedA {
  const uint32_t* data;
  int64_t step;      // words between consecutive pairs of one row: 1 (row-major) or ld (pair-major)
  bool pair_major;
};

// A block (mc rows, kc columns) into `out` (room for kMC·kARow words), laid out as above. With `sums`, also
// sums[i] += a(i, k) for k = 0, 1, ... in order, in f32 (the unrounded values), while the values are at hand.
XF_BF16_TARGET PackedA pack_a(const float* a, int64_t sa_r, int64_t sa_c, int64_t mc, int64_t kc, uint32_t* out,
                              float* sums) {
  const int64_t kp = (kc + 1) / 2;
  if (sums && !(sa_r == 1 && sa_c != 1)) {
    // Not the layout of a linear layer's dYᵀ (the one caller): plain loops, same order.
    for (int64_t k = 0; k < kc; ++k)
      for (int64_t i = 0; i < mc; ++i) sums[i] += a[i * sa_r + k * sa_c];
  }
  if (sa_r == 1 && sa_c != 1) {
    const int64_t ld = ((mc + kMR - 1) / kMR * kMR + 15) / 16 * 16;  // micro-panels may read up to 11 rows past mc
    for (int64_t p = 0; p < kp; ++p) {
      const float* k0 = a + 2 * p * sa_c;
      const float* k1 = 2 * p + 1 < kc ? k0 + sa_c : nullptr;
      uint32_t* dst = out + p * ld;
      if (2 * (p + kPrefetchPairs) + 1 < kc) prefetch_pair(k0, sa_c, kPrefetchPairs, mc);
      int64_t i = 0;
      if (k1) {
        // Whole 16-row groups of a full pair: plain loads, no masks, and the row sums from the same registers
        // (the masks, branches and second loads of the general loops were as costly as the conversion).
        const __m512i idx = _mm512_load_si512(kInterleave);
        for (; i + 16 <= mc; i += 16) {
          const __m512 x = _mm512_loadu_ps(k0 + i), y = _mm512_loadu_ps(k1 + i);
          _mm512_storeu_si512(dst + i, _mm512_permutexvar_epi16(idx, (__m512i)_mm512_cvtne2ps_pbh(y, x)));
          if (sums) _mm512_storeu_ps(sums + i, _mm512_add_ps(_mm512_add_ps(_mm512_loadu_ps(sums + i), x), y));
        }
      }
      for (int64_t j = i; j < ld; j += 16)
        _mm512_storeu_si512(dst + j, cvt_interleave(k0 + j, k1 ? k1 + j : nullptr, mc - j));
      if (sums) {
        // Row 2p, then row 2p + 1, into each sum: the order of a row-by-row loop (a linear layer's bias gradient,
        // the same bits as its f32 path).
        for (; i < mc; i += 16) {
          const __mmask16 m = lanes(mc - i);
          __m512 v = _mm512_add_ps(_mm512_maskz_loadu_ps(m, sums + i), _mm512_maskz_loadu_ps(m, k0 + i));
          if (k1) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, k1 + i));
          _mm512_mask_storeu_ps(sums + i, m, v);
        }
      }
    }
    return {out, ld, true};
  }
  if (sa_c == 1) {
    // Rows past mc (up to the micro-panel edge) are never stored to C; they are left as they are.
    for (int64_t i = 0; i < mc; ++i) {
      const float* row = a + i * sa_r;
      uint32_t* dst = out + i * kARow;
      const float* ahead = i + kPrefetchRows < mc ? row + kPrefetchRows * sa_r : nullptr;
      int64_t p0 = 0;
      for (; 2 * p0 + 32 <= kc; p0 += 16) {  // whole 32-value pieces: plain loads, no masks
        if (ahead) {
          __builtin_prefetch(ahead + 2 * p0);
          __builtin_prefetch(ahead + 2 * p0 + 16);
        }
        _mm512_storeu_si512(
            dst + p0, (__m512i)_mm512_cvtne2ps_pbh(_mm512_loadu_ps(row + 2 * p0 + 16), _mm512_loadu_ps(row + 2 * p0)));
      }
      for (; p0 < kp; p0 += 16) {
        if (ahead) {
          __builtin_prefetch(ahead + 2 * p0);
          __builtin_prefetch(ahead + 2 * p0 + 16);
        }
        _mm512_storeu_si512(dst + p0, cvt_pairs(row + 2 * p0, kc - 2 * p0));
      }
    }
    return {out, 1, false};
  }
  for (int64_t i = 0; i < mc; ++i) {
    for (int64_t p = 0; p < kp; ++p) {
      const float* src = a + i * sa_r + 2 * p * sa_c;
      out[i * kARow + p] = pair_word(src[0], 2 * p + 1 < kc ? src[sa_c] : 0.0f);
    }
  }
  return {out, 1, false};
}

// c[mr, nr] (+)= alpha · A micro-panel · B micro-panel over kp K pairs, a(r, p) = ap[r·kRow + p·a_step].
// `load` = add to what c holds; otherwise bias (nr values, or nullptr) is added to every row.
// kUnit (alpha == 1, every linear-layer product): the accumulators start from c (or the bias) and are stored as
// they are, instead of starting from zero and scaling and adding at the end: 48 fewer 512-bit FP operations per
// call, ~6% of a K = 64 call (768 vdpbf16ps), where the epilogue is not negligible.
// kM (12, 8 or 4) rows are computed: the last micro-panel of a block with mr <= 8 rows left uses a narrower
// instantiation instead of computing 12 (a 64-row weight gradient, 5 x 12 + 4, wasted 11% of its products).
template <int64_t kRow, bool kUnit, int kM>
XF_BF16_TARGET void micro_kernel(int64_t kp, const uint32_t* ap, int64_t a_step, const uint32_t* bp, float* c,
                                 int64_t ldc, int64_t mr, int64_t nr, bool load, float alpha, const float* bias) {
  const __mmask16 m0 = nr >= 16 ? __mmask16(0xffff) : __mmask16((1u << nr) - 1);
  const __mmask16 m1 = nr >= 32 ? __mmask16(0xffff) : nr <= 16 ? __mmask16(0) : __mmask16((1u << (nr - 16)) - 1);
  const __m512 bias0 = bias ? _mm512_maskz_loadu_ps(m0, bias) : _mm512_setzero_ps();
  const __m512 bias1 = bias ? _mm512_maskz_loadu_ps(m1, bias + 16) : _mm512_setzero_ps();
  __m512 acc[kM][2];
  // Unrolled with guards rather than looping to mr: a run-time index into acc would put the accumulators in
  // memory (stack stores and reloads around every call, ~10% of a K = 128 product).
#pragma GCC unroll 12
  for (int r = 0; r < kM; ++r) {
    if (kUnit && load) {
      const bool live = r < mr;  // rows past mr start at zero and are never stored
      acc[r][0] = _mm512_maskz_loadu_ps(live ? m0 : __mmask16(0), c + r * ldc);
      acc[r][1] = _mm512_maskz_loadu_ps(live ? m1 : __mmask16(0), c + r * ldc + 16);
    } else if (kUnit) {
      acc[r][0] = bias0;
      acc[r][1] = bias1;
    } else {
      acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    }
  }
  for (int64_t p = 0; p < kp; ++p) {
    const __m512bh b0 = (__m512bh)_mm512_loadu_si512(bp + p * kNR);
    const __m512bh b1 = (__m512bh)_mm512_loadu_si512(bp + p * kNR + 16);
    const uint32_t* ar = ap + p * a_step;
#pragma GCC unroll 12
    for (int r = 0; r < kM; ++r) {
      const __m512bh av = (__m512bh)_mm512_set1_epi32(static_cast<int>(ar[r * kRow]));
      acc[r][0] = _mm512_dpbf16_ps(acc[r][0], av, b0);
      acc[r][1] = _mm512_dpbf16_ps(acc[r][1], av, b1);
    }
  }
  const __m512 va = _mm512_set1_ps(alpha);
#pragma GCC unroll 12
  for (int r = 0; r < kM; ++r) {
    if (r >= mr) break;
    float* row = c + r * ldc;
    __m512 v0 = acc[r][0], v1 = acc[r][1];
    if (!kUnit) {
      v0 = _mm512_mul_ps(v0, va);
      v1 = _mm512_mul_ps(v1, va);
      if (load) {
        v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, row));
        v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, row + 16));
      } else if (bias) {
        v0 = _mm512_add_ps(v0, bias0);
        v1 = _mm512_add_ps(v1, bias1);
      }
    }
    _mm512_mask_storeu_ps(row, m0, v0);
    _mm512_mask_storeu_ps(row + 16, m1, v1);
  }
}

// One micro-kernel call, dispatched on the A layout, alpha == 1 and the rows left.
template <int64_t kRow, int kM>
XF_BF16_TARGET inline void micro_rows(const uint32_t* ap, int64_t a_step, int64_t kp, const uint32_t* bp, float* c,
                                      int64_t ldc, int64_t mr, int64_t nr, bool load, float alpha, const float* bias) {
  if (alpha == 1.0f) return micro_kernel<kRow, true, kM>(kp, ap, a_step, bp, c, ldc, mr, nr, load, alpha, bias);
  micro_kernel<kRow, false, kM>(kp, ap, a_step, bp, c, ldc, mr, nr, load, alpha, bias);
}
template <int64_t kRow>
XF_BF16_TARGET inline void micro_layout(const uint32_t* ap, int64_t a_step, int64_t kp, const uint32_t* bp, float* c,
                                        int64_t ldc, int64_t mr, int64_t nr, bool load, float alpha,
                                        const float* bias) {
  if (mr > 8) return micro_rows<kRow, 12>(ap, a_step, kp, bp, c, ldc, mr, nr, load, alpha, bias);
  if (mr > 4) return micro_rows<kRow, 8>(ap, a_step, kp, bp, c, ldc, mr, nr, load, alpha, bias);
  micro_rows<kRow, 4>(ap, a_step, kp, bp, c, ldc, mr, nr, load, alpha, bias);
}
XF_BF16_TARGET inline void micro_tile(const PackedA& pa, int64_t ir, int64_t kp, const uint32_t* bp, float* c,
                                      int64_t ldc, int64_t mr, int64_t nr, bool load, float alpha, const float* bias) {
  if (pa.pair_major) return micro_layout<1>(pa.data + ir, pa.step, kp, bp, c, ldc, mr, nr, load, alpha, bias);
  micro_layout<kARow>(pa.data + ir * kARow, 1, kp, bp, c, ldc, mr, nr, load, alpha, bias);
}

}  // namespace

bool cpu_has_avx512_bf16() {
  static const bool has = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bf16");
  return has && !generic_isa_forced();  // XFMR_ISA=generic: as on a CPU without it (cpu_features.h)
}

namespace {

// The blocked product. B comes either as f32 (b with strides sb_r, sb_c; packed block by block here) or already
// packed over its whole K (b_packed, the layout of gemm_bf16_pack_b: panel q at q·ceil(K/2)·NR words, pair p at
// p·NR within it), in which case the K block starting at k0 (even) of panel q is the kp pairs at
// b_packed + q·ceil(K/2)·NR + k0/2·NR: the same words pack_b would write for that block, so both give the same bits.
// a_as_b (or nullptr): A is also written in the layout of gemm_bf16_pack_b, as the B operand of a product that
// contracts over A's rows (panel stride a_as_b_panel words; see gemm_bf16.h).
void gemm_blocked(int64_t M, int64_t N, int64_t K, const float* a, int64_t sa_r, int64_t sa_c, const float* b,
                  int64_t sb_r, int64_t sb_c, const uint32_t* b_packed, float* c, int64_t ldc, bool accumulate,
                  float alpha, const float* bias, float* a_row_sums, uint32_t* a_as_b, int64_t a_as_b_panel,
                  GemmEpilogue epilogue, int64_t row_base) {
  if (M <= 0) return;
  if (a_as_b && K > 0 && (N <= 0 || K > kKCMax)) {
    // No A blocks to pack it beside (N = 0), or A blocks that cover only part of a row (K past one block, whose
    // column offsets are not panel-aligned): the whole of A in one pass.
    pack_b(a, sa_r, sa_c, M, K, a_as_b, a_as_b_panel);
    a_as_b = nullptr;
  }
  if (N <= 0) {
    if (a_row_sums)
      for (int64_t k = 0; k < K; ++k)
        for (int64_t i = 0; i < M; ++i) a_row_sums[i] += a[i * sa_r + k * sa_c];
    return;
  }
  if (K <= 0) {
    if (!accumulate) {
      for (int64_t i = 0; i < M; ++i) {
        float* row = c + i * ldc;
        for (int64_t j = 0; j < N; ++j) row[j] = bias ? bias[j] : 0.0f;
      }
    }
    if (epilogue) epilogue.fn(epilogue.ctx, c, ldc, row_base, M, 0, N);
    return;
  }
  if (accumulate) bias = nullptr;  // documented as ignored
  PackBuffers& buf = pack_buffers();
  const int64_t nk = (K + kKCMax - 1) / kKCMax;
  const int64_t kc_max = ((K + nk - 1) / nk + 1) / 2 * 2;  // the K block: even, nk of them cover K
  const int64_t nc_max = std::min(kNC, (N + kNR - 1) / kNR * kNR);
  // words: kc/2 pairs per column of the B block; the A block takes kMC rows of kARow words in either layout
  const size_t need_b = b_packed ? 0 : static_cast<size_t>(kc_max / 2 * nc_max);
  const size_t need_a = static_cast<size_t>(kMC * kARow);
  if (buf.b.size() < need_b) buf.b.resize(need_b);
  if (buf.a.size() < need_a) buf.a.resize(need_a);
  const int64_t panel_words = (K + 1) / 2 * kNR;  // one panel of b_packed
  for (int64_t j0 = 0; j0 < N; j0 += kNC) {
    const int64_t nc = std::min(kNC, N - j0);
    for (int64_t k0 = 0; k0 < K; k0 += kc_max) {
      const int64_t kc = std::min(kc_max, K - k0), kp = (kc + 1) / 2;
      const bool load = accumulate || k0 > 0;
      if (!b_packed) pack_b(b + k0 * sb_r + j0 * sb_c, sb_r, sb_c, kc, nc, buf.b.data());
      for (int64_t i0 = 0; i0 < M; i0 += kMC) {
        const int64_t mc = std::min(kMC, M - i0);
        float* sums = a_row_sums && j0 == 0 ? a_row_sums + i0 : nullptr;  // each A block is summed once
        const PackedA pa = pack_a(a + i0 * sa_r + k0 * sa_c, sa_r, sa_c, mc, kc, buf.a.data(), sums);
        // A's rows paired for the B layout while the block is in L1/L2 from pack_a (K is one block here, i0 even);
        // a separate pass over A later would read it back from L3 or DRAM.
        if (a_as_b && j0 == 0) pack_b(a + i0 * sa_r, sa_r, sa_c, mc, K, a_as_b + i0 / 2 * kNR, a_as_b_panel, false);
        for (int64_t jr = 0; jr < nc; jr += kNR) {
          const uint32_t* bp = b_packed ? b_packed + (j0 + jr) / kNR * panel_words + k0 / 2 * kNR
                                        : buf.b.data() + (jr / kNR) * kp * kNR;
          const float* bias_j = bias ? bias + j0 + jr : nullptr;
          const int64_t nr = std::min(kNR, nc - jr);
          for (int64_t ir = 0; ir < mc; ir += kMR) {
            float* cp = c + (i0 + ir) * ldc + j0 + jr;
            const int64_t mr = std::min(kMR, mc - ir);
            micro_tile(pa, ir, kp, bp, cp, ldc, mr, nr, load, alpha, bias_j);
          }
        }
        // The block's values are final after the last K block: the epilogue reads them from L1/L2.
        if (epilogue && k0 + kc >= K) epilogue.fn(epilogue.ctx, c + i0 * ldc + j0, ldc, row_base + i0, mc, j0, nc);
      }
    }
  }
}

}  // namespace

void gemm_bf16(int64_t M, int64_t N, int64_t K, const float* a, int64_t sa_r, int64_t sa_c, const float* b,
               int64_t sb_r, int64_t sb_c, float* c, int64_t ldc, bool accumulate, float alpha, const float* bias,
               float* a_row_sums, GemmEpilogue epilogue, int64_t row_base) {
  gemm_blocked(M, N, K, a, sa_r, sa_c, b, sb_r, sb_c, nullptr, c, ldc, accumulate, alpha, bias, a_row_sums, nullptr,
               0, epilogue, row_base);
}

void gemm_bf16_packing_a(int64_t M, int64_t N, int64_t K, const float* a, int64_t sa_r, int64_t sa_c, const float* b,
                         int64_t sb_r, int64_t sb_c, float* c, int64_t ldc, const float* bias, uint32_t* a_packed,
                         int64_t M_total, int64_t row0, GemmEpilogue epilogue) {
  gemm_blocked(M, N, K, a, sa_r, sa_c, b, sb_r, sb_c, nullptr, c, ldc, false, 1.0f, bias, nullptr,
               a_packed + row0 / 2 * kNR, (M_total + 1) / 2 * kNR, epilogue, row0);
}

int64_t gemm_bf16_packed_b_words(int64_t K, int64_t N) {
  return K <= 0 || N <= 0 ? 0 : (N + kNR - 1) / kNR * kNR * ((K + 1) / 2);
}

int64_t gemm_bf16_panel_columns() { return kNR; }

void gemm_bf16_pack_b(int64_t K, int64_t N, int64_t j0, int64_t j1, const float* b, int64_t sb_r, int64_t sb_c,
                      uint32_t* out) {
  if (K <= 0 || j1 <= j0) return;
  // Columns [j0, j1) of B as one kc = K, nc = j1 - j0 block: its panels have the stride of the whole operand's.
  pack_b(b + j0 * sb_c, sb_r, sb_c, K, std::min(j1, N) - j0, out + j0 / kNR * ((K + 1) / 2 * kNR));
}

void gemm_bf16_packed(int64_t M, int64_t N, int64_t K, const float* a, int64_t sa_r, int64_t sa_c,
                      const uint32_t* b_packed, float* c, int64_t ldc, bool accumulate, float alpha, const float* bias,
                      float* a_row_sums) {
  gemm_blocked(M, N, K, a, sa_r, sa_c, nullptr, 0, 0, b_packed, c, ldc, accumulate, alpha, bias, a_row_sums,
               nullptr, 0, {}, 0);
}

}  // namespace xfmr::kernels
