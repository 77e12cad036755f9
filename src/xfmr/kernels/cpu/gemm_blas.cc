#include "xfmr/kernels/cpu/gemm_blas.h"

#include <cblas.h>

#include <algorithm>
#include <climits>

#include "xfmr/core/strided.h"

namespace xfmr {

namespace {

// How a logical [rows, cols] matrix with strides (s_row, s_col) is passed to a row-major BLAS call.
struct MatLayout {
  bool trans = false;  // stored as the row-major transpose ([cols, rows] with leading dim ld)
  int64_t ld = 1;
};

bool mat_layout(int64_t rows, int64_t cols, int64_t s_row, int64_t s_col, MatLayout& out) {
  const int64_t r1 = std::max<int64_t>(1, rows), c1 = std::max<int64_t>(1, cols);
  if ((cols <= 1 || s_col == 1) && (rows <= 1 || s_row >= c1)) {
    out = {false, rows <= 1 ? c1 : s_row};
    return true;
  }
  if ((rows <= 1 || s_row == 1) && (cols <= 1 || s_col >= r1)) {
    out = {true, cols <= 1 ? r1 : s_col};
    return true;
  }
  return false;
}

bool layout_of(const Tensor& t, MatLayout& out) {
  const int d = t.dim();
  return mat_layout(t.size(d - 2), t.size(d - 1), t.stride(d - 2), t.stride(d - 1), out);
}

// Strides of t's batch dims (all but the last two) right-aligned against `batch`, 0 where t broadcasts.
Strides batch_strides(const Tensor& t, const Shape& batch) {
  Strides s;
  const int lead = batch.size() - (t.dim() - 2);
  for (int i = 0; i < batch.size(); ++i) {
    const int j = i - lead;
    s.push_back(j < 0 || t.size(j) == 1 ? 0 : t.stride(j));
  }
  return s;
}

inline void blas_gemm(bool ta, bool tb, int m, int n, int k, const float* a, int lda, const float* b, int ldb,
                      float beta, float* c, int ldc) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, 1.0f, a, lda,
              b, ldb, beta, c, ldc);
}
inline void blas_gemm(bool ta, bool tb, int m, int n, int k, const double* a, int lda, const double* b, int ldb,
                      double beta, double* c, int ldc) {
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, 1.0, a, lda,
              b, ldb, beta, c, ldc);
}

}  // namespace

bool blas_compatible(const Tensor& t) {
  MatLayout l;
  return t.dim() >= 2 && layout_of(t, l);
}

Tensor blas_ready(const Tensor& t) { return blas_compatible(t) ? t : t.contiguous_copy(); }

Tensor transposed_view(const Tensor& t) {
  Shape s = t.shape();
  Strides st = t.strides();
  const int d = t.dim();
  std::swap(s[d - 1], s[d - 2]);
  std::swap(st[d - 1], st[d - 2]);
  return t.as_strided(s, st, t.offset());
}

void gemm_into(const Tensor& a, const Tensor& b, const Tensor& c, bool accumulate) {
  const int rc = c.dim();
  XF_DCHECK(a.dim() >= 2 && b.dim() >= 2 && rc >= 2, "gemm_into: rank < 2");
  const int64_t M = c.size(rc - 2), N = c.size(rc - 1), K = a.size(a.dim() - 1);
  XF_DCHECK(a.size(a.dim() - 2) == M && b.size(b.dim() - 2) == K && b.size(b.dim() - 1) == N,
            "gemm_into: shapes ", a.shape().str(), " x ", b.shape().str(), " -> ", c.shape().str());
  XF_CHECK(M <= INT_MAX && N <= INT_MAX && K <= INT_MAX, "matmul: matrix extent exceeds the BLAS int range (",
           M, ", ", N, ", ", K, ")");
  if (c.numel() == 0) return;
  if (K == 0) {
    // An empty contraction: the product is zero (no BLAS call: K = 0 operands have arbitrary strides).
    if (!accumulate) {
      XF_DISPATCH_FLOAT(c.dtype(), "matmul", [&] {
        scalar_t* pc = c.data<scalar_t>();
        for_each_offset<1>(c.shape(), {c.strides()}, {0}, [&](int64_t o) { pc[o] = 0; });
      });
    }
    return;
  }
  MatLayout la, lb, lc;
  XF_CHECK(layout_of(a, la) && layout_of(b, lb), "internal error: gemm_into: operand not BLAS-compatible (",
           a.shape().str(), " strides ", a.strides().str(), ", ", b.shape().str(), " strides ", b.strides().str(), ")");
  XF_CHECK(layout_of(c, lc) && !lc.trans, "internal error: gemm_into: output ", c.shape().str(), " strides ",
           c.strides().str(), " is not row-major");

  Shape batch;
  for (int i = 0; i < rc - 2; ++i) batch.push_back(c.size(i));
  const Strides sa = batch_strides(a, batch), sb = batch_strides(b, batch);
  Strides sc;
  for (int i = 0; i < rc - 2; ++i) sc.push_back(c.stride(i));

  XF_DISPATCH_FLOAT(c.dtype(), "matmul", [&] {
    const scalar_t* pa = a.data<scalar_t>();
    const scalar_t* pb = b.data<scalar_t>();
    scalar_t* pc = c.data<scalar_t>();
    const scalar_t beta = accumulate ? scalar_t(1) : scalar_t(0);
    for_each_offset<3>(batch, {sa, sb, sc}, {0, 0, 0}, [&](int64_t oa, int64_t ob, int64_t oc) {
      blas_gemm(la.trans, lb.trans, static_cast<int>(M), static_cast<int>(N), static_cast<int>(K), pa + oa,
                static_cast<int>(la.ld), pb + ob, static_cast<int>(lb.ld), beta, pc + oc, static_cast<int>(lc.ld));
    });
  });
}

}  // namespace xfmr
