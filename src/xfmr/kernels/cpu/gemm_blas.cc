#include "xfmr/kernels/cpu/gemm_blas.h"

#include <cblas.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <type_traits>

#include "xfmr/core/parallel.h"
#include "xfmr/core/strided.h"
#include "xfmr/kernels/cpu/gemm_bf16.h"

namespace xfmr {

namespace {

// The least work (multiply-adds x 2) worth handing to another thread: ~0.7 ms of single-core sgemm, far above
// the cost of a thread-team start even when the other core is busy with another process for a while.
constexpr double kMinBlockFlops = 64e6;

// How many row blocks gemm_into cuts one product (no batch) of [M, K] x [K, N] into: one per thread, as long as
// each is worth kMinBlockFlops, and at least 16 rows each.
int64_t single_product_row_blocks(int64_t M, int64_t N, int64_t K) {
  const int nt = num_threads();
  if (nt <= 1) return 1;
  const double flops = 2.0 * static_cast<double>(M) * static_cast<double>(N) * static_cast<double>(K);
  const int64_t want = std::min<int64_t>(nt, static_cast<int64_t>(flops / kMinBlockFlops));
  return want > 1 ? std::min<int64_t>(want, std::max<int64_t>(1, M / 16)) : 1;
}

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

// The bf16 kernel for f32 operands; never reached for f64 (gemm_into only selects it for f32).
inline void bf16_gemm(int64_t m, int64_t n, int64_t k, const float* a, int64_t sar, int64_t sac, const float* b,
                      int64_t sbr, int64_t sbc, float* c, int64_t ldc, bool acc, const float* bias, float* sums,
                      kernels::GemmEpilogue ep, int64_t row_base) {
  kernels::gemm_bf16(m, n, k, a, sar, sac, b, sbr, sbc, c, ldc, acc, 1.0f, bias, sums, ep, row_base);
}
inline void bf16_gemm(int64_t, int64_t, int64_t, const double*, int64_t, int64_t, const double*, int64_t, int64_t,
                      double*, int64_t, bool, const double*, double*, kernels::GemmEpilogue, int64_t) {}


// sums[i] += a(i, k) for rows [0, m), k = 0, 1, ... in order (a(i, k) = a[i*sr + k*sc]). With unit row stride
// (a = dYᵀ) the inner loop runs along memory.
template <class T>
void add_row_sums(const T* a, int64_t sr, int64_t sc, int64_t m, int64_t k, T* sums) {
  for (int64_t kk = 0; kk < k; ++kk) {
    const T* col = a + kk * sc;
    for (int64_t i = 0; i < m; ++i) sums[i] += col[i * sr];
  }
}

// Rows [0, m) of c (leading dim ldc) set to bias[0, n). An inline loop, not std::copy: rows are short (64-256
// values) and a libc memmove call per row cost more than the copy itself.
template <class T>
void fill_rows(T* c, int64_t ldc, int64_t m, int64_t n, const T* bias) {
  for (int64_t r = 0; r < m; ++r) {
    T* row = c + r * ldc;
    for (int64_t j = 0; j < n; ++j) row[j] = bias[j];
  }
}

std::atomic<MatmulPrecision> g_precision{MatmulPrecision::f32};

}  // namespace

void set_matmul_precision(MatmulPrecision p) { g_precision.store(p, std::memory_order_relaxed); }
MatmulPrecision matmul_precision() { return g_precision.load(std::memory_order_relaxed); }
MatmulPrecision effective_matmul_precision() {
  return matmul_precision() == MatmulPrecision::bf16 && kernels::cpu_has_avx512_bf16() ? MatmulPrecision::bf16
                                                                                       : MatmulPrecision::f32;
}
const char* matmul_precision_name(MatmulPrecision p) { return p == MatmulPrecision::bf16 ? "bf16" : "f32"; }
MatmulPrecision parse_matmul_precision(const std::string& s, const char* what) {
  if (s == "f32" || s == "fp32") return MatmulPrecision::f32;
  if (s == "bf16") return MatmulPrecision::bf16;
  throw Error(std::string(what) + ": unknown precision '" + s + "' (known: f32, bf16)");
}

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

void gemm_into(const Tensor& a, const Tensor& b, const Tensor& c, bool accumulate, const Tensor& bias,
               const Tensor& a_row_sums, kernels::GemmEpilogue epilogue) {
  const int rc = c.dim();
  XF_DCHECK(a.dim() >= 2 && b.dim() >= 2 && rc >= 2, "gemm_into: rank < 2");
  const int64_t M = c.size(rc - 2), N = c.size(rc - 1), K = a.size(a.dim() - 1);
  XF_DCHECK(a.size(a.dim() - 2) == M && b.size(b.dim() - 2) == K && b.size(b.dim() - 1) == N,
            "gemm_into: shapes ", a.shape().str(), " x ", b.shape().str(), " -> ", c.shape().str());
  XF_CHECK(M <= INT_MAX && N <= INT_MAX && K <= INT_MAX, "matmul: matrix extent exceeds the BLAS int range (",
           M, ", ", N, ", ", K, ")");
  const bool has_bias = bias.defined();
  XF_DCHECK(!has_bias || (!accumulate && bias.is_contiguous() && bias.numel() == N && bias.dtype() == c.dtype()),
            "gemm_into: bias ", bias.shape().str(), " for output ", c.shape().str());
  const bool has_sums = a_row_sums.defined();
  XF_DCHECK(!has_sums || (rc == 2 && a_row_sums.is_contiguous() && a_row_sums.numel() == M &&
                          a_row_sums.dtype() == c.dtype()),
            "gemm_into: row sums ", a_row_sums.shape().str(), " for output ", c.shape().str());
  XF_DCHECK(!epilogue || rc == 2, "gemm_into: an epilogue with batch dims, output ", c.shape().str());
  if (M == 0) return;
  if (N == 0 && has_sums && K > 0) {
    // No product, but A's rows are still summed.
    MatLayout la0;
    XF_CHECK(layout_of(a, la0), "internal error: gemm_into: operand not BLAS-compatible");
    XF_DISPATCH_FLOAT(c.dtype(), "matmul", [&] {
      add_row_sums(a.data<scalar_t>(), la0.trans ? 1 : la0.ld, la0.trans ? la0.ld : 1, M, K,
                   a_row_sums.data<scalar_t>());
    });
    return;
  }
  if (c.numel() == 0) return;
  if (K == 0) {
    // An empty contraction: the product is zero (no BLAS call: K = 0 operands have arbitrary strides).
    if (!accumulate) {
      XF_DISPATCH_FLOAT(c.dtype(), "matmul", [&] {
        scalar_t* pc = c.data<scalar_t>();
        const scalar_t* pbias = has_bias ? bias.data<scalar_t>() : nullptr;
        int64_t j = 0;  // the column of the element visited (row-major order, last dim fastest)
        for_each_offset<1>(c.shape(), {c.strides()}, {0}, [&](int64_t o) {
          pc[o] = pbias ? pbias[j] : scalar_t(0);
          j = j + 1 == N ? 0 : j + 1;
        });
      });
    }
    if (epilogue) epilogue.fn(epilogue.ctx, c.raw_data(), c.stride(0), 0, M, 0, N);
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

  // xfmr threads the GEMMs itself (the BLAS always runs on one thread, see core/parallel.h): the products are
  // split into row blocks of C, across the batch too when no two batch entries write the same C matrix, and
  // only when each block is worth a thread-team start (kMinBlockFlops). Small products stay on the calling
  // thread, so a second thread never slows down a model made of small GEMMs.
  bool c_aliases = false;
  for (int i = 0; i < sc.size(); ++i) c_aliases = c_aliases || (sc[i] == 0 && batch[i] > 1);
  XF_DCHECK(!(has_bias && c_aliases), "gemm_into: a bias with summed batch dims");
  const int64_t nbatch = batch.numel();
  const double flops = 2.0 * static_cast<double>(M) * static_cast<double>(N) * static_cast<double>(K);
  const int nt = num_threads();
  int64_t mblocks = 1;
  if (nt > 1) {
    const double total = flops * static_cast<double>(nbatch);
    const int64_t by_work = static_cast<int64_t>(total / kMinBlockFlops);
    const int64_t want = std::min<int64_t>(nt, by_work);
    // Row blocks within each product when the batch alone cannot feed the threads.
    if (want > 1 && (c_aliases || nbatch < want)) mblocks = std::min<int64_t>(want, std::max<int64_t>(1, M / 16));
  }
  const int64_t items = c_aliases ? mblocks : nbatch * mblocks;
  // Thread chunks: as many as the work supports (each at least kMinBlockFlops), at most one per item.
  const int64_t chunks = nt > 1 ? std::min<int64_t>(items, static_cast<int64_t>(flops * static_cast<double>(nbatch) /
                                                                               kMinBlockFlops))
                                : 1;

  XF_DISPATCH_FLOAT(c.dtype(), "matmul", [&] {
    const scalar_t* pa = a.data<scalar_t>();
    const scalar_t* pb = b.data<scalar_t>();
    scalar_t* pc = c.data<scalar_t>();
    const scalar_t beta = accumulate ? scalar_t(1) : scalar_t(0);
    const scalar_t* pbias = has_bias ? bias.data<scalar_t>() : nullptr;
    scalar_t* psums = has_sums ? a_row_sums.data<scalar_t>() : nullptr;
    const bool bf16 = std::is_same_v<scalar_t, float> && effective_matmul_precision() == MatmulPrecision::bf16;
    // Rows [m0, m1) of one product: A's rows start at m0 (a column offset when A is stored transposed).
    auto rows = [&](int64_t oa, int64_t ob, int64_t oc, int64_t m0, int64_t m1) {
      const int64_t a_off = la.trans ? m0 : m0 * la.ld;
      scalar_t* c0 = pc + oc + m0 * lc.ld;
      scalar_t* sums = psums ? psums + m0 : nullptr;
      if (bf16) {
        bf16_gemm(m1 - m0, N, K, pa + oa + a_off, la.trans ? 1 : la.ld, la.trans ? la.ld : 1, pb + ob,
                  lb.trans ? 1 : lb.ld, lb.trans ? lb.ld : 1, c0, lc.ld, accumulate, pbias, sums, epilogue, m0);
        return;
      }
      if (sums) add_row_sums(pa + oa + a_off, la.trans ? 1 : la.ld, la.trans ? la.ld : 1, m1 - m0, K, sums);
      // The bias block is written just before its GEMM reads it back (still in cache), on the thread that owns it.
      if (pbias) fill_rows(c0, lc.ld, m1 - m0, N, pbias);
      blas_gemm(la.trans, lb.trans, static_cast<int>(m1 - m0), static_cast<int>(N), static_cast<int>(K),
                pa + oa + a_off, static_cast<int>(la.ld), pb + ob, static_cast<int>(lb.ld),
                pbias ? scalar_t(1) : beta, c0, static_cast<int>(lc.ld));
      // One epilogue over the call's rows. Cutting the call into row blocks that stay in L2 for the epilogue
      // cost more than it saved: OpenBLAS packs all of B again for each call (char shakespeare f32, 128-row
      // blocks: +2% per step; one call: no loss against the unfused ops).
      if (epilogue) epilogue.fn(epilogue.ctx, c0, lc.ld, m0, m1 - m0, 0, N);
    };
    if (chunks <= 1) {
      for_each_offset<3>(batch, {sa, sb, sc}, {0, 0, 0},
                         [&](int64_t oa, int64_t ob, int64_t oc) { rows(oa, ob, oc, 0, M); });
      return;
    }
    if (c_aliases) {
      // Batch entries accumulate into shared C matrices: split rows only, each block walks the whole batch.
      parallel_chunks(mblocks, chunks, [&](int64_t b0, int64_t b1) {
        const int64_t m0 = M * b0 / mblocks, m1 = M * b1 / mblocks;
        for_each_offset<3>(batch, {sa, sb, sc}, {0, 0, 0},
                           [&](int64_t oa, int64_t ob, int64_t oc) { rows(oa, ob, oc, m0, m1); });
      });
      return;
    }
    const int rb = batch.size();
    parallel_chunks(items, chunks, [&](int64_t i0, int64_t i1) {
      for (int64_t it = i0; it < i1; ++it) {
        const int64_t bi = it / mblocks, mb = it % mblocks;
        int64_t oa = 0, ob = 0, oc = 0, rem = bi;
        for (int d = rb - 1; d >= 0; --d) {
          const int64_t idx = rem % batch[d];
          rem /= batch[d];
          oa += idx * sa[d];
          ob += idx * sb[d];
          oc += idx * sc[d];
        }
        rows(oa, ob, oc, M * mb / mblocks, M * (mb + 1) / mblocks);
      }
    });
  });
}

Tensor gemm_into_packing_a(const Tensor& a, const Tensor& b, const Tensor& c, const Tensor& bias,
                           kernels::GemmEpilogue epilogue) {
  const int64_t M = c.size(0), N = c.size(1), K = a.size(1), nr = kernels::gemm_bf16_panel_columns();
  MatLayout la, lb, lc;
  XF_CHECK(a.dim() == 2 && b.dim() == 2 && c.dim() == 2 && a.size(0) == M && b.size(0) == K && b.size(1) == N &&
               layout_of(a, la) && layout_of(b, lb) && layout_of(c, lc) && !lc.trans && a.dtype() == DType::f32 &&
               b.dtype() == DType::f32 && c.dtype() == DType::f32 && K > 0 && N > 0 &&
               effective_matmul_precision() == MatmulPrecision::bf16,
           "internal error: gemm_into_packing_a: ", a.shape().str(), " x ", b.shape().str(), " -> ", c.shape().str());
  XF_DCHECK(!bias.defined() || (bias.is_contiguous() && bias.numel() == N && bias.dtype() == DType::f32),
            "gemm_into_packing_a: bias ", bias.shape().str());
  Tensor packed = Tensor::empty({(K + nr - 1) / nr, (M + 1) / 2, nr, 2}, DType::bf16);
  if (M == 0) return packed;
  const float* pa = a.data<float>();
  const float* pb = b.data<float>();
  const float* pbias = bias.defined() ? bias.data<float>() : nullptr;
  float* pc = c.data<float>();
  auto* words = static_cast<uint32_t*>(packed.raw_data());
  // Row blocks as gemm_into cuts one product, their starts rounded down to even rows: each block packs whole
  // K pairs (rows 2p, 2p + 1) of a.
  const int64_t mblocks = single_product_row_blocks(M, N, K);
  parallel_chunks(mblocks, mblocks, [&](int64_t b0, int64_t b1) {
    for (int64_t mb = b0; mb < b1; ++mb) {
      const int64_t m0 = M * mb / mblocks / 2 * 2, m1 = mb + 1 == mblocks ? M : M * (mb + 1) / mblocks / 2 * 2;
      kernels::gemm_bf16_packing_a(m1 - m0, N, K, pa + (la.trans ? m0 : m0 * la.ld), la.trans ? 1 : la.ld,
                                   la.trans ? la.ld : 1, pb, lb.trans ? 1 : lb.ld, lb.trans ? lb.ld : 1,
                                   pc + m0 * lc.ld, lc.ld, pbias, words, M, m0, epilogue);
    }
  });
  return packed;
}

void gemm_packed_b_into(const Tensor& a, const Tensor& b_packed, const Tensor& c, const Tensor& a_row_sums) {
  const int64_t M = c.size(0), N = c.size(1), K = a.size(1), nr = kernels::gemm_bf16_panel_columns();
  MatLayout la, lc;
  XF_CHECK(a.dim() == 2 && c.dim() == 2 && a.size(0) == M && layout_of(a, la) && layout_of(c, lc) && !lc.trans &&
               a.dtype() == DType::f32 && c.dtype() == DType::f32 && b_packed.dtype() == DType::bf16 &&
               b_packed.is_contiguous() && b_packed.dim() == 4 && b_packed.size(0) == (N + nr - 1) / nr &&
               b_packed.size(1) == (K + 1) / 2 && b_packed.size(2) == nr && b_packed.size(3) == 2,
           "internal error: gemm_packed_b_into: ", a.shape().str(), " x packed ", b_packed.shape().str(), " -> ",
           c.shape().str());
  const bool has_sums = a_row_sums.defined();
  XF_DCHECK(!has_sums || (a_row_sums.is_contiguous() && a_row_sums.numel() == M && a_row_sums.dtype() == DType::f32),
            "gemm_packed_b_into: row sums ", a_row_sums.shape().str());
  if (M == 0) return;
  const float* pa = a.data<float>();
  const auto* pb = static_cast<const uint32_t*>(b_packed.raw_data());
  float* pc = c.data<float>();
  float* psums = has_sums ? a_row_sums.data<float>() : nullptr;
  // Row blocks as gemm_into cuts one product (no batch); each row of c depends only on its row of a and on B.
  const int64_t mblocks = single_product_row_blocks(M, N, K);
  parallel_chunks(mblocks, mblocks, [&](int64_t b0, int64_t b1) {
    for (int64_t mb = b0; mb < b1; ++mb) {
      const int64_t m0 = M * mb / mblocks, m1 = M * (mb + 1) / mblocks;
      kernels::gemm_bf16_packed(m1 - m0, N, K, pa + (la.trans ? m0 : m0 * la.ld), la.trans ? 1 : la.ld,
                                la.trans ? la.ld : 1, pb, pc + m0 * lc.ld, lc.ld, false, 1.0f, nullptr,
                                psums ? psums + m0 : nullptr);
    }
  });
}

}  // namespace xfmr
