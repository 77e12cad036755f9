// Reference (scalar) Adam/AdamW element update: the oracle for kernels/cpu/adam.h.
// One fused pass over contiguous buffers of n elements:
//   p' = p * shrink                  (AdamW's decoupled decay, Loshchilov & Hutter 2019; 1 for Adam)
//   g' = g + l2 * p'                 (Adam's L2 term; l2 = 0 for AdamW)
//   m  = beta1 * m + (1 - beta1) * g'
//   v  = beta2 * v + (1 - beta2) * g'^2
//   p  = p' - step_size * m / (sqrt(v) / bc2_sqrt + eps)
// with step_size = lr / (1 - beta1^t) and bc2_sqrt = sqrt(1 - beta2^t) (Kingma & Ba 2015, Algorithm 1, in the
// arrangement torch.optim uses, so results agree with it to rounding).
#pragma once
#include <cmath>
#include <cstdint>

namespace xfmr::kernels {

// Per-step scalars of the update, computed in double by the caller and rounded to T once by the kernels.
struct AdamCoeffs {
  double shrink = 1, l2 = 0, beta1 = 0.9, beta2 = 0.999, step_size = 0, bc2_sqrt = 1, eps = 1e-8;
};

namespace ref {

// p, m, v: [n] updated in place; g: [n].
template <class T>
void adam_update(T* p, const T* g, T* m, T* v, int64_t n, const AdamCoeffs& c) {
  const T shrink = T(c.shrink), l2 = T(c.l2), b1 = T(c.beta1), b2 = T(c.beta2), step_size = T(c.step_size),
          bc2_sqrt = T(c.bc2_sqrt), eps = T(c.eps);
  for (int64_t i = 0; i < n; ++i) {
    const T pi = p[i] * shrink;
    const T gi = g[i] + l2 * pi;
    m[i] = b1 * m[i] + (T(1) - b1) * gi;
    v[i] = b2 * v[i] + (T(1) - b2) * gi * gi;
    p[i] = pi - step_size * (m[i] / (std::sqrt(v[i]) / bc2_sqrt + eps));
  }
}

}  // namespace ref
}  // namespace xfmr::kernels
