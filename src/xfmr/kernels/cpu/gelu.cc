#include "xfmr/kernels/cpu/gelu.h"

#include "xfmr/kernels/cpu/cpu_features.h"

#if defined(__GNUC__) && !defined(__clang__)  // GCC's own intrinsics (see quant.cc)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <type_traits>

#include "xfmr/core/dtype.h"
#include "xfmr/kernels/cpu/gemm_bf16.h"
#include "xfmr/kernels/cpu/vmath.h"

namespace xfmr::kernels {

namespace {

// The plain loop (other CPUs, XFMR_ISA=generic): vmath's scalar form, vectorised by the compiler.
template <class S>
void gelu_tanh_plain(const float* x, float* y, S* dy, int64_t n) {
  if (!dy) {
    for (int64_t i = 0; i < n; ++i) y[i] = vmath::gelu_tanh(x[i]);
    return;
  }
  for (int64_t i = 0; i < n; ++i) {
    float v, s;
    vmath::gelu_tanh_value_slope(x[i], v, s);
    y[i] = v;
    if constexpr (std::is_same_v<S, uint16_t>)
      dy[i] = f32_to_bf16(s);
    else
      dy[i] = s;
  }
}

}  // namespace

#if XFMR_X86_AVX512_KERNELS
XFMR_AVX512_KERNELS_BEGIN
namespace {

// vmath::gelu_tanh_value_slope on 16 lanes (its comments give the form and the saturations); cvt(v) turns a
// slope vector into bf16 words (S = uint16_t).
template <class S, class Cvt>
[[gnu::always_inline]] inline void gelu_tanh_lanes(const float* x, float* y, S* dy, int64_t n, Cvt cvt) {
  const __m512 c1 = _mm512_set1_ps(2.0f * 0.7978845608028654f);
  const __m512 c3 = _mm512_set1_ps(2.0f * 0.7978845608028654f * 0.044715f);
  const __m512 c3x3 = _mm512_set1_ps(3.0f * (2.0f * 0.7978845608028654f * 0.044715f));
  const __m512 cap = _mm512_set1_ps(1e4f), lo = _mm512_set1_ps(-87.0f), hi = _mm512_set1_ps(88.0f);
  const __m512 one = _mm512_set1_ps(1.0f);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? __mmask16(0xffff) : __mmask16((1u << (n - i)) - 1);
    const __m512 v = _mm512_maskz_loadu_ps(m, x + i);
    const __m512 x2c = _mm512_min_ps(_mm512_mul_ps(v, v), cap);  // x2 < cap ? x2 : cap (NaN -> cap, as there)
    const __m512 t = _mm512_mul_ps(v, _mm512_fmadd_ps(c3, x2c, c1));
    // a = clamp(-t, -87, 88) with NaN kept: vmaxps / vminps return their second operand on NaN.
    const __m512 a = _mm512_min_ps(hi, _mm512_max_ps(lo, _mm512_sub_ps(_mm512_setzero_ps(), t)));
    // e^a: vmath::exp_reduced's reduction and polynomial, 2^n by vscalefps.
    const __m512 nn = _mm512_roundscale_ps(_mm512_mul_ps(a, _mm512_set1_ps(1.44269504088896341f)),
                                           _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(nn, _mm512_set1_ps(0.693359375f), a);
    r = _mm512_fmadd_ps(nn, _mm512_set1_ps(2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    const __m512 er = _mm512_add_ps(_mm512_fmadd_ps(_mm512_mul_ps(p, r), r, r), one);
    const __mmask16 finite_e = _mm512_cmp_ps_mask(a, lo, _CMP_NLE_UQ);  // not (a <= -87): e = 0 there
    const __m512 e = _mm512_maskz_scalef_ps(finite_e, er, nn);
    const __mmask16 live = _mm512_cmp_ps_mask(a, hi, _CMP_NGE_UQ);  // not (a >= 88): σ = 0 there
    const __m512 sg = _mm512_maskz_div_ps(live, one, _mm512_add_ps(one, e));
    const __m512 yv = _mm512_mul_ps(v, sg);
    _mm512_mask_storeu_ps(y + i, m, yv);
    if (!dy) continue;
    const __m512 dt = _mm512_fmadd_ps(c3x3, x2c, c1);
    const __m512 s = _mm512_fmadd_ps(_mm512_mul_ps(yv, e), _mm512_mul_ps(sg, dt), sg);
    if constexpr (std::is_same_v<S, uint16_t>) {
      if (m == 0xffff)
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(dy + i), cvt(s));
      else
        _mm256_mask_storeu_epi16(dy + i, m, cvt(s));
    } else {
      _mm512_mask_storeu_ps(dy + i, m, s);
    }
  }
}

void gelu_tanh_avx512(const float* x, float* y, float* dy, int64_t n) {
  gelu_tanh_lanes(x, y, dy, n, nullptr);
}

}  // namespace
XFMR_AVX512_KERNELS_END

// The bf16 slope: only a bf16 run asks for it, and that runs on AVX512-BF16 CPUs (detail::gelu_slope_dtype), so
// it is converted by VCVTNEPS2BF16: one instruction, f32_to_bf16's rounding and NaN rule, except that denormal
// slopes (below 1.2e-38, at x < -9.3) become 0. (Rounding on the integer bits instead cost 3.7 us of a 14.7 us
// 96 x 256 block on Zen 4, this ~0.9 us.) The AVX-512 set above plus avx512bf16; a lambda would not inherit the
// target, so the converter is a member function with its own.
#define XF_GELU_BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx512dq,f16c,fma,avx512bf16")))
namespace {
struct Bf16Cvt {
  XF_GELU_BF16_TARGET __m256i operator()(__m512 v) const { return (__m256i)_mm512_cvtneps_pbh(v); }
};
XF_GELU_BF16_TARGET void gelu_tanh_avx512_bf16(const float* x, float* y, uint16_t* dy, int64_t n) {
  gelu_tanh_lanes(x, y, dy, n, Bf16Cvt{});
}
}  // namespace
#endif

namespace {
template <class S>
void gelu_tanh_any(const float* x, float* y, S* dy, int64_t n) {
#if XFMR_X86_AVX512_KERNELS
  if constexpr (std::is_same_v<S, uint16_t>) {
    if (cpu_has_avx512_vnni() && cpu_has_avx512_bf16()) return gelu_tanh_avx512_bf16(x, y, dy, n);
  } else {
    if (cpu_has_avx512_vnni()) return gelu_tanh_avx512(x, y, dy, n);
  }
#endif
  gelu_tanh_plain(x, y, dy, n);
}
}  // namespace

void gelu_tanh(const float* x, float* y, float* dy, int64_t n) { gelu_tanh_any(x, y, dy, n); }
void gelu_tanh(const float* x, float* y, uint16_t* dy, int64_t n) { gelu_tanh_any(x, y, dy, n); }

}  // namespace xfmr::kernels
