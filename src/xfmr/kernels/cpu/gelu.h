// GPT-2's tanh GELU over contiguous f32 rows, with its slope for the backward (internal). Every f32 tanh GELU in
// xfmr goes through here (ops/activation.cc's gelu() and its fused GEMM epilogue, infer/gpt2.cc), so training
// and inference compute the same bits on one machine.
#pragma once
#include <cstdint>

namespace xfmr::kernels {

// y[i] = gelu_tanh(x[i]) for i < n (x may equal y); when dy is not null, dy[i] = gelu_tanh'(x[i]), as f32 or
// as bf16 bits (rounded as f32_to_bf16 does, core/dtype.h, except that on AVX512-BF16 CPUs a denormal slope,
// below 1.2e-38 at x < -9.3, becomes 0). The formulas are vmath::gelu_tanh_value_slope's:
// the plain loop runs that function; the AVX-512 path (cpu_has_avx512_vnni()) runs the same operations on 16
// lanes with the clamps as vmin/vmax, the exponent as vscalefps and the saturations as masks, which GCC does not
// derive from the scalar selects (the plain loop's vectorised form needs ~50 instructions per 16 values, this
// ~30). tests/kernels/gelu_test.cc holds both to vmath's accuracy bounds against long double. They are not
// bit-identical in every build: the compiler chooses which of the scalar form's products and sums it fuses
// (GCC 12 -O3 -march=native gives the AVX-512 path's bits; the -O1 debug build differs in the far negative tail).
void gelu_tanh(const float* x, float* y, float* dy, int64_t n);
void gelu_tanh(const float* x, float* y, uint16_t* dy, int64_t n);

}  // namespace xfmr::kernels
