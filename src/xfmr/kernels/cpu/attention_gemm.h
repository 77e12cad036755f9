// Row-major GEMM for the attention kernels: C = alpha * op(A) * op(B) + beta * C, forwarded to OpenBLAS (f32 in a
// bf16 run: to kernels/cpu/gemm_bf16.h, see below).
// Overloaded on float/double so the templated kernels call one name. Kept private to the attention family
// (ops/attention*.cc, kernels/cpu/attention_flash.cc) so it does not collide with the matmul family's helpers.
#pragma once
#include <cblas.h>

#include <cstdint>

#include "xfmr/kernels/cpu/gemm_bf16.h"
#include "xfmr/kernels/cpu/gemm_blas.h"

namespace xfmr::kernels::attn {

// k == 0 (an empty head dimension) is legal for us but not for BLAS's leading-dimension checks: C = beta * C.
template <class T>
inline void scale_only(int64_t m, int64_t n, T beta, T* c, int64_t ldc) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = beta == T(0) ? T(0) : beta * c[i * ldc + j];
}

// In f32, matmul precision bf16 (kernels/cpu/gemm_blas.h: a bf16 training run) sends the tile products through
// the bf16 GEMM as well (bf16 operands, f32 sums, as autocast does for scaled-dot-product attention); the
// softmax, its running max and sum, and the accumulators stay f32. Every call here has beta 0 or 1. (The
// single-tile kernels in attention_flash.cc do not call this: their products are f32 in either precision.)
inline void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                 int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0) return scale_only(m, n, beta, c, ldc);
  if ((beta == 0.0f || beta == 1.0f) && effective_matmul_precision() == MatmulPrecision::bf16) {
    gemm_bf16(m, n, k, a, trans_a ? 1 : lda, trans_a ? lda : 1, b, trans_b ? 1 : ldb, trans_b ? ldb : 1, c, ldc,
              beta == 1.0f, alpha);
    return;
  }
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
              static_cast<int>(m), static_cast<int>(n), static_cast<int>(k), alpha, a, static_cast<int>(lda), b,
              static_cast<int>(ldb), beta, c, static_cast<int>(ldc));
}

inline void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha, const double* a,
                 int64_t lda, const double* b, int64_t ldb, double beta, double* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0) return scale_only(m, n, beta, c, ldc);
  cblas_dgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
              static_cast<int>(m), static_cast<int>(n), static_cast<int>(k), alpha, a, static_cast<int>(lda), b,
              static_cast<int>(ldb), beta, c, static_cast<int>(ldc));
}

}  // namespace xfmr::kernels::attn
