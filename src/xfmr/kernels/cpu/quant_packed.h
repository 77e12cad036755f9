// q4_0 and q8_0 weights repacked 8 rows at a time ("x8") for decoding and prefill. In GGUF's row-major layout
// a matrix-vector product reads one row's blocks, then the next row's; each block costs a scale conversion, an
// unpack and a horizontal sum per row, which kept the 110M q4_0 model's decoding at about half of one core's
// DRAM bandwidth. Repacked, block b of rows 8g..8g+7 is one unit holding the same bytes as the 8 original
// blocks (so a matrix keeps its size): the 8 f16 scales, then the rows' codes arranged so that four 512-bit
// VNNI products (x's codes broadcast to every lane pair) give all 8 rows' partial sums at once. A product then
// streams the matrix as one sequential read with ~20 vector instructions per 8 blocks, and prefill reuses
// each unpacked unit for up to 8 tokens (an int8 GEMM). (llama.cpp repacks q4_0 similarly in its CPU "repack"
// buffers; this layout is xfmr's own.) Compared with kernels/ref/quant.h in tests/kernels/quant_packed_test.cc.
#pragma once
#include <cstdint>

#include "xfmr/kernels/cpu/quant.h"

namespace xfmr::kern {

// Rows per interleaved group.
inline constexpr int64_t kPackRows = 8;

// True when this CPU runs the packed kernels (AVX512-VNNI: kernels::cpu_has_avx512_vnni()) and t is q4_0 or
// q8_0; callers keep the row-major layout otherwise. (The products below also work without VNNI, through
// plain loops, so a layout chosen earlier stays valid.)
bool packed_x8_available(kernels::QType t);

// Repacks W [rows, cols] (type t = q4_0 or q8_0, row-major; rows a multiple of kPackRows, cols of 32) into
// out, which has the same size (rows * qtype_row_bytes(t, cols) bytes) and must not overlap w.
void pack_x8(kernels::QType t, const void* w, int64_t rows, int64_t cols, void* out);

// y[r] = Σ_c W[r, c] x[c] for rows [r0, r1) (r0 a multiple of kPackRows) of a packed W, with x given as its
// q8_0 quantization xq (QuantizedActs::set). Each row's result is the same whichever range contains it; values
// equal kernels::ref::matvec_q8_activations up to f32 rounding of the scale products and sums.
void matvec_rows_x8(kernels::QType t, const void* packed, int64_t cols, const QuantizedActs& xq, float* y,
                    int64_t r0, int64_t r1);

// Prefill: y[i, r] = Σ_c W[r, c] x_i[c] for tokens i < n (x_i given as its q8_0 quantization xq[i]) and rows
// [r0, r1) (r0 a multiple of kPackRows) of a packed W; token i's outputs start at y + i * ldy. Each unit is
// unpacked once for up to 8 tokens (VNNI does 64 multiply-adds per instruction where f32 FMA does 16), and
// every (row, token) value is computed by exactly the operations of matvec_rows_x8, so prefill logits equal
// token-at-a-time decoding's bit for bit.
void matmul_rows_x8(kernels::QType t, const void* packed, int64_t cols, const QuantizedActs* xq, int64_t n,
                    float* y, int64_t ldy, int64_t r0, int64_t r1);

// Rows [r0, r1) of a packed W as f32 into out [(r1 - r0), cols].
void dequantize_rows_x8(kernels::QType t, const void* packed, int64_t cols, int64_t r0, int64_t r1, float* out);

}  // namespace xfmr::kern
