// Sum and max kernels over a contiguous tensor viewed as [A, K, C], reducing K (internal).
//   C == 1: row reductions (the last dim, e.g. [B*T, C] -> [B*T]);
//   A == 1: column reductions (leading dims, e.g. a bias gradient [B*T, C] -> [C]);
//   otherwise a middle dim.
// Sums keep 128 bytes of partial sums per row (or a tile of column sums) that the compiler vectorises, and
// add block sums in double, so the rounding error grows with the block length rather than with K.
#pragma once
#include <algorithm>
#include <cstdint>

#include "xfmr/core/parallel.h"
#include "xfmr/core/tensor.h"

namespace xfmr::kernels {

constexpr int64_t kReduceGrain = 32768;

// Sum of x[0..n) with independent partial sums (vectorisable without reassociation by the compiler).
template <class T>
T row_sum(const T* x, int64_t n) {
  constexpr int L = 128 / sizeof(T);
  constexpr int64_t kBlock = 4096;
  double total = 0;
  for (int64_t b0 = 0; b0 < n; b0 += kBlock) {
    const int64_t b1 = std::min(n, b0 + kBlock);
    T acc[L] = {};
    int64_t i = b0;
    for (; i + L <= b1; i += L)
      for (int j = 0; j < L; ++j) acc[j] += x[i + j];
    T tail = 0;
    for (; i < b1; ++i) tail += x[i];
    for (int w = L / 2; w > 0; w /= 2)
      for (int j = 0; j < w; ++j) acc[j] += acc[j + w];
    total += static_cast<double>(acc[0] + tail);
  }
  return static_cast<T>(total);
}

// out[c] = sum_k x[k*C + c] for k in [k0, k1). Columns are done in tiles of kTile; each tile sums blocks of
// kRows rows in T (vectorised across c) and adds the block sums in double, so the error grows with kRows, not
// with K.
template <class T>
void column_sum(const T* x, int64_t k0, int64_t k1, int64_t C, T* __restrict out) {
  constexpr int64_t kTile = 256, kRows = 128;
  for (int64_t c0 = 0; c0 < C; c0 += kTile) {
    const int64_t w = std::min(kTile, C - c0);
    double acc[kTile];
    T blk[kTile];
    for (int64_t c = 0; c < w; ++c) acc[c] = 0;
    for (int64_t b0 = k0; b0 < k1; b0 += kRows) {
      const int64_t b1 = std::min(k1, b0 + kRows);
      for (int64_t c = 0; c < w; ++c) blk[c] = 0;
      for (int64_t k = b0; k < b1; ++k) {
        const T* row = x + k * C + c0;
        for (int64_t c = 0; c < w; ++c) blk[c] += row[c];
      }
      for (int64_t c = 0; c < w; ++c) acc[c] += static_cast<double>(blk[c]);
    }
    for (int64_t c = 0; c < w; ++c) out[c0 + c] = static_cast<T>(acc[c]);
  }
}

// out[a, c] = sum_k x[a, k, c]; x contiguous [A, K, C], out contiguous [A, C].
template <class T>
void sum_akc(const T* x, int64_t A, int64_t K, int64_t C, T* out) {
  const int64_t total = A * K * C;
  const int nt = num_threads();
  if (C == 1 && A == 1) {
    // One long row: split it across threads, then add the partials in a fixed order.
    const int64_t chunks = std::clamp<int64_t>(total / kReduceGrain, 1, std::min(nt, 256));
    double part[256];
    parallel_for(chunks, 1, [&](int64_t b, int64_t e) {
      for (int64_t t = b; t < e; ++t)
        part[t] = row_sum(x + K * t / chunks, K * (t + 1) / chunks - K * t / chunks);
    });
    double s = 0;
    for (int64_t t = 0; t < chunks; ++t) s += part[t];
    out[0] = static_cast<T>(s);
    return;
  }
  if (C == 1) {
    parallel_for(A, std::max<int64_t>(1, kReduceGrain / std::max<int64_t>(K, 1)), [&](int64_t b, int64_t e) {
      for (int64_t a = b; a < e; ++a) out[a] = row_sum(x + a * K, K);
    });
    return;
  }
  if (A >= nt || total <= kReduceGrain) {
    parallel_for(A, std::max<int64_t>(1, kReduceGrain / std::max<int64_t>(K * C, 1)),
                 [&](int64_t b, int64_t e) {
                   for (int64_t a = b; a < e; ++a) column_sum(x + a * K * C, 0, K, C, out + a * C);
                 });
    return;
  }
  // Few outputs rows, long columns: split K across threads into partial [A, C] buffers, then add them in
  // order.
  const int64_t chunks = std::clamp<int64_t>(total / kReduceGrain, 1, std::min<int64_t>({nt, K, 256}));
  Tensor partial = Tensor::empty(Shape{chunks, A, C}, dtype_of<T>());
  T* p = partial.data<T>();
  parallel_for(chunks * A, 1, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const int64_t t = i / A, a = i % A;
      column_sum(x + a * K * C, K * t / chunks, K * (t + 1) / chunks, C, p + (t * A + a) * C);
    }
  });
  for (int64_t i = 0; i < A * C; ++i) {
    T s = 0;
    for (int64_t t = 0; t < chunks; ++t) s += p[t * A * C + i];
    out[i] = s;
  }
}

// NaN counts as the largest value (torch); ties keep the first index.
template <class T>
inline bool takes_max(T v, T best) {
  return v > best || (v != v && best == best);
}

// Index of the first maximum of x[0..n) (n >= 1), or of the first NaN if any; its value in `best`. Two
// passes: a vectorised max (maxps semantics: `v > m ? v : m`) with a NaN count, then a scan for the first
// matching element.
template <class T>
int64_t row_argmax(const T* x, int64_t n, T& best) {
  constexpr int L = 64 / sizeof(T);
  T m[L];
  int32_t nans[L] = {};
  for (int j = 0; j < L; ++j) m[j] = x[0];
  int64_t i = 0;
  for (; i + L <= n; i += L)
    for (int j = 0; j < L; ++j) {
      const T v = x[i + j];
      m[j] = v > m[j] ? v : m[j];
      nans[j] += v != v;
    }
  T mx = m[0];
  int32_t nan_count = 0;
  for (int j = 0; j < L; ++j) {
    mx = m[j] > mx ? m[j] : mx;
    nan_count += nans[j];
  }
  for (; i < n; ++i) {
    mx = x[i] > mx ? x[i] : mx;
    nan_count += x[i] != x[i];
  }
  int64_t k = 0;
  if (nan_count > 0) {
    while (x[k] == x[k]) ++k;
  } else {
    while (x[k] != mx) ++k;
  }
  best = x[k];
  return k;
}

// vals[a, c] = max_k x[a, k, c], idx[a, c] = its first arg max; x contiguous [A, K, C] with K >= 1.
template <class T>
void max_akc(const T* x, int64_t A, int64_t K, int64_t C, T* vals, int64_t* idx) {
  parallel_for(A, std::max<int64_t>(1, kReduceGrain / std::max<int64_t>(K * C, 1)),
               [&](int64_t b, int64_t e) {
                 for (int64_t a = b; a < e; ++a) {
                   const T* xa = x + a * K * C;
                   T* va = vals + a * C;
                   int64_t* ia = idx + a * C;
                   if (C == 1) {
                     ia[0] = row_argmax(xa, K, va[0]);
                     continue;
                   }
                   for (int64_t c = 0; c < C; ++c) va[c] = xa[c], ia[c] = 0;
                   for (int64_t k = 1; k < K; ++k) {
                     const T* row = xa + k * C;
                     for (int64_t c = 0; c < C; ++c)
                       if (takes_max(row[c], va[c])) va[c] = row[c], ia[c] = k;
                   }
                 }
               });
}

}  // namespace xfmr::kernels
