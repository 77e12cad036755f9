// Reference (scalar) bf16 GEMM: the oracle for kernels/cpu/gemm_bf16.h. Both operands are rounded to bfloat16
// (round to nearest, ties to even: the rounding of AVX512-BF16's VCVTNE2PS2BF16) and the products are summed in
// double, so the only difference from the fast kernel is the order (and precision) of its f32 accumulation, and
// denormal operands, which VCVTNE2PS2BF16 treats as zero (a product with one is below 2^-126 times the other
// operand, far inside the accumulation error).
#pragma once
#include <cstdint>

#include "xfmr/core/dtype.h"

namespace xfmr::kernels {

// The bfloat16 bit pattern nearest to x (ties to even); NaN stays a (quiet) NaN. Denormals are kept (the fast
// kernel uses it only on its scalar packing path; its vector paths convert with VCVTNE2PS2BF16, which rounds the
// same but treats denormal inputs as zero). The storage conversion of core/dtype.h, under the kernels' names.
inline uint16_t float_to_bf16(float x) { return f32_to_bf16(x); }

inline float bf16_to_float(uint16_t h) { return bf16_to_f32(h); }

inline float round_to_bf16(float x) { return bf16_to_float(float_to_bf16(x)); }

namespace ref {

// c[M, N] = (accumulate ? c : bias) + alpha · bf16(a)[M, K] · bf16(b)[K, N]. Element (i, k) of a is a[i*sa_r + k*sa_c];
// element (k, j) of b is b[k*sb_r + j*sb_c]; c is row-major with leading dimension ldc; bias (N values added to
// every row, f32) may be nullptr and is ignored when accumulate.
inline void gemm_bf16(int64_t M, int64_t N, int64_t K, const float* a, int64_t sa_r, int64_t sa_c, const float* b,
                      int64_t sb_r, int64_t sb_c, float* c, int64_t ldc, bool accumulate, float alpha = 1.0f,
                      const float* bias = nullptr) {
  for (int64_t i = 0; i < M; ++i) {
    for (int64_t j = 0; j < N; ++j) {
      double s = 0.0;
      for (int64_t k = 0; k < K; ++k)
        s += static_cast<double>(round_to_bf16(a[i * sa_r + k * sa_c])) *
             static_cast<double>(round_to_bf16(b[k * sb_r + j * sb_c]));
      s *= static_cast<double>(alpha);
      if (accumulate) {
        s += static_cast<double>(c[i * ldc + j]);
      } else if (bias) {
        s += static_cast<double>(bias[j]);
      }
      c[i * ldc + j] = static_cast<float>(s);
    }
  }
}

}  // namespace ref
}  // namespace xfmr::kernels
