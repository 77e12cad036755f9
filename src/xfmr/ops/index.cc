#include "xfmr/ops/index.h"

#include <algorithm>
#include <cstring>

#include "xfmr/core/autograd.h"
#include "xfmr/core/parallel.h"
#include "xfmr/core/strided.h"
#include "xfmr/ops/view.h"

namespace xfmr {

namespace {

// Work below about this many bytes (or elements) stays on the calling thread: a parallel region costs a few
// µs.
constexpr int64_t kGrain = 1 << 15;

// Calls f.template operator()<I>() with I = the C++ type of an integer index dtype.
template <class F>
decltype(auto) dispatch_index(DType dt, F&& f) {
  if (dt == DType::i64) return f.template operator()<int64_t>();
  return f.template operator()<int32_t>();
}

// Calls f.template operator()<E>() with E = an unsigned type of the element's width: the ops here only move
// elements, so one instantiation per width serves every dtype.
template <class F>
decltype(auto) dispatch_bits(DType dt, F&& f) {
  switch (dtype_size(dt)) {
    case 2:
      return f.template operator()<uint16_t>();
    case 4:
      return f.template operator()<uint32_t>();
    default:
      return f.template operator()<uint64_t>();
  }
}

// Product of the extents before / after `dim` (the tensor seen as [outer, n, inner]).
int64_t outer_size(const Shape& s, int dim) {
  int64_t p = 1;
  for (int i = 0; i < dim; ++i) p *= s[i];
  return p;
}
int64_t inner_size(const Shape& s, int dim) {
  int64_t p = 1;
  for (int i = dim + 1; i < s.size(); ++i) p *= s[i];
  return p;
}

void check_index_tensor(const Tensor& x, const Tensor& index, const char* op) {
  check_defined(x, op);
  check_defined(index, op);
  XF_CHECK(dtype_is_int(index.dtype()), op, ": index must be i64 or i32, got ", dtype_name(index.dtype()),
           " (input shape ", x.shape().str(), ", index shape ", index.shape().str(), ")");
  XF_CHECK(x.dim() >= 1, op, ": input must have at least one dimension, got a scalar (index shape ",
           index.shape().str(), ")");
}

// Every index in [0, bound), else an Error naming the offending value and the bound. Runs before the kernels
// so that no exception has to leave an OpenMP region.
template <class I>
void check_index_range(const I* p, int64_t n, int64_t bound, const char* op, int dim, const Tensor& x,
                       const Tensor& index) {
  for (int64_t i = 0; i < n; ++i) {
    if (p[i] < 0 || p[i] >= bound) [[unlikely]]
      throw Error(detail::concat(op, ": index ", static_cast<int64_t>(p[i]), " out of range [0, ", bound,
                                 ") for dimension ", dim, " of input shape ", x.shape().str(),
                                 " (index shape ", index.shape().str(), ")"));
  }
}

// ---------------------------------------------------------------------------------------------------------------
// concat / stack

// Input i seen with the output's rank: itself for concat, a raw view with a size-1 dim inserted for stack.
Tensor as_part(const Tensor& x, int dim, bool unsqueeze) {
  if (!unsqueeze) return x;
  Shape s = x.shape();
  Strides st = x.strides();
  s.insert(dim, 1);
  st.insert(dim, 1);
  return x.as_strided(s, st, x.offset());
}

// Copies each input into consecutive windows of `out` (contiguous) along dim.
void concat_copy(const Tensor& out, const std::vector<Tensor>& xs, int dim, bool unsqueeze) {
  const Shape& s = out.shape();
  const int64_t outer = outer_size(s, dim), inner = inner_size(s, dim), total = s[dim];
  const int64_t es = static_cast<int64_t>(dtype_size(out.dtype()));
  char* o = static_cast<char*>(out.raw_data());
  int64_t start = 0;
  for (const Tensor& x : xs) {
    const int64_t len = unsqueeze ? 1 : x.size(dim);
    if (x.numel() == 0) {
      start += len;
      continue;
    }
    if (x.is_contiguous()) {
      // Row r of the input (len*inner elements) lands in row r of out at column `start`.
      const char* src = static_cast<const char*>(x.raw_data());
      const int64_t row = len * inner * es, out_row = total * inner * es, col = start * inner * es;
      parallel_for(outer, std::max<int64_t>(1, kGrain / row), [&](int64_t b, int64_t e) {
        for (int64_t r = b; r < e; ++r)
          std::memcpy(o + r * out_row + col, src + r * row, static_cast<size_t>(row));
      });
    } else {
      Shape ws = s;
      ws[dim] = len;
      out.as_strided(ws, out.strides(), out.offset() + start * out.stride(dim))
          .copy_(as_part(x, dim, unsqueeze));
    }
    start += len;
  }
}

// Records the backward of a concat: `node_out` is the window [span_start, span_start + node_out.size(dim)) of
// the output along dim, and members[k] occupies [starts[k], starts[k] + lens[k]). With `squeeze` (stack) each
// member lacks the dim, so its gradient slice drops it. A node holds at most kMaxNodeInputs edges, so larger
// member lists become a tree: each group of members gets a node whose output is a view of the same output
// window, and the parent node routes gradient slices to the groups. No data is copied either way.
void record_concat(const char* op, Tensor& node_out, int64_t span_start, const Tensor* const* members,
                   const int64_t* starts, const int64_t* lens, int n, int dim, bool squeeze) {
  if (n > kMaxNodeInputs) {
    const int per = (n + kMaxNodeInputs - 1) / kMaxNodeInputs;
    Tensor groups[kMaxNodeInputs];
    const Tensor* gptr[kMaxNodeInputs];
    int64_t gstart[kMaxNodeInputs], glen[kMaxNodeInputs];
    int ng = 0;
    for (int b = 0; b < n; b += per, ++ng) {
      const int e = std::min(n, b + per);
      gstart[ng] = starts[b];
      glen[ng] = starts[e - 1] + lens[e - 1] - starts[b];
      Shape gs = node_out.shape();
      gs[dim] = glen[ng];
      groups[ng] = node_out.as_strided(gs, node_out.strides(),
                                       node_out.offset() + (gstart[ng] - span_start) * node_out.stride(dim));
      record_concat(op, groups[ng], gstart[ng], members + b, starts + b, lens + b, e - b, dim, squeeze);
      gptr[ng] = &groups[ng];
    }
    record_concat(op, node_out, span_start, gptr, gstart, glen, ng, dim, false);
    return;
  }
  // Where each member's gradient lies in the node's output window (fixed arrays: no heap in the closure).
  struct Windows {
    int64_t rel[kMaxNodeInputs] = {}, len[kMaxNodeInputs] = {};
    int n = 0, dim = 0;
    bool squeeze = false;
  } w;
  static const Tensor kNone;  // padding: undefined inputs get no edge
  const Tensor* in[kMaxNodeInputs];
  for (int k = 0; k < kMaxNodeInputs; ++k) {
    in[k] = k < n ? members[k] : &kNone;
    if (k < n) {
      w.rel[k] = starts[k] - span_start;
      w.len[k] = lens[k];
    }
  }
  w.n = n;
  w.dim = dim;
  w.squeeze = squeeze;
  record(op, node_out, {in[0], in[1], in[2], in[3], in[4], in[5], in[6], in[7]},
         [w](const Tensor& g, GradSlots& gs) {
           for (int k = 0; k < w.n; ++k) {
             if (!gs.needed[k]) continue;
             Shape s = g.shape();
             Strides st = g.strides();
             s[w.dim] = w.len[k];
             const int64_t off = g.offset() + w.rel[k] * g.stride(w.dim);
             if (w.squeeze) {
               s.erase(w.dim);
               st.erase(w.dim);
             }
             gs.g[k] = g.as_strided(s, st, off);  // a view of the upstream gradient: no copy
           }
         });
}

// Shared by concat and stack (`unsqueeze`: each input gets a size-1 dim inserted at dim). Inputs are checked.
Tensor concat_impl(const std::vector<Tensor>& xs, int dim, const char* op, bool unsqueeze) {
  Shape out_shape = xs[0].shape();
  if (unsqueeze) {
    out_shape.insert(dim, static_cast<int64_t>(xs.size()));
  } else {
    int64_t total = 0;
    for (const Tensor& x : xs) total += x.size(dim);
    out_shape[dim] = total;
  }
  Tensor out = Tensor::empty(out_shape, xs[0].dtype());
  concat_copy(out, xs, dim, unsqueeze);

  bool any = false;
  for (const Tensor& x : xs) any = any || x.requires_grad();
  if (!any || !grad_enabled()) return out;
  // The differentiable inputs and their windows along dim; on the stack for the usual small lists.
  constexpr size_t kLocal = 64;
  const size_t cap = xs.size();
  const Tensor* mloc[kLocal];
  int64_t sloc[kLocal], lloc[kLocal];
  std::vector<const Tensor*> mheap;
  std::vector<int64_t> sheap, lheap;
  if (cap > kLocal) {
    mheap.resize(cap);
    sheap.resize(cap);
    lheap.resize(cap);
  }
  const Tensor** members = cap > kLocal ? mheap.data() : mloc;
  int64_t* starts = cap > kLocal ? sheap.data() : sloc;
  int64_t* lens = cap > kLocal ? lheap.data() : lloc;
  int n = 0;
  int64_t start = 0;
  for (const Tensor& x : xs) {
    const int64_t len = unsqueeze ? 1 : x.size(dim);
    if (x.requires_grad()) {
      members[n] = &x;
      starts[n] = start;
      lens[n] = len;
      ++n;
    }
    start += len;
  }
  record_concat(op, out, 0, members, starts, lens, n, dim, unsqueeze);
  return out;
}

void check_join_inputs(const std::vector<Tensor>& xs, const char* op) {
  XF_CHECK(!xs.empty(), op, ": expected at least one tensor, got an empty list");
  for (size_t i = 0; i < xs.size(); ++i) {
    XF_CHECK(xs[i].defined(), op, ": input ", i, " is an undefined tensor");
    XF_CHECK(xs[i].dtype() == xs[0].dtype(), op, ": input ", i, " has dtype ", dtype_name(xs[i].dtype()), " ",
             xs[i].shape().str(), " but input 0 has dtype ", dtype_name(xs[0].dtype()), " ",
             xs[0].shape().str());
  }
}

// ---------------------------------------------------------------------------------------------------------------
// gather

// out[n] = x[x_off(n) + index[n] * step] over the index's shape, split across threads along dimension 0.
template <class E, class I>
void gather_kernel(E* out, const Strides& ost, const E* x, const Strides& xst, int64_t step, const I* idx,
                   const Strides& ist, const Shape& shape) {
  const int64_t rows = shape[0], per_row = shape.numel() / std::max<int64_t>(1, rows);
  parallel_for(rows, std::max<int64_t>(1, kGrain / std::max<int64_t>(1, per_row)), [&](int64_t b, int64_t e) {
    Shape sub = shape;
    sub[0] = e - b;
    for_each_offset<3>(
        sub, {ost, xst, ist}, {b * ost[0], b * xst[0], b * ist[0]},
        [&](int64_t oo, int64_t xo, int64_t io) { out[oo] = x[xo + static_cast<int64_t>(idx[io]) * step]; });
  });
}

// gx[gx_off(n) + index[n] * step] += g[n]. Rows along dimension 0 write disjoint parts of gx unless the
// gathered dimension is 0 itself, so only then does the loop stay on one thread.
template <class T, class I>
void scatter_add_kernel(T* gx, const Strides& gxst, int64_t step, const T* g, const Strides& gst,
                        const I* idx, const Strides& ist, const Shape& shape, bool parallel_rows) {
  const int64_t rows = shape[0], per_row = shape.numel() / std::max<int64_t>(1, rows);
  auto body = [&](int64_t b, int64_t e) {
    Shape sub = shape;
    sub[0] = e - b;
    for_each_offset<3>(
        sub, {gxst, gst, ist}, {b * gxst[0], b * gst[0], b * ist[0]},
        [&](int64_t xo, int64_t go, int64_t io) { gx[xo + static_cast<int64_t>(idx[io]) * step] += g[go]; });
  };
  if (parallel_rows)
    parallel_for(rows, std::max<int64_t>(1, kGrain / std::max<int64_t>(1, per_row)), body);
  else
    body(0, rows);
}

// ---------------------------------------------------------------------------------------------------------------
// index_select backward: gx[o, index[j], :] += g[o, j, :]  (gx: [outer, N, inner], g: [outer, n, inner]).
template <class T, class I>
void index_add_kernel(T* gx, const T* g, const I* idx, int64_t outer, int64_t N, int64_t n, int64_t inner) {
  auto rows = [&](int64_t ob, int64_t oe, int64_t cb, int64_t ce) {
    for (int64_t o = ob; o < oe; ++o)
      for (int64_t j = 0; j < n; ++j) {
        T* dst = gx + (o * N + static_cast<int64_t>(idx[j])) * inner;
        const T* src = g + (o * n + j) * inner;
        for (int64_t c = cb; c < ce; ++c) dst[c] += src[c];
      }
  };
  // Duplicated indices make rows j collide, so split over `outer` (independent slabs) when there are enough
  // of them, else over columns of the inner extent. Each element sums its contributions in order of j either
  // way, so results do not depend on the thread count.
  if (outer >= num_threads()) {
    parallel_for(outer, std::max<int64_t>(1, kGrain / std::max<int64_t>(1, n * inner)),
                 [&](int64_t b, int64_t e) { rows(b, e, 0, inner); });
  } else {
    parallel_for(inner, std::max<int64_t>(1, kGrain / std::max<int64_t>(1, outer * n)),
                 [&](int64_t b, int64_t e) { rows(0, outer, b, e); });
  }
}

}  // namespace

// =================================================================================================================

Tensor concat(const std::vector<Tensor>& xs, int dim) {
  check_join_inputs(xs, "concat");
  const Tensor& x0 = xs[0];
  XF_CHECK(x0.dim() >= 1, "concat: zero-dimensional tensors cannot be concatenated (input 0 has shape ",
           x0.shape().str(), ")");
  const int d = wrap_dim(dim, x0.dim(), "concat");
  for (size_t i = 1; i < xs.size(); ++i) {
    bool ok = xs[i].dim() == x0.dim();
    for (int k = 0; ok && k < x0.dim(); ++k) ok = k == d || xs[i].size(k) == x0.size(k);
    XF_CHECK(ok, "concat: input ", i, " has shape ", xs[i].shape().str(), " but input 0 has shape ",
             x0.shape().str(), "; only dimension ", d, " may differ");
  }
  return concat_impl(xs, d, "concat", false);
}

Tensor stack(const std::vector<Tensor>& xs, int dim) {
  check_join_inputs(xs, "stack");
  const Tensor& x0 = xs[0];
  for (size_t i = 1; i < xs.size(); ++i)
    XF_CHECK(xs[i].shape() == x0.shape(), "stack: input ", i, " has shape ", xs[i].shape().str(),
             " but input 0 has shape ", x0.shape().str(), "; all shapes must be equal");
  XF_CHECK(x0.dim() < kMaxRank, "stack: inputs of shape ", x0.shape().str(),
           " already have the maximum rank ", kMaxRank);
  const int d = wrap_dim(dim, x0.dim() + 1, "stack");
  return concat_impl(xs, d, "stack", true);
}

std::vector<Tensor> split(const Tensor& x, int64_t split_size, int dim) {
  check_defined(x, "split");
  XF_CHECK(x.dim() >= 1, "split: cannot split a zero-dimensional tensor");
  const int d = wrap_dim(dim, x.dim(), "split");
  XF_CHECK(split_size > 0, "split: split_size must be positive, got ", split_size, " (input shape ",
           x.shape().str(), ", dim ", d, ")");
  const int64_t n = x.size(d);
  std::vector<Tensor> out;
  if (n == 0) {
    out.push_back(slice(x, d, 0, 0));
    return out;
  }
  out.reserve(static_cast<size_t>((n + split_size - 1) / split_size));
  for (int64_t s = 0; s < n; s += split_size) out.push_back(slice(x, d, s, std::min(n, s + split_size)));
  return out;
}

std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int dim) {
  check_defined(x, "split");
  XF_CHECK(x.dim() >= 1, "split: cannot split a zero-dimensional tensor");
  const int d = wrap_dim(dim, x.dim(), "split");
  int64_t sum = 0;
  for (int64_t s : sizes) {
    XF_CHECK(s >= 0, "split: negative size ", s, " for input shape ", x.shape().str());
    sum += s;
  }
  XF_CHECK(sum == x.size(d), "split: sizes sum to ", sum, " but dimension ", d, " of input shape ",
           x.shape().str(), " has size ", x.size(d));
  std::vector<Tensor> out;
  out.reserve(sizes.size());
  int64_t start = 0;
  for (int64_t s : sizes) {
    out.push_back(slice(x, d, start, start + s));
    start += s;
  }
  return out;
}

Tensor gather(const Tensor& x, int dim, const Tensor& index) {
  check_index_tensor(x, index, "gather");
  const int d = wrap_dim(dim, x.dim(), "gather");
  XF_CHECK(index.dim() == x.dim(), "gather: index has rank ", index.dim(), " but input has rank ", x.dim(),
           " (input shape ", x.shape().str(), ", index shape ", index.shape().str(), ")");
  for (int k = 0; k < x.dim(); ++k)
    XF_CHECK(k == d || index.size(k) <= x.size(k), "gather: index shape ", index.shape().str(),
             " exceeds input shape ", x.shape().str(), " in dimension ", k, " (only dimension ", d,
             " may be larger)");
  const Tensor idx = index.is_contiguous() ? index : index.contiguous_copy();
  Tensor out = Tensor::empty(index.shape(), x.dtype());
  Strides xst = x.strides();
  const int64_t step = xst[d];
  xst[d] = 0;  // the gathered dim moves by index value, not by position
  dispatch_index(idx.dtype(), [&]<class I>() {
    check_index_range(idx.data<I>(), idx.numel(), x.size(d), "gather", d, x, index);
    if (out.numel() == 0) return;
    dispatch_bits(x.dtype(), [&]<class E>() {
      gather_kernel(static_cast<E*>(out.raw_data()), out.strides(), static_cast<const E*>(x.raw_data()), xst,
                    step, idx.data<I>(), idx.strides(), idx.shape());
    });
  });
  if (needs_grad(x)) {
    record("gather", out, {&x}, [idx, in_shape = x.shape(), d](const Tensor& g, GradSlots& gs) {
      Tensor gx = Tensor::zeros(in_shape, g.dtype());
      Strides gxst = gx.strides();
      const int64_t step = gxst[d];
      gxst[d] = 0;
      XF_DISPATCH_FLOAT(g.dtype(), "gather backward", [&] {
        dispatch_index(idx.dtype(), [&]<class I>() {
          scatter_add_kernel(gx.data<scalar_t>(), gxst, step, g.data<scalar_t>(), g.strides(), idx.data<I>(),
                             idx.strides(), idx.shape(), d != 0);
        });
      });
      gs.g[0] = gx;
    });
  }
  return out;
}

Tensor index_select(const Tensor& x, int dim, const Tensor& index) {
  check_index_tensor(x, index, "index_select");
  const int d = wrap_dim(dim, x.dim(), "index_select");
  XF_CHECK(index.dim() <= 1, "index_select: index must be 1-D, got shape ", index.shape().str(),
           " (input shape ", x.shape().str(), ")");
  const Tensor idx = index.is_contiguous() ? index : index.contiguous_copy();
  const int64_t n = idx.numel(), N = x.size(d);
  const int64_t outer = outer_size(x.shape(), d), inner = inner_size(x.shape(), d);
  Shape out_shape = x.shape();
  out_shape[d] = n;
  Tensor out = Tensor::empty(out_shape, x.dtype());
  dispatch_index(idx.dtype(), [&]<class I>() {
    const I* ip = idx.data<I>();
    check_index_range(ip, n, N, "index_select", d, x, index);
    if (out.numel() == 0) return;
    const Tensor xc = x.is_contiguous() ? x : x.contiguous_copy();
    const int64_t row = inner * static_cast<int64_t>(dtype_size(x.dtype()));
    const char* src = static_cast<const char*>(xc.raw_data());
    char* dst = static_cast<char*>(out.raw_data());
    // Output row r = (o, j) copies input row (o, index[j]); each row is `inner` contiguous elements.
    parallel_for(outer * n, std::max<int64_t>(1, kGrain / row), [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        const int64_t o = r / n, j = r % n;
        std::memcpy(dst + r * row, src + (o * N + static_cast<int64_t>(ip[j])) * row,
                    static_cast<size_t>(row));
      }
    });
  });
  if (needs_grad(x)) {
    record("index_select", out, {&x},
           [idx, in_shape = x.shape(), outer, N, n, inner](const Tensor& g, GradSlots& gs) {
             Tensor gx = Tensor::zeros(in_shape, g.dtype());
             const Tensor gc = g.is_contiguous() ? g : g.contiguous_copy();
             XF_DISPATCH_FLOAT(g.dtype(), "index_select backward", [&] {
               dispatch_index(idx.dtype(), [&]<class I>() {
                 index_add_kernel(gx.data<scalar_t>(), gc.data<scalar_t>(), idx.data<I>(), outer, N, n,
                                  inner);
               });
             });
             gs.g[0] = gx;
           });
  }
  return out;
}

Tensor one_hot(const Tensor& ids, int64_t num_classes, DType dtype) {
  check_defined(ids, "one_hot");
  XF_CHECK(dtype_is_int(ids.dtype()), "one_hot: ids must be i64 or i32, got ", dtype_name(ids.dtype()), " ",
           ids.shape().str());
  XF_CHECK(num_classes > 0, "one_hot: num_classes must be positive, got ", num_classes, " (ids shape ",
           ids.shape().str(), ")");
  XF_CHECK(ids.dim() < kMaxRank, "one_hot: ids of shape ", ids.shape().str(),
           " already have the maximum rank ", kMaxRank);
  Shape out_shape = ids.shape();
  out_shape.push_back(num_classes);
  Tensor out = Tensor::zeros(out_shape, dtype);
  const Tensor idc = ids.is_contiguous() ? ids : ids.contiguous_copy();
  void* o = out.raw_data();
  dispatch_index(idc.dtype(), [&]<class I>() {
    const I* p = idc.data<I>();
    for (int64_t i = 0, n = idc.numel(); i < n; ++i) {
      XF_CHECK(p[i] >= 0 && p[i] < num_classes, "one_hot: id ", static_cast<int64_t>(p[i]), " at position ",
               i, " of ids shape ", ids.shape().str(), " out of range [0, ", num_classes, ")");
      store_from_double(o, dtype, i * num_classes + static_cast<int64_t>(p[i]), 1.0);
    }
  });
  return out;
}

}  // namespace xfmr
