// The matrix-matrix product behind batched prefill: all prompt tokens of a block against one weight matrix
// stored as f32 / f16 / q8_0 / q4_0 (layouts in kernels/quant_types.h). Prefill is compute-bound (each weight
// is used once per token of the block), so block-type and f16 rows are dequantized a tile at a time into f32
// (the dequantization amortised over the block's tokens) and multiplied by the BLAS's single-threaded sgemm;
// callers split rows across their own threads. Compared with kernels/ref/quant.h in
// tests/kernels/quant_gemm_test.cc.
#pragma once
#include <cstdint>

#include "xfmr/kernels/quant_types.h"

namespace xfmr::kern {

// Rows dequantized per sgemm call: the scratch a caller passes holds kGemmTileRows * cols floats.
inline constexpr int64_t kGemmTileRows = 64;

// y[i, r] = Σ_c W[r, c] x[i, c] for tokens i < n and rows r in [r0, r1) (y points at row 0 of token 0;
// token i's outputs start at y + i * ldy). x: [n, cols] contiguous. W: [rows, cols] stored as t. scratch:
// kGemmTileRows * cols floats, unused for f32 weights. Runs on the calling thread.
void matmul_rows(kernels::QType t, const void* w, int64_t cols, const float* x, int64_t n, float* y, int64_t ldy,
                 int64_t r0, int64_t r1, float* scratch);

// Rows [r0, r1) of W as f32 into out [(r1 - r0), cols].
void dequantize_rows(kernels::QType t, const void* w, int64_t cols, int64_t r0, int64_t r1, float* out);

}  // namespace xfmr::kern
