// Strided, batched GEMM through the BLAS (OpenBLAS cblas_sgemm / cblas_dgemm). No autograd: ops/matmul.cc and
// the other ops call this from their forward and backward passes.
#pragma once
#include <cstdint>
#include <string>

#include "xfmr/core/tensor.h"
#include "xfmr/kernels/cpu/gemm_bf16.h"

namespace xfmr {

// True when the last two dims of t ([..., R, C]) can be handed to the BLAS as is: row-major (stride(-1) == 1)
// or the transpose of a row-major matrix (stride(-2) == 1), with a valid leading dimension.
bool blas_compatible(const Tensor& t);
// t itself when blas_compatible(t), else a contiguous copy (no autograd).
Tensor blas_ready(const Tensor& t);

// c[batch..., M, N] = a[batch..., M, K] · b[batch..., K, N]   (or += when `accumulate`).
// a and b must be blas_compatible; their batch dims broadcast to c's (missing leading dims and size-1 dims are
// repeated). c must have stride(-1) == 1 and row stride >= N; its batch strides may be 0, in which case the
// products over those dims are summed into the same matrix (this is how a backward reduces over broadcast batch
// dims without materialising them); `accumulate` must then be true and c zero-initialised.
// Same float dtype (f32 or f64) for all three.
// bias (optional: [N], contiguous, same dtype) is added to every row of every product: c = a·b + bias, as a linear
// layer's forward needs; only without `accumulate` and without summed batch dims. The bf16 kernel adds it in its
// final store; the BLAS path writes it into each block of c's rows just before that block's GEMM (beta = 1).
// a_row_sums (optional: [M], contiguous, same dtype, zero-initialised by the caller; one product, no batch):
// a_row_sums[i] += Σ_k a[i, k], each sum taken in order of k in the working precision, so the result does not depend
// on the thread count or on the matmul precision. The bf16 kernel takes it from A while packing it (a linear
// layer's bias gradient from the dYᵀ of its weight gradient); the BLAS path sums each row block before its GEMM.
// epilogue (optional; one product, no batch dims): run over each finished block of c's rows while it is in
// cache (kernels::GemmEpilogue): per block of the bf16 kernel; on the BLAS path once per BLAS call (all rows, or
// each thread's row block), after it.
void gemm_into(const Tensor& a, const Tensor& b, const Tensor& c, bool accumulate, const Tensor& bias = Tensor(),
               const Tensor& a_row_sums = Tensor(), kernels::GemmEpilogue epilogue = {});

// gemm_into(a, b, c, false, bias) for one product (rank 2, f32, bf16 precision) that also returns a [M, K] converted
// to bf16 and packed as the B operand of a later product that contracts over a's rows (kernels/cpu/gemm_bf16.h,
// gemm_bf16_pack_b's layout): a bf16 tensor [ceil(K/32), ceil(M/2), 32, 2] (panel, pair of rows, column, half of
// the pair). It is packed block by block while the GEMM has a's rows in cache: the forward of a linear layer,
// whose input is the B of its weight gradient and is kept this way. The same bits as the GEMM and packing a
// separately, at any thread count. Requires K, N > 0.
// epilogue: as gemm_into's.
Tensor gemm_into_packing_a(const Tensor& a, const Tensor& b, const Tensor& c, const Tensor& bias = Tensor(),
                           kernels::GemmEpilogue epilogue = {});
// c[M, N] = a[M, K] · B in bf16, B [K, N] given packed as gemm_into_packing_a returns it; a blas_compatible f32, c f32 row-major
// (rank 2, no batch); a_row_sums as in gemm_into. The same bits as gemm_into in bf16 precision on the unpacked B,
// at any thread count (rows of c are split across threads as gemm_into splits them). Requires the CPU's bf16 kernel.
void gemm_packed_b_into(const Tensor& a, const Tensor& b_packed, const Tensor& c, const Tensor& a_row_sums = Tensor());

// The arithmetic of f32 products in gemm_into (process-wide; f64 products are always f64):
//   f32:  OpenBLAS sgemm.
//   bf16: operands rounded to bfloat16, products accumulated in f32 (kernels/cpu/gemm_bf16.h: AVX512-BF16), the
//         "bf16 autocast" of mixed-precision training; where the CPU lacks AVX512-BF16 this stays f32.
// Set it before a run, not while GEMMs are in flight.
enum class MatmulPrecision { f32, bf16 };
void set_matmul_precision(MatmulPrecision p);
MatmulPrecision matmul_precision();
// The precision gemm_into actually uses for f32 (bf16 only when requested and supported by the CPU).
MatmulPrecision effective_matmul_precision();
// "f32" / "bf16"; parse_matmul_precision throws an Error naming `what` and the known names.
const char* matmul_precision_name(MatmulPrecision p);
MatmulPrecision parse_matmul_precision(const std::string& s, const char* what);

// The raw (no autograd) view of t with its last two dims swapped.
Tensor transposed_view(const Tensor& t);

}  // namespace xfmr
