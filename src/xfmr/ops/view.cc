#include "xfmr/ops/view.h"

#include <algorithm>

#include "xfmr/core/autograd.h"
#include "xfmr/core/strided.h"

namespace xfmr {

namespace {
// Infers a -1 extent and checks the element count.
Shape infer_shape(const Shape& shape, int64_t numel, const char* op, const Shape& from) {
  Shape out = shape;
  int infer = -1;
  int64_t known = 1;
  for (int i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      XF_CHECK(infer < 0, op, ": more than one -1 in shape ", shape.str());
      infer = i;
    } else {
      XF_CHECK(out[i] >= 0, op, ": negative extent in shape ", shape.str());
      known *= out[i];
    }
  }
  if (infer >= 0) {
    XF_CHECK(known != 0 && numel % known == 0, op, ": cannot reshape ", from.str(), " into ", shape.str());
    out[infer] = numel / known;
  }
  XF_CHECK(out.numel() == numel, op, ": cannot reshape ", from.str(), " (", numel, " elements) into ", shape.str());
  return out;
}

// Strides for viewing x as `shape` without a copy, if possible (merging/splitting only contiguous runs).
bool view_strides(const Tensor& x, const Shape& shape, Strides& out) {
  if (x.is_contiguous()) {
    out = contiguous_strides(shape);
    return true;
  }
  // General case (as in PyTorch's computeStride): walk chunks of x's dims that are contiguous among themselves.
  const Shape& os = x.shape();
  const Strides& ost = x.strides();
  out = Strides();
  for (int i = 0; i < shape.size(); ++i) out.push_back(0);
  if (x.numel() == 0) {
    out = contiguous_strides(shape);
    return true;
  }
  int view_d = shape.size() - 1;
  int64_t chunk_base_stride = ost.size() ? ost.back() : 1;
  int64_t tensor_numel = 1, view_numel = 1;
  for (int d = os.size() - 1; d >= 0; --d) {
    tensor_numel *= os[d];
    if (d == 0 || (os[d - 1] != 1 && ost[d - 1] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 && (view_numel < tensor_numel || shape[view_d] == 1)) {
        out[view_d] = view_numel * chunk_base_stride;
        view_numel *= shape[view_d];
        view_d--;
      }
      if (view_numel != tensor_numel) return false;
      if (d > 0) {
        chunk_base_stride = ost[d - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  return view_d == -1;
}

Tensor view_impl(const Tensor& x, const Shape& shape, const char* op) {
  Strides st;
  XF_CHECK(view_strides(x, shape, st), op, ": cannot view ", x.shape().str(), " with strides ", x.strides().str(),
           " as ", shape.str(), " without a copy; use reshape");
  Tensor out = x.as_strided(shape, st, x.offset());
  if (needs_grad(x)) {
    record(op, out, {&x}, [in_shape = x.shape()](const Tensor& g, GradSlots& gs) { gs.g[0] = reshape(g, in_shape); });
  }
  return out;
}
}  // namespace

Tensor view(const Tensor& x, const Shape& shape) {
  check_defined(x, "view");
  return view_impl(x, infer_shape(shape, x.numel(), "view", x.shape()), "view");
}

Tensor reshape(const Tensor& x, const Shape& shape) {
  check_defined(x, "reshape");
  const Shape s = infer_shape(shape, x.numel(), "reshape", x.shape());
  Strides st;
  if (view_strides(x, s, st)) return view_impl(x, s, "reshape");
  return view_impl(contiguous(x), s, "reshape");
}

Tensor flatten(const Tensor& x, int start_dim, int end_dim) {
  check_defined(x, "flatten");
  if (x.dim() == 0) return reshape(x, Shape{1});
  const int s = wrap_dim(start_dim, x.dim(), "flatten"), e = wrap_dim(end_dim, x.dim(), "flatten");
  XF_CHECK(s <= e, "flatten: start_dim ", start_dim, " after end_dim ", end_dim);
  Shape out;
  for (int i = 0; i < s; ++i) out.push_back(x.size(i));
  int64_t m = 1;
  for (int i = s; i <= e; ++i) m *= x.size(i);
  out.push_back(m);
  for (int i = e + 1; i < x.dim(); ++i) out.push_back(x.size(i));
  return reshape(x, out);
}

Tensor permute(const Tensor& x, const Shape& dims) {
  check_defined(x, "permute");
  XF_CHECK(dims.size() == x.dim(), "permute: ", dims.size(), " dims given for a tensor of rank ", x.dim());
  Shape shape, strides, inverse = dims;
  bool seen[kMaxRank] = {};
  for (int i = 0; i < dims.size(); ++i) {
    const int d = wrap_dim(static_cast<int>(dims[i]), x.dim(), "permute");
    XF_CHECK(!seen[d], "permute: dimension ", d, " repeated in ", dims.str());
    seen[d] = true;
    shape.push_back(x.size(d));
    strides.push_back(x.stride(d));
    inverse[d] = i;
  }
  Tensor out = x.as_strided(shape, strides, x.offset());
  if (needs_grad(x)) {
    record("permute", out, {&x}, [inverse](const Tensor& g, GradSlots& gs) { gs.g[0] = permute(g, inverse); });
  }
  return out;
}

Tensor transpose(const Tensor& x, int dim0, int dim1) {
  check_defined(x, "transpose");
  Shape dims;
  for (int i = 0; i < x.dim(); ++i) dims.push_back(i);
  const int a = wrap_dim(dim0, x.dim(), "transpose"), b = wrap_dim(dim1, x.dim(), "transpose");
  std::swap(dims[a], dims[b]);
  return permute(x, dims);
}

Tensor slice(const Tensor& x, int dim, int64_t start, int64_t end, int64_t step) {
  check_defined(x, "slice");
  const int d = wrap_dim(dim, x.dim(), "slice");
  XF_CHECK(step > 0, "slice: step must be positive, got ", step);
  const int64_t n = x.size(d);
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::clamp<int64_t>(start, 0, n);
  end = std::clamp<int64_t>(end, start, n);
  Shape shape = x.shape();
  Strides strides = x.strides();
  shape[d] = (end - start + step - 1) / step;
  strides[d] = x.stride(d) * step;
  Tensor out = x.as_strided(shape, strides, x.offset() + start * x.stride(d));
  if (needs_grad(x)) {
    record("slice", out, {&x}, [in_shape = x.shape(), dt = x.dtype(), d, start, end, step](const Tensor& g, GradSlots& gs) {
      Tensor gx = Tensor::zeros(in_shape, dt);
      Tensor window = gx.as_strided(g.shape(), [&] {
        Strides s = gx.strides();
        s[d] *= step;
        return s;
      }(), start * gx.stride(d));
      window.copy_(g);
      (void)end;
      gs.g[0] = gx;
    });
  }
  return out;
}

Tensor select(const Tensor& x, int dim, int64_t index) {
  check_defined(x, "select");
  const int d = wrap_dim(dim, x.dim(), "select");
  XF_CHECK(index >= -x.size(d) && index < x.size(d), "select: index ", index, " out of range for dimension ", d,
           " of size ", x.size(d), " in shape ", x.shape().str());
  if (index < 0) index += x.size(d);
  return squeeze(slice(x, d, index, index + 1), d);
}

Tensor expand(const Tensor& x, const Shape& shape) {
  check_defined(x, "expand");
  XF_CHECK(shape.size() >= x.dim(), "expand: cannot expand ", x.shape().str(), " to fewer dimensions ", shape.str());
  Shape target = shape;
  const int lead = shape.size() - x.dim();
  for (int i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      XF_CHECK(i >= lead, "expand: -1 not allowed for a new leading dimension in ", shape.str());
      target[i] = x.size(i - lead);
    }
  }
  const Strides st = broadcast_strides(x, target);
  Tensor out = x.as_strided(target, st, x.offset());
  if (needs_grad(x)) {
    record("expand", out, {&x}, [in_shape = x.shape()](const Tensor& g, GradSlots& gs) { gs.g[0] = sum_to(g, in_shape); });
  }
  return out;
}

Tensor squeeze(const Tensor& x, int dim) {
  check_defined(x, "squeeze");
  const int d = wrap_dim(dim, x.dim(), "squeeze");
  if (x.dim() == 0 || x.size(d) != 1) return x;
  Shape s = x.shape();
  s.erase(d);
  return reshape(x, s);
}

Tensor unsqueeze(const Tensor& x, int dim) {
  check_defined(x, "unsqueeze");
  const int d = wrap_dim(dim, x.dim() + 1, "unsqueeze");
  Shape s = x.shape();
  s.insert(d, 1);
  return reshape(x, s);
}

Tensor contiguous(const Tensor& x) {
  check_defined(x, "contiguous");
  if (x.is_contiguous()) return x;
  Tensor out = x.contiguous_copy();
  if (needs_grad(x)) {
    record("contiguous", out, {&x}, [](const Tensor& g, GradSlots& gs) { gs.g[0] = g; });
  }
  return out;
}

Tensor to_dtype(const Tensor& x, DType dtype) {
  check_defined(x, "to_dtype");
  if (x.dtype() == dtype) return x;
  Tensor out = x.converted(dtype);
  if (needs_grad(x) && dtype_is_float(dtype)) {
    record("to_dtype", out, {&x}, [src = x.dtype()](const Tensor& g, GradSlots& gs) { gs.g[0] = g.converted(src); });
  }
  return out;
}

Tensor sum_to(const Tensor& g, const Shape& shape) {
  check_defined(g, "sum_to");
  if (g.shape() == shape) return g;
  Tensor out = Tensor::zeros(shape, g.dtype());
  // out is viewed as broadcast to g's shape; accumulating through stride-0 dims sums them.
  Tensor out_b = out.as_strided(g.shape(), broadcast_strides(out, g.shape()), 0);
  const Strides ost = out_b.strides();
  XF_DISPATCH_FLOAT(g.dtype(), "sum_to", [&] {
    scalar_t* o = out.data<scalar_t>();
    const scalar_t* s = g.data<scalar_t>();
    for_each_offset<2>(g.shape(), {ost, g.strides()}, {0, 0}, [&](int64_t oo, int64_t os) { o[oo] += s[os]; });
  });
  if (needs_grad(g)) {
    record("sum_to", out, {&g}, [gshape = g.shape()](const Tensor& gg, GradSlots& gs) { gs.g[0] = expand(gg, gshape).contiguous_copy(); });
  }
  return out;
}

}  // namespace xfmr
