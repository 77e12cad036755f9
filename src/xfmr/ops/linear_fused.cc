#include "xfmr/ops/linear_fused.h"

#include "xfmr/core/autograd.h"
#include "xfmr/kernels/cpu/gemm_blas.h"
#include "xfmr/ops/activation_impl.h"
#include "xfmr/ops/linear_impl.h"

namespace xfmr {

namespace {

template <class T>
struct GeluEpilogue {
  T* slope;  // [rows, out] or null (no gradient wanted)
  int64_t ld;
  GeluApprox approx;
  static void run(const void* ctx, void* c, int64_t ldc, int64_t row0, int64_t rows, int64_t col0, int64_t cols) {
    const auto& e = *static_cast<const GeluEpilogue*>(ctx);
    detail::gelu_rows_inplace<T>(static_cast<T*>(c), ldc, e.slope ? e.slope + row0 * e.ld + col0 : nullptr, e.ld,
                                 rows, cols, e.approx);
  }
};

template <class T>
struct ResidualEpilogue {
  const T* residual;  // [rows, out], contiguous
  int64_t ld;
  static void run(const void* ctx, void* c, int64_t ldc, int64_t row0, int64_t rows, int64_t col0, int64_t cols) {
    const auto& e = *static_cast<const ResidualEpilogue*>(ctx);
    for (int64_t r = 0; r < rows; ++r) {
      T* __restrict out = static_cast<T*>(c) + r * ldc;
      const T* __restrict res = e.residual + (row0 + r) * e.ld + col0;
      for (int64_t j = 0; j < cols; ++j) out[j] += res[j];  // y + r: the bits of the unfused r + y
    }
  }
};

}  // namespace

Tensor linear_gelu(const Tensor& x, const Tensor& weight, const Tensor& bias, GeluApprox approx) {
  constexpr const char* op = "linear_gelu";
  const detail::LinearOperands o = detail::linear_operands(x, weight, bias, op);
  const bool grad = needs_grad(x, weight, bias);
  const int64_t out_f = weight.size(0);
  Tensor out = Tensor::empty(o.out_shape, x.dtype());
  Tensor slope = grad ? Tensor::empty(o.out_shape, x.dtype()) : Tensor();
  detail::LinearSaved saved;
  XF_DISPATCH_FLOAT(x.dtype(), op, [&] {
    const GeluEpilogue<scalar_t> ctx{grad ? slope.data<scalar_t>() : nullptr, out_f, approx};
    saved = detail::linear_forward_into(o, out, grad, weight.requires_grad(), {&GeluEpilogue<scalar_t>::run, &ctx});
  });
  if (grad) {
    record(op, out, {&x, &weight, &bias}, [saved = std::move(saved), slope](const Tensor& g, GradSlots& gs) {
      // dL/d(pre-activation) = g ∘ gelu', over the closure's own slope buffer as in gelu()'s backward.
      detail::linear_backward(detail::times_slope(g, slope), saved, gs);
    });
  }
  return out;
}

Tensor linear_residual(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& residual) {
  constexpr const char* op = "linear_residual";
  const detail::LinearOperands o = detail::linear_operands(x, weight, bias, op);
  check_same_dtype(x, residual, op);
  XF_CHECK(residual.shape() == o.out_shape, op, ": residual ", residual.shape().str(), " does not match the output ",
           o.out_shape.str(), " of input ", x.shape().str(), " and weight ", weight.shape().str());
  const Tensor rc = residual.is_contiguous() ? residual.detach() : residual.contiguous_copy();
  const int64_t out_f = weight.size(0);
  Tensor out = Tensor::empty(o.out_shape, x.dtype());
  const bool grad = needs_grad(x, weight, bias, residual);
  detail::LinearSaved saved;
  XF_DISPATCH_FLOAT(x.dtype(), op, [&] {
    const ResidualEpilogue<scalar_t> ctx{rc.data<scalar_t>(), out_f};
    saved = detail::linear_forward_into(o, out, grad, weight.requires_grad(), {&ResidualEpilogue<scalar_t>::run, &ctx});
  });
  if (grad) {
    record(op, out, {&x, &weight, &bias, &residual}, [saved = std::move(saved)](const Tensor& g, GradSlots& gs) {
      detail::linear_backward(g, saved, gs);
      if (gs.needed[3]) gs.g[3] = g;  // d(residual) = g, as the unfused add passes it
    });
  }
  return out;
}

}  // namespace xfmr
