// q4_0 weights repacked 8 rows at a time ("q4_0x8") for decoding and prefill. In GGUF's row-major q4_0 a
// matrix-vector product reads one row's blocks, then the next row's; each 18-byte block costs a scale
// conversion, a nibble split and a horizontal sum per row, which kept the 110M q4_0 model's decoding at about
// half of one core's DRAM bandwidth. Repacked, block b of rows 8g..8g+7 is one 144-byte unit (the same bytes
// as the 8 original blocks, so the matrix keeps its size): the 8 f16 scales, then the 256 nibbles arranged so
// that four 512-bit VNNI products (x's 8 codes broadcast to every lane pair) give all 8 rows' partial sums at
// once. The product then streams the matrix as one sequential read and does ~20 vector instructions per 144
// bytes instead of ~14 per 18. (llama.cpp repacks q4_0 the same way in its CPU "repack" buffers; this layout
// is xfmr's own.) Compared with kernels/ref/quant.h in tests/kernels/quant_packed_test.cc.
#pragma once
#include <cstdint>

#include "xfmr/kernels/cpu/quant.h"

namespace xfmr::kern {

// Rows per interleaved group.
inline constexpr int64_t kPackRows = 8;

// True when this build has the packed kernels (AVX512-VNNI); callers keep the row-major layout otherwise.
bool q4_0x8_available();

// Repacks W [rows, cols] (q4_0, row-major; rows a multiple of kPackRows, cols of 32) into out, which has the
// same size (rows * qtype_row_bytes(q4_0, cols) bytes) and must not overlap w.
void pack_q4_0x8(const void* w, int64_t rows, int64_t cols, void* out);

// y[r] = Σ_c W[r, c] x[c] for rows [r0, r1) (multiples of kPackRows, or r1 = rows) of a packed W, with x given
// as its q8_0 quantization xq (QuantizedActs::set). Each row's result is the same whichever range contains it;
// values equal kernels::ref::matvec_q8_activations up to f32 rounding of the scale products and sums.
void matvec_rows_q4_0x8(const void* packed, int64_t cols, const QuantizedActs& xq, float* y, int64_t r0,
                        int64_t r1);

// Prefill: y[i, r] = Σ_c W[r, c] x_i[c] for tokens i < n (x_i given as its q8_0 quantization xq[i]) and rows
// [r0, r1) (r0 a multiple of kPackRows) of a packed W; token i's outputs start at y + i * ldy. Each unit of 8
// rows x 32 columns is unpacked once and multiplied with up to 8 tokens (the int8 GEMM: VNNI does 64
// multiply-adds per instruction where f32 FMA does 16), and every (row, token) value is computed by exactly
// the operations of matvec_rows_q4_0x8, so prefill logits equal token-at-a-time decoding's bit for bit.
// Needs q4_0x8_available().
void matmul_rows_q4_0x8_int(const void* packed, int64_t cols, const QuantizedActs* xq, int64_t n, float* y,
                            int64_t ldy, int64_t r0, int64_t r1);

// Rows [r0, r1) (r0 a multiple of kPackRows) of a packed W as f32 into out [(r1 - r0), cols].
void dequantize_rows_q4_0x8(const void* packed, int64_t cols, int64_t r0, int64_t r1, float* out);

}  // namespace xfmr::kern
