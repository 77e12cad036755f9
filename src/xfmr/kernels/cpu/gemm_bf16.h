// f32 GEMM through bfloat16 products: both operands are rounded to bf16 while they are packed, multiplied with
// AVX512-BF16's VDPBF16PS (two bf16 products summed into each f32 lane per instruction, twice the multiply-adds
// per cycle of f32 FMA on Zen 4, which has no AMX) and accumulated in f32. This is the "bf16 autocast" numerics of
// mixed-precision training (Micikevicius et al. 2018, "Mixed Precision Training", §3; Kalamkar et al. 2019,
// "A Study of BFLOAT16 for Deep Learning Training"): weights, gradients and optimizer state stay f32.
//
// The kernel is compiled for AVX512-BF16 with a function attribute, so the binary runs anywhere; callers check
// cpu_has_avx512_bf16() first (gemm_into falls back to the f32 BLAS when the CPU lacks it).
#pragma once
#include <cstdint>

namespace xfmr::kernels {

// A pass a GEMM's caller runs over each finished block of C while it is still in cache: fn(ctx, c, ldc, row0,
// rows, col0, cols) with c pointing at element (row0, col0) of the whole output, of the GEMM's element type
// (float here; gemm_into also calls it for double), and row0/col0 indexing that output, so the pass finds its
// own operands at the same positions. Called once per block, after its final values are stored, on the thread
// that computed it; blocks are disjoint. A linear layer's activation (GELU with its slope) or residual add run
// this way instead of as a separate pass that reads the output back from memory.
struct GemmEpilogue {
  void (*fn)(const void* ctx, void* c, int64_t ldc, int64_t row0, int64_t rows, int64_t col0, int64_t cols) = nullptr;
  const void* ctx = nullptr;
  explicit operator bool() const { return fn != nullptr; }
};

// True when this CPU executes AVX512-F + AVX512-BF16 (checked once).
bool cpu_has_avx512_bf16();

// c[M, N] = (accumulate ? c : bias) + alpha · bf16(a)[M, K] · bf16(b)[K, N], products summed in f32 (alpha applied to
// the f32 sums: the attention kernels pass their softmax scale). bias: N f32 values added to every row of c (a
// linear layer's bias, added in the kernel's final store instead of a pass over c), or nullptr for none; ignored
// when accumulate. a_row_sums (M f32 values, or nullptr): a_row_sums[i] += Σ_k a(i, k), summed in f32 over
// k = 0, 1, ... in order from the unrounded values, while A is packed (a linear layer's bias gradient Σ_rows dY
// taken from the dYᵀ operand of its weight gradient, without a pass of its own).
// a(i, k) = a[i*sa_r + k*sa_c], b(k, j) = b[k*sb_r + j*sb_c] (any strides: transposed operands are read in
// place while packing); c row-major with leading dimension ldc. Runs on the calling thread; packing buffers are
// per-thread and kept, so repeated calls allocate nothing once the largest shape has been seen.
// epilogue (optional): run over each finished block of C (rows [row_base + i0, ...) as the caller numbers them:
// row_base is added to the block's first row, for callers that hand the kernel a slice of a larger output).
// Requires cpu_has_avx512_bf16().
void gemm_bf16(int64_t M, int64_t N, int64_t K, const float* a, int64_t sa_r, int64_t sa_c, const float* b,
               int64_t sb_r, int64_t sb_c, float* c, int64_t ldc, bool accumulate, float alpha = 1.0f,
               const float* bias = nullptr, float* a_row_sums = nullptr, GemmEpilogue epilogue = {},
               int64_t row_base = 0);

// B packed ahead of its product, for an operand that is known before the product that reads it: a linear layer's
// input X is the B of its weight gradient dW = dYᵀ·X, and is packed in the forward (gemm_bf16_packing_a: by the
// forward product, block by block, while each block is in cache) instead of being read back from L3 or DRAM as
// f32 in the backward (and it is kept in half the bytes).
// Layout: ceil(N / NR) panels of NR = gemm_bf16_panel_columns() columns; panel q holds, for each K pair p,
// NR 32-bit words (bf16 b(2p, j) | bf16 b(2p+1, j) << 16) for j = q·NR ... q·NR + NR - 1, zero past K and N.
// gemm_bf16_packed_b_words(K, N) words in all (0 when K or N is 0).
int64_t gemm_bf16_packed_b_words(int64_t K, int64_t N);
int64_t gemm_bf16_panel_columns();
// Packs columns [j0, j1) of b [K, N] (b(k, j) = b[k*sb_r + j*sb_c]) into `out`, the whole operand's buffer:
// j0 a multiple of the panel width, j1 one too or N, so that disjoint column ranges may be packed by different
// threads. The same rounding as gemm_bf16's own packing (gemm_bf16_packed gives gemm_bf16's bits).
// Requires cpu_has_avx512_bf16().
void gemm_bf16_pack_b(int64_t K, int64_t N, int64_t j0, int64_t j1, const float* b, int64_t sb_r, int64_t sb_c,
                      uint32_t* out);
// gemm_bf16 (no accumulate, alpha 1) that also packs A, as gemm_bf16_pack_b would pack the [M_total, K] operand of
// which a holds rows [row0, row0 + M), into a_packed (the whole operand's buffer; row0 even, so that row blocks
// on different threads write different K pairs): the forward of a linear layer packs its input for its weight
// gradient while the GEMM has each block of it in cache. epilogue: as gemm_bf16's, its rows numbered from row0.
void gemm_bf16_packing_a(int64_t M, int64_t N, int64_t K, const float* a, int64_t sa_r, int64_t sa_c, const float* b,
                         int64_t sb_r, int64_t sb_c, float* c, int64_t ldc, const float* bias, uint32_t* a_packed,
                         int64_t M_total, int64_t row0, GemmEpilogue epilogue = {});
// gemm_bf16 with B given packed (gemm_bf16_pack_b over all its columns, for the same K and N).
void gemm_bf16_packed(int64_t M, int64_t N, int64_t K, const float* a, int64_t sa_r, int64_t sa_c,
                      const uint32_t* b_packed, float* c, int64_t ldc, bool accumulate, float alpha = 1.0f,
                      const float* bias = nullptr, float* a_row_sums = nullptr);

}  // namespace xfmr::kernels
