#include "xfmr/ops/embedding.h"

#include <algorithm>

#include "xfmr/core/autograd.h"
#include "xfmr/core/parallel.h"

namespace xfmr {

namespace {

// The ids as a contiguous i64 tensor, each checked against [0, V).
Tensor checked_ids(const Tensor& ids, int64_t V, const Tensor& weight) {
  XF_CHECK(dtype_is_int(ids.dtype()), "embedding: ids must be i64 or i32, got ", dtype_name(ids.dtype()), " ",
           ids.shape().str());
  Tensor out = ids.dtype() == DType::i64 && ids.is_contiguous() ? ids : ids.converted(DType::i64);
  const int64_t* p = out.data<int64_t>();
  for (int64_t i = 0, n = out.numel(); i < n; ++i)
    XF_CHECK(p[i] >= 0 && p[i] < V, "embedding: id ", p[i], " out of range for vocabulary size V=", V, " (weight ",
             weight.shape().str(), ", ids ", ids.shape().str(), ")");
  return out;
}

}  // namespace

Tensor embedding(const Tensor& weight, const Tensor& ids) {
  check_float(weight, "embedding");
  check_defined(ids, "embedding");
  XF_CHECK(weight.dim() == 2, "embedding: weight must be [V, D], got ", weight.shape().str());
  XF_CHECK(ids.dim() + 1 <= kMaxRank, "embedding: ids ", ids.shape().str(), " have too many dims");
  const int64_t V = weight.size(0), D = weight.size(1);
  const Tensor idx = checked_ids(ids, V, weight);
  const Tensor w = weight.stride(1) == 1 || D <= 1 ? weight : weight.contiguous_copy();
  const int64_t ldw = w.stride(0);
  Shape out_shape = ids.shape();
  out_shape.push_back(D);
  Tensor out = Tensor::empty(out_shape, weight.dtype());
  const int64_t n = idx.numel();
  XF_DISPATCH_FLOAT(weight.dtype(), "embedding", [&] {
    const scalar_t* pw = w.data<scalar_t>();
    const int64_t* pi = idx.data<int64_t>();
    scalar_t* po = out.data<scalar_t>();
    parallel_for(n, std::max<int64_t>(1, (1 << 15) / std::max<int64_t>(1, D)), [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) std::copy(pw + pi[i] * ldw, pw + pi[i] * ldw + D, po + i * D);
    });
  });
  if (needs_grad(weight)) {
    record("embedding", out, {&weight}, [idx, V, D](const Tensor& g, GradSlots& gs) {
      Tensor gw = Tensor::zeros({V, D}, g.dtype());
      const Tensor gc = g.is_contiguous() ? g : g.contiguous_copy();
      XF_DISPATCH_FLOAT(g.dtype(), "embedding", [&] {
        const scalar_t* pg = gc.data<scalar_t>();
        const int64_t* pi = idx.data<int64_t>();
        scalar_t* pw = gw.data<scalar_t>();
        // Repeated ids write the same row, so split the work over columns, not over ids: each thread adds
        // its column block for every id in order (deterministic, race-free).
        const int64_t n = idx.numel();
        parallel_for(D, std::max<int64_t>(64, (1 << 16) / std::max<int64_t>(1, n)), [&](int64_t c0, int64_t c1) {
          for (int64_t i = 0; i < n; ++i) {
            scalar_t* row = pw + pi[i] * D;
            const scalar_t* src = pg + i * D;
            for (int64_t c = c0; c < c1; ++c) row[c] += src[c];
          }
        });
      });
      gs.g[0] = gw;
    });
  }
  return out;
}

}  // namespace xfmr
