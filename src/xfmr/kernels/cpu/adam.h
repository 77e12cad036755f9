// Vectorised Adam/AdamW element update (same contract and same operation order as kernels/ref/adam.h).
// Why not the plain loop: with errno-setting math (GCC's default) std::sqrt keeps a branch in the loop, so
// the compiler leaves it scalar; this version uses std::experimental::simd at the host's native width (16
// floats with AVX-512): 6-14x faster than the scalar loop on a cache-resident 64K-float tensor (one core,
// loaded host).
#pragma once
#include <cstdint>

#include "xfmr/kernels/ref/adam.h"

namespace xfmr::kernels::cpu {

// p, m, v: [n] updated in place; g: [n]. Any alignment.
void adam_update(float* p, const float* g, float* m, float* v, int64_t n, const AdamCoeffs& c);
void adam_update(double* p, const double* g, double* m, double* v, int64_t n, const AdamCoeffs& c);

}  // namespace xfmr::kernels::cpu
