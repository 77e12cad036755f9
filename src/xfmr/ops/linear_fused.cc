#include "xfmr/ops/linear_fused.h"

#include "xfmr/core/autograd.h"
#include "xfmr/kernels/cpu/gemm_blas.h"
#include "xfmr/ops/activation_impl.h"
#include "xfmr/ops/linear_impl.h"

namespace xfmr {

namespace {

// S: the slope's storage (T, or bf16 bits, detail::gelu_slope_dtype).
template <class T, class S = T>
struct GeluEpilogue {
  S* slope;  // [rows, out] or null (no gradient wanted)
  int64_t ld;
  GeluApprox approx;
  static void run(const void* ctx, void* c, int64_t ldc, int64_t row0, int64_t rows, int64_t col0, int64_t cols) {
    const auto& e = *static_cast<const GeluEpilogue*>(ctx);
    detail::gelu_rows_inplace<T, S>(static_cast<T*>(c), ldc, e.slope ? e.slope + row0 * e.ld + col0 : nullptr, e.ld,
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

// dx ∘ slope over a block of the hidden gradient (the product's order as in detail::times_slope: the same bits);
// S: the slope's storage (T, or bf16 bits, detail::gelu_slope_dtype).
template <class T, class S = T>
struct SlopeEpilogue {
  const S* slope;  // [rows, hidden]
  int64_t ld;
  static void run(const void* ctx, void* c, int64_t ldc, int64_t row0, int64_t rows, int64_t col0, int64_t cols) {
    const auto& e = *static_cast<const SlopeEpilogue*>(ctx);
    for (int64_t r = 0; r < rows; ++r) {
      T* __restrict out = static_cast<T*>(c) + r * ldc;
      const S* __restrict sl = e.slope + (row0 + r) * e.ld + col0;
      for (int64_t j = 0; j < cols; ++j) {
        if constexpr (std::is_same_v<S, uint16_t>)
          out[j] = bf16_to_f32(sl[j]) * out[j];
        else
          out[j] = sl[j] * out[j];
      }
    }
  }
};

// hidden = gelu(x·Wᵀ + b), with its slope into `slope` when that is defined, from the GELU epilogue.
detail::LinearSaved gelu_layer_forward(const detail::LinearOperands& o, const Tensor& hidden, const Tensor& slope,
                                       bool grad, bool weight_grad, GeluApprox approx) {
  detail::LinearSaved saved;
  if (slope.defined() && slope.dtype() == DType::bf16) {
    const GeluEpilogue<float, uint16_t> ctx{static_cast<uint16_t*>(slope.raw_data()), hidden.size(-1), approx};
    return detail::linear_forward_into(o, hidden, grad, weight_grad, {&GeluEpilogue<float, uint16_t>::run, &ctx});
  }
  XF_DISPATCH_FLOAT(hidden.dtype(), "linear_gelu", [&] {
    const GeluEpilogue<scalar_t> ctx{slope.defined() ? slope.data<scalar_t>() : nullptr, hidden.size(-1), approx};
    saved = detail::linear_forward_into(o, hidden, grad, weight_grad, {&GeluEpilogue<scalar_t>::run, &ctx});
  });
  return saved;
}

// out = residual + x·Wᵀ + b from the residual epilogue; residual checked against o.out_shape as `op`.
detail::LinearSaved residual_layer_forward(const detail::LinearOperands& o, const Tensor& out, const Tensor& residual,
                                           bool grad, bool weight_grad, const char* op) {
  XF_CHECK(residual.shape() == o.out_shape, op, ": residual ", residual.shape().str(), " does not match the output ",
           o.out_shape.str(), " (weight ", o.wp.shape().str(), ")");
  const Tensor rc = residual.is_contiguous() ? residual.detach() : residual.contiguous_copy();
  detail::LinearSaved saved;
  XF_DISPATCH_FLOAT(out.dtype(), op, [&] {
    const ResidualEpilogue<scalar_t> ctx{rc.data<scalar_t>(), out.size(-1)};
    saved = detail::linear_forward_into(o, out, grad, weight_grad, {&ResidualEpilogue<scalar_t>::run, &ctx});
  });
  return saved;
}

}  // namespace

Tensor linear_gelu(const Tensor& x, const Tensor& weight, const Tensor& bias, GeluApprox approx) {
  const detail::LinearOperands o = detail::linear_operands(x, weight, bias, "linear_gelu");
  const bool grad = needs_grad(x, weight, bias);
  Tensor out = Tensor::empty(o.out_shape, x.dtype());
  Tensor slope = grad ? Tensor::empty(o.out_shape, detail::gelu_slope_dtype(x.dtype())) : Tensor();
  detail::LinearSaved saved = gelu_layer_forward(o, out, slope, grad, weight.requires_grad(), approx);
  if (grad) {
    record("linear_gelu", out, {&x, &weight, &bias}, [saved = std::move(saved), slope](const Tensor& g, GradSlots& gs) {
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
  const bool grad = needs_grad(x, weight, bias, residual);
  Tensor out = Tensor::empty(o.out_shape, x.dtype());
  detail::LinearSaved saved = residual_layer_forward(o, out, residual, grad, weight.requires_grad(), op);
  if (grad) {
    record(op, out, {&x, &weight, &bias, &residual}, [saved = std::move(saved)](const Tensor& g, GradSlots& gs) {
      detail::linear_backward(g, saved, gs);
      if (gs.needed[3]) gs.g[3] = g;  // d(residual) = g, as the unfused add passes it
    });
  }
  return out;
}

Tensor mlp_residual(const Tensor& x, const Tensor& fc_weight, const Tensor& fc_bias, const Tensor& proj_weight,
                    const Tensor& proj_bias, const Tensor& residual, GeluApprox approx) {
  constexpr const char* op = "mlp_residual";
  const detail::LinearOperands o1 = detail::linear_operands(x, fc_weight, fc_bias, op);
  check_same_dtype(x, residual, op);
  const bool grad = needs_grad(x, fc_weight, fc_bias, proj_weight, proj_bias, residual);
  Tensor hidden = Tensor::empty(o1.out_shape, x.dtype());
  Tensor slope = grad ? Tensor::empty(o1.out_shape, detail::gelu_slope_dtype(x.dtype())) : Tensor();
  detail::LinearSaved fc_saved = gelu_layer_forward(o1, hidden, slope, grad, fc_weight.requires_grad(), approx);
  const detail::LinearOperands o2 = detail::linear_operands(hidden, proj_weight, proj_bias, op);
  Tensor out = Tensor::empty(o2.out_shape, x.dtype());
  detail::LinearSaved proj_saved = residual_layer_forward(o2, out, residual, grad, proj_weight.requires_grad(), op);
  if (grad) {
    record(op, out, {&x, &fc_weight, &fc_bias, &proj_weight, &proj_bias, &residual},
           [fc_saved = std::move(fc_saved), proj_saved = std::move(proj_saved), slope](const Tensor& g,
                                                                                      GradSlots& gs) {
             // proj's dx is the gradient of the GELU output; the slope multiplies it (dL/d pre-activation) in
             // the epilogue of the GEMM that produces it, instead of in a pass of its own.
             GradSlots p;
             p.needed[0] = gs.needed[0] || gs.needed[1] || gs.needed[2];
             p.needed[1] = gs.needed[3];
             p.needed[2] = gs.needed[4];
             if (slope.dtype() == DType::bf16) {
               const SlopeEpilogue<float, uint16_t> ctx{static_cast<uint16_t*>(slope.raw_data()), slope.size(-1)};
               detail::linear_backward(g, proj_saved, p, {&SlopeEpilogue<float, uint16_t>::run, &ctx});
             } else {
               XF_DISPATCH_FLOAT(g.dtype(), "mlp_residual", [&] {
                 const SlopeEpilogue<scalar_t> ctx{slope.data<scalar_t>(), slope.size(-1)};
                 detail::linear_backward(g, proj_saved, p, {&SlopeEpilogue<scalar_t>::run, &ctx});
               });
             }
             gs.g[3] = p.g[1];
             gs.g[4] = p.g[2];
             if (gs.needed[5]) gs.g[5] = g;  // d(residual) = g, as the unfused add passes it
             if (!p.needed[0]) return;
             GradSlots f;
             for (int i = 0; i < 3; ++i) f.needed[i] = gs.needed[i];
             detail::linear_backward(p.g[0], fc_saved, f);
             for (int i = 0; i < 3; ++i) gs.g[i] = f.g[i];
           });
  }
  return out;
}

}  // namespace xfmr
