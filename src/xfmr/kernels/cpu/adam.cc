#include "xfmr/kernels/cpu/adam.h"

// GCC 12 reports a false -Wmaybe-uninitialized inside its own AVX-512 intrinsics when they are inlined from
// <experimental/simd> (the register is written by the intrinsic before use).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <experimental/simd>

namespace xfmr::kernels::cpu {

namespace {

namespace stdx = std::experimental;

template <class T>
void adam_simd(T* p, const T* g, T* m, T* v, int64_t n, const AdamCoeffs& c) {
  using V = stdx::native_simd<T>;
  constexpr int64_t W = static_cast<int64_t>(V::size());
  constexpr auto unaligned = stdx::element_aligned;
  const T shrink = T(c.shrink), l2 = T(c.l2), b1 = T(c.beta1), b2 = T(c.beta2), step_size = T(c.step_size),
          bc2_sqrt = T(c.bc2_sqrt), eps = T(c.eps);
  int64_t i = 0;
  for (; i + W <= n; i += W) {
    V pi(p + i, unaligned), gi(g + i, unaligned), mi(m + i, unaligned), vi(v + i, unaligned);
    pi = pi * shrink;
    gi = gi + l2 * pi;
    mi = b1 * mi + (T(1) - b1) * gi;
    vi = b2 * vi + (T(1) - b2) * gi * gi;
    pi = pi - step_size * (mi / (stdx::sqrt(vi) / bc2_sqrt + eps));
    pi.copy_to(p + i, unaligned);
    mi.copy_to(m + i, unaligned);
    vi.copy_to(v + i, unaligned);
  }
  ref::adam_update(p + i, g + i, m + i, v + i, n - i, c);  // tail of fewer than W elements
}

}  // namespace

void adam_update(float* p, const float* g, float* m, float* v, int64_t n, const AdamCoeffs& c) {
  adam_simd(p, g, m, v, n, c);
}
void adam_update(double* p, const double* g, double* m, double* v, int64_t n, const AdamCoeffs& c) {
  adam_simd(p, g, m, v, n, c);
}

}  // namespace xfmr::kernels::cpu

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
