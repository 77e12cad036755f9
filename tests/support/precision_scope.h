// Sets the process-wide matmul precision (kernels/cpu/gemm_blas.h) for one scope, restoring the previous one
// even when an assertion returns early.
#pragma once
#include "xfmr/kernels/cpu/gemm_blas.h"

namespace xfmr::test {

struct PrecisionScope {
  explicit PrecisionScope(MatmulPrecision p) : old(matmul_precision()) { set_matmul_precision(p); }
  ~PrecisionScope() { set_matmul_precision(old); }
  PrecisionScope(const PrecisionScope&) = delete;
  PrecisionScope& operator=(const PrecisionScope&) = delete;
  MatmulPrecision old;
};

}  // namespace xfmr::test
