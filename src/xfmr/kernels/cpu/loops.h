// Elementwise loop machinery shared by the elementwise and activation ops (internal; not a public API).
//
// An elementwise op writes a fresh contiguous output `out` from inputs that may be broadcast or strided. The
// operands' strides (inputs viewed as broadcast to out's shape, stride 0 along broadcast dims) are coalesced
// like PyTorch's TensorIterator: size-1 dims are dropped and adjacent dims merged when every operand steps
// through them as one run. What is left is an outer loop over "rows" and an inner loop whose input strides
// are usually 1 (contiguous) or 0 (broadcast scalar), for which the inner kernels below have plain loops the
// compiler vectorises. The common cases reduce to:
//   same-shape contiguous     -> one row of numel elements, strides (1, 1)
//   row broadcast  [..., C] op [C]      -> rows of C, strides (1, 1), b's row stride 0
//   column broadcast [R, C] op [R, 1]   -> rows of C, strides (1, 0)
//   tensor op scalar          -> one row, strides (1, 0)
// Anything else (transposed inputs, middle-dim broadcasts) takes the strided inner loop: correct, slower.
// Work is split across the thread pool by elements (one row) or by rows, kGrain elements per chunk at least.
#pragma once
#include <cstdint>

#include "xfmr/core/parallel.h"
#include "xfmr/core/strided.h"
#include "xfmr/core/tensor.h"

namespace xfmr::kernels {

// Below this many elements an elementwise loop stays on the calling thread (thread start-up costs ~ a few
// us).
constexpr int64_t kGrain = 32768;

// Coalesced iteration space for N operands (operand 0 is the output).
template <int N>
struct LoopPlan {
  int ndim = 0;
  int64_t shape[kMaxRank] = {};
  int64_t stride[N][kMaxRank] = {};
};

template <int N>
LoopPlan<N> make_plan(const Shape& shape, const Strides (&st)[N]) {
  LoopPlan<N> p;
  for (int d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    if (p.ndim > 0) {
      const int last = p.ndim - 1;
      bool merge = true;
      for (int k = 0; k < N; ++k) merge = merge && p.stride[k][last] == st[k][d] * shape[d];
      if (merge) {
        p.shape[last] *= shape[d];
        for (int k = 0; k < N; ++k) p.stride[k][last] = st[k][d];
        continue;
      }
    }
    p.shape[p.ndim] = shape[d];
    for (int k = 0; k < N; ++k) p.stride[k][p.ndim] = st[k][d];
    p.ndim++;
  }
  if (p.ndim == 0) {  // a single element
    p.ndim = 1;
    p.shape[0] = shape.numel();
    for (int k = 0; k < N; ++k) p.stride[k][0] = 1;
  }
  return p;
}

// Calls row(ptrs, inner_strides, n) over the plan: each call covers n elements along the innermost dim.
template <class T, int N, class Row>
void run_plan(const LoopPlan<N>& p, T* const (&base)[N], Row&& row) {
  for (int d = 0; d < p.ndim; ++d)
    if (p.shape[d] == 0) return;
  const int last = p.ndim - 1;
  const int64_t inner = p.shape[last];
  int64_t is[N];
  for (int k = 0; k < N; ++k) is[k] = p.stride[k][last];
  if (p.ndim == 1) {
    parallel_for(inner, kGrain, [&](int64_t b, int64_t e) {
      T* ptr[N];
      for (int k = 0; k < N; ++k) ptr[k] = base[k] + b * is[k];
      row(ptr, is, e - b);
    });
    return;
  }
  int64_t outer = 1;
  for (int d = 0; d < last; ++d) outer *= p.shape[d];
  const int64_t grain = inner >= kGrain ? 1 : kGrain / inner;
  parallel_for(outer, grain, [&](int64_t b, int64_t e) {
    // Multi-index of outer row b, then step it like an odometer.
    int64_t idx[kMaxRank] = {};
    int64_t off[N] = {};
    for (int64_t r = b, d = last - 1; d >= 0; --d) {
      idx[d] = r % p.shape[d];
      r /= p.shape[d];
      for (int k = 0; k < N; ++k) off[k] += idx[d] * p.stride[k][d];
    }
    for (int64_t r = b; r < e; ++r) {
      T* ptr[N];
      for (int k = 0; k < N; ++k) ptr[k] = base[k] + off[k];
      row(ptr, is, inner);
      for (int d = last - 1; d >= 0; --d) {
        idx[d]++;
        for (int k = 0; k < N; ++k) off[k] += p.stride[k][d];
        if (idx[d] < p.shape[d]) break;
        for (int k = 0; k < N; ++k) off[k] -= p.stride[k][d] * p.shape[d];
        idx[d] = 0;
      }
    }
  });
}

// ---- inner kernels: out stride is always 1 (out is fresh and contiguous). flatten: the op's functor (and
// the vmath it calls) must be inlined into the loop, or the loop cannot be vectorised. ----

template <class T, class F>
[[gnu::flatten]] inline void unary_row(T* __restrict o, const T* __restrict x, int64_t sx, int64_t n, F f) {
  if (sx == 1) {
    for (int64_t i = 0; i < n; ++i) o[i] = f(x[i]);
  } else {
    for (int64_t i = 0; i < n; ++i) o[i] = f(x[i * sx]);
  }
}

template <class T, class F>
[[gnu::flatten]] inline void binary_row(T* __restrict o, const T* a, int64_t sa, const T* b, int64_t sb,
                                        int64_t n, F f) {
  if (sa == 1 && sb == 1) {
    for (int64_t i = 0; i < n; ++i) o[i] = f(a[i], b[i]);
  } else if (sa == 1 && sb == 0) {
    const T bv = *b;
    for (int64_t i = 0; i < n; ++i) o[i] = f(a[i], bv);
  } else if (sa == 0 && sb == 1) {
    const T av = *a;
    for (int64_t i = 0; i < n; ++i) o[i] = f(av, b[i]);
  } else {
    for (int64_t i = 0; i < n; ++i) o[i] = f(a[i * sa], b[i * sb]);
  }
}

template <class T, class F>
[[gnu::flatten]] inline void ternary_row(T* __restrict o, const T* a, int64_t sa, const T* b, int64_t sb,
                                         const T* c, int64_t sc, int64_t n, F f) {
  if (sa == 1 && sb == 1 && sc == 1) {
    for (int64_t i = 0; i < n; ++i) o[i] = f(a[i], b[i], c[i]);
  } else {
    for (int64_t i = 0; i < n; ++i) o[i] = f(a[i * sa], b[i * sb], c[i * sc]);
  }
}

// ---- whole-tensor drivers: `out` is a fresh contiguous tensor of the broadcast shape ----

template <class T, class F>
void unary(Tensor& out, const Tensor& x, F f) {
  const Strides st[2] = {out.strides(), broadcast_strides(x, out.shape())};
  const LoopPlan<2> p = make_plan<2>(out.shape(), st);
  T* const base[2] = {out.data<T>(), const_cast<T*>(x.data<T>())};
  run_plan<T, 2>(
      p, base, [&](T* const* ptr, const int64_t* s, int64_t n) { unary_row<T>(ptr[0], ptr[1], s[1], n, f); });
}

template <class T, class F>
void binary(Tensor& out, const Tensor& a, const Tensor& b, F f) {
  const Strides st[3] = {out.strides(), broadcast_strides(a, out.shape()), broadcast_strides(b, out.shape())};
  const LoopPlan<3> p = make_plan<3>(out.shape(), st);
  T* const base[3] = {out.data<T>(), const_cast<T*>(a.data<T>()), const_cast<T*>(b.data<T>())};
  run_plan<T, 3>(p, base, [&](T* const* ptr, const int64_t* s, int64_t n) {
    binary_row<T>(ptr[0], ptr[1], s[1], ptr[2], s[2], n, f);
  });
}

template <class T, class F>
void ternary(Tensor& out, const Tensor& a, const Tensor& b, const Tensor& c, F f) {
  const Strides st[4] = {out.strides(), broadcast_strides(a, out.shape()), broadcast_strides(b, out.shape()),
                         broadcast_strides(c, out.shape())};
  const LoopPlan<4> p = make_plan<4>(out.shape(), st);
  T* const base[4] = {out.data<T>(), const_cast<T*>(a.data<T>()), const_cast<T*>(b.data<T>()),
                      const_cast<T*>(c.data<T>())};
  run_plan<T, 4>(p, base, [&](T* const* ptr, const int64_t* s, int64_t n) {
    ternary_row<T>(ptr[0], ptr[1], s[1], ptr[2], s[2], ptr[3], s[3], n, f);
  });
}

}  // namespace xfmr::kernels
