#include "xfmr/ops/matmul.h"

#include <algorithm>

#include "xfmr/core/autograd.h"
#include "xfmr/core/parallel.h"
#include "xfmr/kernels/cpu/gemm_blas.h"
#include "xfmr/ops/linear_impl.h"
#include "xfmr/ops/view.h"

namespace xfmr {

namespace {

Shape batch_of(const Tensor& t) { return Shape::from(t.shape().begin(), t.shape().end() - 2); }

// The broadcast of two batch shapes, or an Error naming matmul and the full input shapes.
Shape broadcast_batch(const Tensor& a, const Tensor& b) {
  const Shape ba = batch_of(a), bb = batch_of(b);
  const int r = std::max(ba.size(), bb.size());
  XF_CHECK(r + 2 <= kMaxRank, "matmul: result rank exceeds ", kMaxRank, " for shapes ", a.shape().str(), " and ",
           b.shape().str());
  Shape out;
  for (int i = 0; i < r; ++i) {
    const int ia = i - (r - ba.size()), ib = i - (r - bb.size());
    const int64_t da = ia < 0 ? 1 : ba[ia], db = ib < 0 ? 1 : bb[ib];
    XF_CHECK(da == db || da == 1 || db == 1, "matmul: batch dims of ", a.shape().str(), " and ", b.shape().str(),
             " do not broadcast (", da, " vs ", db, ")");
    out.push_back(da == 1 ? db : da);
  }
  return out;
}

// The gradient of an operand of shape `xs` whose product l·r was taken over the batch `out_batch`: a fresh
// tensor of shape xs, filled by GEMMs that sum over the batch dims xs was broadcast along (zero strides).
Tensor operand_grad(const Tensor& l, const Tensor& r, const Shape& xs, const Shape& out_batch) {
  const Strides cs = contiguous_strides(xs);
  Shape shape = out_batch;
  Strides st;
  bool reduces = false;
  const int lead = out_batch.size() - (xs.size() - 2);
  for (int i = 0; i < out_batch.size(); ++i) {
    const int j = i - lead;
    const bool bcast = j < 0 || xs[j] == 1;
    if (bcast && out_batch[i] > 1) reduces = true;
    st.push_back(bcast ? 0 : cs[j]);
  }
  shape.push_back(xs[xs.size() - 2]);
  shape.push_back(xs[xs.size() - 1]);
  st.push_back(cs[xs.size() - 2]);
  st.push_back(1);
  Tensor gx = reduces ? Tensor::zeros(xs, l.dtype()) : Tensor::empty(xs, l.dtype());
  gemm_into(l, r, gx.as_strided(shape, st, 0), reduces);
  return gx;
}

// Batched product of inputs of rank >= 2 with compatible K (checked by the caller).
Tensor matmul_nd(const Tensor& a, const Tensor& b) {
  const Shape batch = broadcast_batch(a, b);
  const Tensor ap = blas_ready(a), bp = blas_ready(b);
  Shape out_shape = batch;
  out_shape.push_back(a.size(-2));
  out_shape.push_back(b.size(-1));
  Tensor out = Tensor::empty(out_shape, a.dtype());
  gemm_into(ap, bp, out, false);
  if (needs_grad(a, b)) {
    record("matmul", out, {&a, &b}, [ap = ap.detach(), bp = bp.detach(), batch](const Tensor& g, GradSlots& gs) {
      const Tensor gr = blas_ready(g);
      // out = a·b  =>  da = g·bᵀ, db = aᵀ·g (summed over the batch dims each input was broadcast along).
      if (gs.needed[0]) gs.g[0] = operand_grad(gr, transposed_view(bp), ap.shape(), batch);
      if (gs.needed[1]) gs.g[1] = operand_grad(transposed_view(ap), gr, bp.shape(), batch);
    });
  }
  return out;
}

// True when every batch dim of t is 1 (t is one matrix, possibly with leading unit dims).
bool single_matrix(const Tensor& t) { return batch_of(t).numel() == 1; }

// x viewed as a [rows, cols] matrix (cols = last dim), without autograd; copies only when the leading dims
// cannot be merged into one row dimension. With row_major, the result also has unit column stride.
Tensor as_rows(const Tensor& x, bool row_major) {
  const int64_t cols = x.dim() == 0 ? 1 : x.size(-1);
  const int64_t sc = x.dim() == 0 ? 1 : x.stride(-1);
  const int64_t rows = cols == 0 ? x.numel() : x.numel() / cols;
  if (x.dim() == 2 && !row_major) return x;
  int64_t row_stride = -1, expect = -1;
  bool ok = true;
  for (int i = x.dim() - 2; i >= 0 && ok; --i) {
    if (x.size(i) == 1) continue;
    if (expect < 0) {
      row_stride = x.stride(i);
    } else {
      ok = x.stride(i) == expect;
    }
    expect = x.stride(i) * x.size(i);
  }
  if (row_stride < 0) row_stride = cols * sc;  // a single row: any stride will do
  if (row_major && cols > 1 && sc != 1) ok = false;
  if (ok) return x.as_strided({rows, cols}, {row_stride, sc}, x.offset());
  const Tensor c = x.contiguous_copy();
  return c.as_strided({rows, cols}, {cols, 1}, c.offset());
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  check_float(a, "matmul");
  check_same_dtype(a, b, "matmul");
  XF_CHECK(a.dim() >= 1 && b.dim() >= 1, "matmul: inputs must have rank >= 1, got shapes ", a.shape().str(), " and ",
           b.shape().str());
  const int64_t ka = a.size(-1), kb = b.dim() == 1 ? b.size(0) : b.size(-2);
  XF_CHECK(ka == kb, "matmul: shapes ", a.shape().str(), " and ", b.shape().str(), " are incompatible (", ka, " vs ",
           kb, ")");
  if (a.dim() == 1 && b.dim() == 1) return reshape(matmul_nd(unsqueeze(a, 0), unsqueeze(b, 1)), Shape{});
  if (b.dim() == 1) return squeeze(matmul(a, unsqueeze(b, 1)), -1);
  if (a.dim() == 1) return squeeze(matmul(unsqueeze(a, 0), b), -2);
  if (a.dim() > 2 && single_matrix(b)) {
    // One weight matrix for the whole batch: fold a's batch into M so the product is a single GEMM
    // (reshape copies only when a's leading dims cannot be merged).
    const Shape batch = broadcast_batch(a, b);
    Shape out_shape = batch;
    out_shape.push_back(a.size(-2));
    out_shape.push_back(b.size(-1));
    const Tensor b2 = b.dim() == 2 ? b : reshape(b, {b.size(-2), b.size(-1)});
    const int64_t rows = Shape::from(a.shape().begin(), a.shape().end() - 1).numel();
    return reshape(matmul_nd(reshape(a, {rows, ka}), b2), out_shape);
  }
  return matmul_nd(a, b);
}

namespace detail {

LinearOperands linear_operands(const Tensor& x, const Tensor& weight, const Tensor& bias, const char* op) {
  check_float(x, op);
  check_same_dtype(x, weight, op);
  XF_CHECK(x.dim() >= 1 && weight.dim() == 2, op, ": expected input [..., in] and weight [out, in], got ",
           x.shape().str(), " and ", weight.shape().str());
  const int64_t in = x.size(-1), out_f = weight.size(0);
  XF_CHECK(weight.size(1) == in, op, ": input ", x.shape().str(), " and weight ", weight.shape().str(),
           " are incompatible (in_features ", in, " vs ", weight.size(1), ")");
  LinearOperands o;
  if (bias.defined()) {
    check_same_dtype(x, bias, op);
    XF_CHECK(bias.dim() == 1 && bias.size(0) == out_f, op, ": bias ", bias.shape().str(), " does not match weight ",
             weight.shape().str(), " (expected [", out_f, "])");
    o.bias = bias.is_contiguous() ? bias : bias.contiguous_copy();
  }
  o.x2 = blas_ready(as_rows(x, false));  // [rows, in]
  o.wp = blas_ready(weight);             // [out, in]
  o.x_shape = x.shape();
  o.out_shape = x.shape();
  o.out_shape[o.out_shape.size() - 1] = out_f;
  return o;
}

LinearSaved linear_forward_into(const LinearOperands& o, const Tensor& out, bool grad, bool weight_grad,
                                kernels::GemmEpilogue epilogue) {
  const int64_t rows = o.x2.size(0), in = o.x2.size(1), out_f = o.wp.size(0);
  const Tensor out2 = out.as_strided({rows, out_f}, {out_f, 1}, 0);
  // In bf16 the weight gradient gᵀ·x reads x as its B operand, rounded to bf16 and packed in K pairs (rows of
  // x). It is packed here, by this product's GEMM while it has each block of x in cache, and kept instead of x:
  // in the backward x would come back from L3 or DRAM as f32 (twice the bytes) only to be converted (that
  // packing was 6% of the ICL-small bf16 step). The precision in effect now is the one the weight gradient gets.
  const bool pack_x = grad && weight_grad && o.x2.dtype() == DType::f32 && rows > 0 && in > 0 && out_f > 0 &&
                      effective_matmul_precision() == MatmulPrecision::bf16;
  // The bias goes into the GEMM's output as it is stored (bf16 kernel) or just before each row block's GEMM
  // (BLAS, beta = 1): no separate pass over the output.
  LinearSaved saved;
  if (pack_x)
    saved.x_packed = gemm_into_packing_a(o.x2, transposed_view(o.wp), out2, o.bias, epilogue);
  else
    gemm_into(o.x2, transposed_view(o.wp), out2, false, o.bias, Tensor(), epilogue);
  if (grad) {
    if (!pack_x) saved.x2 = o.x2.detach();
    saved.wp = o.wp.detach();
    saved.x_shape = o.x_shape;
  }
  return saved;
}

void linear_backward(const Tensor& g, const LinearSaved& s, GradSlots& gs, kernels::GemmEpilogue dx_epilogue) {
  const Tensor g2 = blas_ready(as_rows(g, true));  // [rows, out], row-major
  const int64_t R = g2.size(0), O = g2.size(1);
  const Tensor& wp = s.wp;
  if (gs.needed[0]) {  // dx = g·W
    Tensor gx = Tensor::empty(s.x_shape, g.dtype());
    gemm_into(g2, wp, gx.as_strided({R, wp.size(1)}, {wp.size(1), 1}, 0), false, Tensor(), Tensor(), dx_epilogue);
    gs.g[0] = gx;
  }
  // db = Σ_rows g. Beside dW it is summed inside dW's GEMM, from gᵀ while that is packed (one pass over
  // g less); each column is summed in row order either way, so the bits do not depend on which.
  Tensor gb;
  if (gs.needed[2]) gb = Tensor::zeros({O}, g.dtype());
  if (gs.needed[1]) {  // dW = gᵀ·x
    Tensor gw = Tensor::empty(wp.shape(), g.dtype());
    if (s.x_packed.defined())
      gemm_packed_b_into(transposed_view(g2), s.x_packed, gw, gb);
    else
      gemm_into(transposed_view(g2), s.x2, gw, false, Tensor(), gb);
    gs.g[1] = gw;
  } else if (gs.needed[2]) {  // parallel over column blocks (each column summed in row order)
    XF_DISPATCH_FLOAT(g.dtype(), "linear", [&] {
      const scalar_t* pg = g2.data<scalar_t>();
      scalar_t* pb = gb.data<scalar_t>();
      const int64_t ld = g2.stride(0);
      parallel_for(O, std::max<int64_t>(64, (1 << 16) / std::max<int64_t>(1, R)), [&](int64_t c0, int64_t c1) {
        for (int64_t r = 0; r < R; ++r) {
          const scalar_t* row = pg + r * ld;
          for (int64_t c = c0; c < c1; ++c) pb[c] += row[c];
        }
      });
    });
  }
  if (gs.needed[2]) gs.g[2] = gb;
}

}  // namespace detail

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  const detail::LinearOperands o = detail::linear_operands(x, weight, bias, "linear");
  Tensor out = Tensor::empty(o.out_shape, x.dtype());
  const bool grad = needs_grad(x, weight, bias);
  detail::LinearSaved saved = detail::linear_forward_into(o, out, grad, weight.requires_grad());
  if (grad) {
    record("linear", out, {&x, &weight, &bias},
           [saved = std::move(saved)](const Tensor& g, GradSlots& gs) { detail::linear_backward(g, saved, gs); });
  }
  return out;
}

}  // namespace xfmr
