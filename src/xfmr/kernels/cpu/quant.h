// Inference weight kernels for f32 / f16 / q8_0 / q4_0 rows (layouts in kernels/quant_types.h): the
// matrix-vector product that dominates token-by-token decoding, and bulk quantization. AVX-512 where the host
// has it, else a plain loop; each is compared with kernels/ref/quant.h in tests/kernels/quant_test.cc.
// Decoding is memory-bound, so the kernels read each weight byte once per token and keep x (a few KB) in L1.
#pragma once
#include <cstdint>

#include "xfmr/kernels/quant_types.h"

namespace xfmr::kern {

// y[r] = Σ_c W[r, c] x[c]; W [rows, cols] stored row by row as type t (cols a multiple of 32 for q8_0/q4_0).
// Rows are split across the thread pool when the product is large enough to pay for a thread team.
// For q8_0 / q4_0 weights on a CPU with AVX512-VNNI, x is first quantized to q8_0 blocks and each block
// product is an exact integer dot (llama.cpp's scheme: 32 multiply-adds in one instruction instead of
// converting every weight to f32); the result then equals kernels::ref::matvec_q8_activations, not
// kernels::ref::matvec.
void matvec(kernels::QType t, const void* w, const float* x, float* y, int64_t rows, int64_t cols);
// The same on the calling thread only (callers that parallelise themselves).
void matvec_serial(kernels::QType t, const void* w, const float* x, float* y, int64_t rows, int64_t cols);

// True when matvec quantizes x to q8_0 for weights of type t (see above).
bool matvec_quantizes_activations(kernels::QType t);

// One row's dot product with x (x in f32, never quantized).
float dot_row(kernels::QType t, const void* row, const float* x, int64_t cols);

// Quantizes rows x [rows, cols] into out (rows * qtype_row_bytes(t, cols) bytes), rows in parallel.
void quantize_rows(kernels::QType t, const float* x, void* out, int64_t rows, int64_t cols);
// Row r of W (as above) into out [cols] as f32.
void dequantize_row(kernels::QType t, const void* w, int64_t r, float* out, int64_t cols);

}  // namespace xfmr::kern
