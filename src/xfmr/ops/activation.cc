#include "xfmr/ops/activation.h"

#include <cmath>

#include "xfmr/core/autograd.h"
#include "xfmr/core/parallel.h"
#include "xfmr/kernels/cpu/gelu.h"
#include "xfmr/kernels/cpu/gemm_blas.h"
#include "xfmr/kernels/cpu/vmath.h"
#include "xfmr/ops/activation_impl.h"
#include "xfmr/ops/elementwise_impl.h"

namespace xfmr {

using detail::map1;
using detail::map2;

namespace {

template <class T>
inline T sigmoid_of(T x) {
  return T(1) / (T(1) + vmath::exp(-x));
}
}  // namespace

Tensor relu(const Tensor& x) {
  check_float(x, "relu");
  Tensor out = map1(x, "relu", [](auto v) { return v < decltype(v)(0) ? decltype(v)(0) : v; });
  if (needs_grad(x)) {
    // torch's threshold_backward: the gradient passes where the output is > 0.
    record("relu", out, {&x}, [ko = out.detach()](const Tensor& g, GradSlots& gs) {
      gs.g[0] = map2(g, ko, "relu", [](auto gv, auto o) { return o > decltype(o)(0) ? gv : decltype(o)(0); });
    });
  }
  return out;
}

namespace {
// GELU and its derivative at v, from one evaluation of erf (or tanh) shared by both.
template <class T>
inline void gelu_value_slope(T v, GeluApprox approx, T& y, T& dy) {
  if (approx == GeluApprox::tanh) {
    vmath::gelu_tanh_value_slope(v, y, dy);
  } else {
    // d/dx x Phi(x) = Phi(x) + x phi(x), with Phi and phi from one exp.
    T cdf, pdf;
    vmath::normal_cdf_pdf(v, cdf, pdf);
    y = v * cdf;
    dy = cdf + v * pdf;
  }
}

// The slope as stored (detail::gelu_slope_dtype): itself, or rounded to bf16.
template <class S, class T>
inline S store_slope(T v) {
  if constexpr (std::is_same_v<S, uint16_t>)
    return f32_to_bf16(v);
  else
    return v;
}

// y = gelu(x), dy = gelu'(x) over contiguous buffers; x may be y (the GEMM epilogue works in place), dy overlaps
// neither. The compiler's run-time overlap check admits x == y, so the loop still vectorises (an exact-GELU
// 96 x 256 block in place: 16.9 us with this loop and with a separate in-place one). The f32 tanh form is
// kernels::gelu_tanh.
template <class T, class S, GeluApprox A>
void gelu_with_slope_range(const T* x, T* y, S* dy, int64_t n) {
  if constexpr (std::is_same_v<T, float> && A == GeluApprox::tanh) {
    kernels::gelu_tanh(x, y, dy, n);
    return;
  }
  for (int64_t i = 0; i < n; ++i) {
    T yv, dv;
    gelu_value_slope(x[i], A, yv, dv);
    y[i] = yv;
    dy[i] = store_slope<S>(dv);
  }
}

template <class T, class S>
void gelu_with_slope(const T* x, T* y, S* dy, int64_t n, GeluApprox approx) {
  parallel_for(n, int64_t{1} << 15, [x, y, dy, approx](int64_t b, int64_t e) {
    if (approx == GeluApprox::tanh)
      gelu_with_slope_range<T, S, GeluApprox::tanh>(x + b, y + b, dy + b, e - b);
    else
      gelu_with_slope_range<T, S, GeluApprox::none>(x + b, y + b, dy + b, e - b);
  });
}
}  // namespace

namespace detail {

DType gelu_slope_dtype(DType x) {
  return x == DType::f32 && effective_matmul_precision() == MatmulPrecision::bf16 ? DType::bf16 : x;
}

namespace {

// One row in place: x -> gelu(x), with the slope into dy when dy is given.
template <class T, class S, GeluApprox A>
void gelu_row_inplace(T* y, S* __restrict dy, int64_t n) {
  if (dy || (std::is_same_v<T, float> && A == GeluApprox::tanh)) return gelu_with_slope_range<T, S, A>(y, y, dy, n);
  for (int64_t i = 0; i < n; ++i) {
    T yv, dv;
    gelu_value_slope(y[i], A, yv, dv);  // the same values as the training path (dv: dead code, dropped)
    y[i] = yv;
  }
}
}  // namespace

template <class T, class S>
void gelu_rows_inplace(T* y, int64_t ldy, S* dy, int64_t lddy, int64_t rows, int64_t cols, GeluApprox approx) {
  for (int64_t r = 0; r < rows; ++r) {
    S* d = dy ? dy + r * lddy : nullptr;
    if (approx == GeluApprox::tanh)
      gelu_row_inplace<T, S, GeluApprox::tanh>(y + r * ldy, d, cols);
    else
      gelu_row_inplace<T, S, GeluApprox::none>(y + r * ldy, d, cols);
  }
}
template void gelu_rows_inplace<float, float>(float*, int64_t, float*, int64_t, int64_t, int64_t, GeluApprox);
template void gelu_rows_inplace<float, uint16_t>(float*, int64_t, uint16_t*, int64_t, int64_t, int64_t, GeluApprox);
template void gelu_rows_inplace<double, double>(double*, int64_t, double*, int64_t, int64_t, int64_t, GeluApprox);

Tensor times_slope(const Tensor& g, const Tensor& slope) {
  if (slope.dtype() == DType::bf16) {
    // bf16 slope (gelu_slope_dtype): a fresh f32 product; g may be any layout.
    const Tensor gc = g.is_contiguous() ? g : g.contiguous_copy();
    Tensor out = Tensor::empty(g.shape(), DType::f32);
    const float* pg = gc.data<float>();
    const uint16_t* ps = static_cast<const uint16_t*>(slope.raw_data());
    float* po = out.data<float>();
    parallel_for(out.numel(), kernels::kGrain, [pg, ps, po](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) po[i] = bf16_to_f32(ps[i]) * pg[i];
    });
    return out;
  }
  if (!g.is_contiguous()) return map2(g, slope, "gelu", [](auto gv, auto d) { return gv * d; });
  XF_DISPATCH_FLOAT(g.dtype(), "gelu", [&] {
    const scalar_t* pg = g.data<scalar_t>();
    scalar_t* ps = slope.data<scalar_t>();
    parallel_for(slope.numel(), kernels::kGrain, [pg, ps](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) ps[i] *= pg[i];
    });
  });
  return slope;
}

}  // namespace detail

Tensor gelu(const Tensor& x, GeluApprox approx) {
  check_float(x, "gelu");
  if (needs_grad(x)) {
    // Training: the forward pass also stores gelu'(x), so the backward is one multiply instead of a second
    // evaluation of erf/exp (the same formulas, so the gradient is unchanged).
    const Tensor xc = x.is_contiguous() ? x.detach() : x.contiguous_copy();
    Tensor out = Tensor::empty(x.shape(), x.dtype());
    Tensor slope = Tensor::empty(x.shape(), detail::gelu_slope_dtype(x.dtype()));
    if (out.numel() > 0) {
      if (slope.dtype() == DType::bf16) {
        gelu_with_slope(xc.data<float>(), out.data<float>(), static_cast<uint16_t*>(slope.raw_data()), x.numel(),
                        approx);
      } else {
        XF_DISPATCH_FLOAT(x.dtype(), "gelu", [&] {
          gelu_with_slope(xc.data<scalar_t>(), out.data<scalar_t>(), slope.data<scalar_t>(), x.numel(), approx);
        });
      }
    }
    // The graph is single-use (autograd.h), so the closure owns `slope` alone and runs once: the product
    // g * slope overwrites it in place. That spares a fresh output buffer, whose first write would read each
    // cache line in from memory before writing it (the training step's largest elementwise tensor).
    record("gelu", out, {&x}, [slope](const Tensor& g, GradSlots& gs) { gs.g[0] = detail::times_slope(g, slope); });
    return out;
  }
  if (approx == GeluApprox::tanh) {
    if (x.dtype() != DType::f32) return map1(x, "gelu", [](auto v) { return vmath::gelu_tanh(v); });
    // f32: kernels::gelu_tanh, the training path's values.
    const Tensor xc = x.is_contiguous() ? x : x.contiguous_copy();
    Tensor out = Tensor::empty(x.shape(), DType::f32);
    const float* px = xc.data<float>();
    float* po = out.data<float>();
    parallel_for(out.numel(), int64_t{1} << 15,
                 [px, po](int64_t b, int64_t e) { kernels::gelu_tanh(px + b, po + b, static_cast<float*>(nullptr), e - b); });
    return out;
  }
  return map1(x, "gelu", [](auto v) {
    decltype(v) cdf, pdf;
    vmath::normal_cdf_pdf(v, cdf, pdf);  // the same values as the training path (pdf: dead code, dropped)
    return v * cdf;
  });
}

Tensor silu(const Tensor& x) {
  check_float(x, "silu");
  Tensor out = map1(x, "silu", [](auto v) { return v / (decltype(v)(1) + vmath::exp(-v)); });
  if (needs_grad(x)) {
    // d/dx x s(x) = s (1 + x (1 - s))
    record("silu", out, {&x}, [kx = x.detach()](const Tensor& g, GradSlots& gs) {
      gs.g[0] = map2(g, kx, "silu", [](auto gv, auto v) {
        using T = decltype(v);
        const T s = sigmoid_of(v);
        return gv * s * (T(1) + v * (T(1) - s));
      });
    });
  }
  return out;
}

Tensor sigmoid(const Tensor& x) {
  check_float(x, "sigmoid");
  Tensor out = map1(x, "sigmoid", [](auto v) { return sigmoid_of(v); });
  if (needs_grad(x)) {
    record("sigmoid", out, {&x}, [ko = out.detach()](const Tensor& g, GradSlots& gs) {
      gs.g[0] = map2(g, ko, "sigmoid", [](auto gv, auto o) { return gv * o * (decltype(o)(1) - o); });
    });
  }
  return out;
}

Tensor tanh(const Tensor& x) {
  check_float(x, "tanh");
  Tensor out = map1(x, "tanh", [](auto v) { return vmath::tanh(v); });
  if (needs_grad(x)) {
    record("tanh", out, {&x}, [ko = out.detach()](const Tensor& g, GradSlots& gs) {
      gs.g[0] = map2(g, ko, "tanh", [](auto gv, auto o) { return gv * (decltype(o)(1) - o * o); });
    });
  }
  return out;
}

Tensor softplus(const Tensor& x, double beta, double threshold) {
  check_float(x, "softplus");
  Tensor out = map1(x, "softplus", [beta, threshold](auto v) {
    using T = decltype(v);
    const T bx = v * static_cast<T>(beta);
    return bx > static_cast<T>(threshold) ? v : std::log1p(vmath::exp(bx)) / static_cast<T>(beta);
  });
  if (needs_grad(x)) {
    record("softplus", out, {&x}, [kx = x.detach(), beta, threshold](const Tensor& g, GradSlots& gs) {
      gs.g[0] = map2(g, kx, "softplus", [beta, threshold](auto gv, auto v) {
        using T = decltype(v);
        const T bx = v * static_cast<T>(beta);
        if (bx > static_cast<T>(threshold)) return gv;
        const T z = vmath::exp(bx);
        return gv * z / (z + T(1));
      });
    });
  }
  return out;
}

}  // namespace xfmr
