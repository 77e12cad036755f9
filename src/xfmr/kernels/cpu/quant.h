// Inference weight kernels for f32 / f16 / q8_0 / q4_0 rows (layouts in kernels/quant_types.h): the
// matrix-vector product that dominates token-by-token decoding, and bulk quantization. AVX-512 where the CPU
// has it (chosen at run time: kernels/cpu/cpu_features.h), else a plain loop; each is compared with
// kernels/ref/quant.h in tests/kernels/quant_test.cc.
// Decoding is memory-bound, so the kernels read each weight byte once per token and keep x (a few KB) in L1.
#pragma once
#include <cstdint>
#include <vector>

#include "xfmr/kernels/quant_types.h"

namespace xfmr::kern {

// An activation vector x [cols] quantized to q8_0 blocks for the integer path of matvec_rows: codes, the
// scales as f32, and per block 8 x the sum of each 4-code group (the correction for the q4_0 nibbles' offset
// of 8). Buffers grow in reserve() only, so a decoder reserves once and quantizes every token allocation-free.
class QuantizedActs {
 public:
  void reserve(int64_t cols);
  // Quantizes x [cols] (cols a multiple of 32, <= the reserved size).
  void set(const float* x, int64_t cols) { set_blocks(x, 0, cols / kernels::kQBlock); }
  // Quantizes only blocks [b0, b1) of x (x points at element 0), so threads can each quantize the part they
  // produced.
  void set_blocks(const float* x, int64_t b0, int64_t b1);

  const kernels::BlockQ8_0* blocks() const { return blocks_.data(); }
  const float* scales() const { return d_.data(); }
  const int32_t* lane_sums8() const { return lane_sums8_.data(); }
  // The codes without the scales between blocks ([blocks, 32]), and per block -8 x the sum of codes 0..3,
  // 8..11, 16..19, 24..27 and of codes 4..7, 12..15, 20..23, 28..31 ([blocks, 2]; and the same times -128):
  // what the 8-row interleaved kernels (kernels/cpu/quant_packed.h) read.
  const int8_t* codes() const { return codes_.data(); }
  const int32_t* parity_corr8() const { return parity_corr8_.data(); }
  const int32_t* parity_corr128() const { return parity_corr128_.data(); }

 private:
  std::vector<kernels::BlockQ8_0> blocks_;
  std::vector<float> d_;
  std::vector<int32_t> lane_sums8_;  // [blocks, 8]
  std::vector<int8_t> codes_;
  std::vector<int32_t> parity_corr8_, parity_corr128_;
};

// y[r] = Σ_c W[r, c] x[c] for rows r in [r0, r1) only, on the calling thread (y points at row 0's output).
// xq must hold x quantized (QuantizedActs::set) when matvec_quantizes_activations(t), else it is unused and
// may be null. Each row's value is independent of [r0, r1) (the same operations whichever rows are grouped),
// so splitting rows across threads gives bit-identical results for every thread count.
void matvec_rows(kernels::QType t, const void* w, int64_t cols, const float* x, const QuantizedActs* xq,
                 float* y, int64_t r0, int64_t r1);

// y[r] = Σ_c W[r, c] x[c]; W [rows, cols] stored row by row as type t (cols a multiple of 32 for q8_0/q4_0).
// Rows are split across the thread pool when the product is large enough to pay for a thread team.
// For q8_0 / q4_0 weights on a CPU with AVX512-VNNI (kernels::cpu_has_avx512_vnni()), x is first quantized to
// q8_0 blocks and each block product is an exact integer dot (llama.cpp's scheme: 32 multiply-adds in one
// instruction instead of converting every weight to f32); the result then equals
// kernels::ref::matvec_q8_activations, not kernels::ref::matvec.
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
