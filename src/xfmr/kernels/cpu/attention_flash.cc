#include "xfmr/kernels/cpu/attention_flash.h"

// GCC 12 reports its own _mm512_undefined_epi32() inside the lane-shuffle intrinsics of simd::transpose16 as
// (maybe-)uninitialized when they are inlined (at -O1, the debug preset, as "uninitialized"; as in gemm_bf16.cc);
// the value is never read.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#pragma GCC diagnostic ignored "-Wuninitialized"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <type_traits>
#include <utility>

#include <omp.h>

#include "xfmr/core/allocator.h"
#include "xfmr/core/check.h"
#include "xfmr/core/parallel.h"
#include "xfmr/core/rng.h"
#include "xfmr/kernels/cpu/attention_gemm.h"
#include "xfmr/kernels/cpu/bf16_convert.h"
#include "xfmr/kernels/cpu/simd_transpose.h"
#include "xfmr/kernels/cpu/vmath.h"

namespace xfmr::kernels {

namespace {

using attn::gemm;

// Per-worker scratch from the caching allocator (no system allocation in a steady state).
template <class T>
class Scratch {
 public:
  explicit Scratch(int64_t n) : bytes_(static_cast<size_t>(std::max<int64_t>(n, 1)) * sizeof(T)) {
    p_ = static_cast<T*>(buffer_alloc(bytes_));
  }
  ~Scratch() { buffer_free(p_, bytes_); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  T* get() const { return p_; }

 private:
  size_t bytes_;
  T* p_;
};

// Scratch for every worker of one parallel_for, allocated once on the calling thread: a fixed number of
// fixed-size blocks per call, so the caching allocator sees the same requests every step (per-worker
// allocations inside the region would need as many cached blocks as happened to be live at once, which varies
// with scheduling). Worker w uses slice(w); w is omp_get_thread_num(), below the team size parallel_for uses
// (<= num_threads()), or below the enclosing team's size when we run inside someone else's parallel region.
template <class T>
class WorkerScratch {
 public:
  explicit WorkerScratch(int64_t per_worker)
      : per_(std::max<int64_t>(per_worker, 1)),
        workers_(std::max<int64_t>(num_threads(), omp_in_parallel() ? omp_get_num_threads() : 1)),
        buf_(per_ * workers_) {}
  T* slice() const {
    const int64_t w = omp_get_thread_num();
    XF_DCHECK(w < workers_, "attention scratch: worker ", w, " of ", workers_);
    return buf_.get() + w * per_;
  }

 private:
  int64_t per_, workers_;
  Scratch<T> buf_;
};

template <class T>
constexpr T kInf = std::numeric_limits<T>::infinity();

// How many keys of [j0, j0 + nc) query row t may see: all of them, or (causal) those with s <= t + off.
inline int64_t visible_keys(bool causal, int64_t t, int64_t off, int64_t j0, int64_t nc) {
  if (!causal) return nc;
  return std::clamp<int64_t>(t + off - j0 + 1, 0, nc);
}

// row[c] += mask[c * stride] for c < n (the mask row is already offset to (b, h, t, j0)).
template <class T>
inline void add_mask_row(T* row, const T* m, int64_t stride, int64_t n) {
  if (stride == 1) {
    for (int64_t c = 0; c < n; ++c) row[c] += m[c];
  } else {
    for (int64_t c = 0; c < n; ++c) row[c] += m[c * stride];
  }
}

// Row reductions. `omp simd reduction` licenses the reassociation that vectorising a running max/sum needs
// (plain loops stay scalar without -ffast-math); the result differs from a serial sum only in rounding.
template <class T>
T row_max(const T* row, int64_t n) {
  T m = -kInf<T>;
#pragma omp simd reduction(max : m)
  for (int64_t c = 0; c < n; ++c) m = std::max(m, row[c]);
  return m;
}

// row[c] = exp(row[c] - shift) for c < n; returns their sum.
template <class T>
T exp_shift_sum(T* row, int64_t n, T shift) {
  T sum = 0;
#pragma omp simd reduction(+ : sum)
  for (int64_t c = 0; c < n; ++c) {
    const T e = vmath::exp(row[c] - shift);
    row[c] = e;
    sum += e;
  }
  return sum;
}

// Work items smaller than this many multiply-adds are grouped, so tiny problems (decode steps, tests) run on
// the calling thread instead of paying a thread-team start per call.
constexpr int64_t kMinParallelWork = int64_t{1} << 20;

inline int64_t grain_for(int64_t work_per_item) {
  return std::max<int64_t>(1, kMinParallelWork / std::max<int64_t>(work_per_item, 1));
}

// The layout an operand [B, H, rows, cols] actually has (FlashLayout t == 0: contiguous).
inline FlashLayout resolve(FlashLayout l, int64_t H, int64_t rows, int64_t cols) {
  return l.t != 0 ? l : FlashLayout{H * rows * cols, rows * cols, cols};
}

// Row `t` of head h in batch b of an operand with layout l.
template <class T>
inline T* row_at(T* base, const FlashLayout& l, int64_t b, int64_t h, int64_t t) {
  return base + b * l.b + h * l.h + t * l.t;
}

// dst[b, h, c, r] = src[b, h, r, c] for B * H matrices of [rows, cols] (src through layout ls, dst contiguous), in
// parallel over blocks of rows.
template <class T>
void transpose_heads(const T* src, const FlashLayout& ls, int64_t B, int64_t H, T* dst, int64_t rows,
                     int64_t cols) {
  constexpr int64_t kRowBlock = 32;
  const int64_t nblk = (rows + kRowBlock - 1) / kRowBlock;
  parallel_for(B * H * nblk, grain_for(kRowBlock * cols * 8), [&](int64_t begin, int64_t end) {
    for (int64_t u = begin; u < end; ++u) {
      const int64_t bh = u / nblk, r0 = (u % nblk) * kRowBlock, r1 = std::min(rows, r0 + kRowBlock);
      const T* s = src + (bh / H) * ls.b + (bh % H) * ls.h;
      T* d = dst + bh * rows * cols;
      for (int64_t c = 0; c < cols; ++c)
        for (int64_t r = r0; r < r1; ++r) d[c * rows + r] = s[r * ls.t + c];
    }
  });
}

// Philox4x32-10 (Salmon et al. 2011) for the n consecutive counters (s4 + i, t, h, b) under key (k0, k1), into
// words[4 i .. 4 i + 3]: the function core/rng.h's philox4x32 computes (attention_dropout_words calls that one;
// the fused-vs-reference tests hold the two equal), restated as a loop over i that the compiler vectorises —
// one call to the out-of-line scalar version per 4 probabilities made dropout double the attention step's cost.
inline void philox_blocks(uint64_t s4, uint32_t t, uint32_t h, uint32_t b, uint32_t k0, uint32_t k1, int n,
                          uint32_t* words) {
  constexpr uint32_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u, W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;
#pragma omp simd
  for (int i = 0; i < n; ++i) {
    uint32_t c0 = static_cast<uint32_t>(s4 + static_cast<uint64_t>(i)), c1 = t, c2 = h, c3 = b, a0 = k0, a1 = k1;
    for (int r = 0; r < 10; ++r) {
      const uint64_t p0 = static_cast<uint64_t>(M0) * c0, p1 = static_cast<uint64_t>(M1) * c2;
      const uint32_t n0 = static_cast<uint32_t>(p1 >> 32) ^ c1 ^ a0;
      const uint32_t n2 = static_cast<uint32_t>(p0 >> 32) ^ c3 ^ a1;
      c1 = static_cast<uint32_t>(p1);
      c3 = static_cast<uint32_t>(p0);
      c0 = n0;
      c2 = n2;
      a0 += W0;
      a1 += W1;
    }
    words[4 * i] = c0;
    words[4 * i + 1] = c1;
    words[4 * i + 2] = c2;
    words[4 * i + 3] = c3;
  }
}

// The dropout mask of one call, as the kernels need it: keep iff word >= threshold, kept values scaled by inv.
template <class T>
struct DropoutMask {
  static constexpr int kBlocks = 32;  // Philox blocks (of 4 keys) generated per batch
  bool on = false;
  uint64_t seed = 0;
  uint32_t threshold = 0;
  T inv = 1;
  explicit DropoutMask(const FlashAttentionParams& p)
      : on(p.dropout_p > 0), seed(p.dropout_seed), threshold(attention_dropout_threshold(p.dropout_p)),
        inv(static_cast<T>(1.0 / (1.0 - p.dropout_p))) {}
  // Calls f(c, z) for c < n with z = inv (kept) or 0 (dropped) for key j0 + c of row (b, h, t).
  template <class F>
  void row(int64_t b, int64_t h, int64_t t, int64_t j0, int64_t n, F&& f) const {
    uint32_t w[4 * kBlocks];
    for (int64_t s = j0; s < j0 + n;) {
      const int64_t s4 = s >> 2, s_end = std::min(j0 + n, (s4 + kBlocks) * 4);
      philox_blocks(static_cast<uint64_t>(s4), static_cast<uint32_t>(t), static_cast<uint32_t>(h),
                    static_cast<uint32_t>(b), static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32),
                    static_cast<int>((s_end - 1) / 4 - s4 + 1), w);
      const int64_t base = s4 * 4;  // w[s - base] is key s's word
      for (; s < s_end; ++s) f(s - j0, w[s - base] >= threshold ? inv : T(0));
    }
  }
};

struct Tiles {
  int64_t br, bc, nqb, nkb;
};

int64_t flash_block_size_impl(int64_t D, int64_t Dv) {
  const int64_t width = std::max<int64_t>({D, Dv, 1});
  int64_t edge = 64;
  while (edge > 8 && edge * edge * width > 65536 * 4) edge /= 2;
  return edge;
}

Tiles tiles_for(const FlashAttentionParams& p) {
  const int64_t def = flash_block_size_impl(p.D, p.Dv);
  Tiles t;
  t.br = p.block_q > 0 ? p.block_q : def;
  t.bc = p.block_k > 0 ? p.block_k : def;
  t.nqb = (p.T + t.br - 1) / t.br;
  t.nkb = (p.S + t.bc - 1) / t.bc;
  return t;
}

// ---- Single-tile heads (T, S <= kSmallMax, no additive mask): the ICL / char-model training shapes ----
//
// With T = S = 22 and D = 32 a head is one 22 x 22 tile, and the tiled path's cost is overhead: seven GEMM calls
// per head (each packing both operands), the Qᵀ / dOᵀ transposes, the dQ tile transpose and per-tile fills cost
// several times the ~100k multiply-adds of the head. These kernels do the same algebra (the same softmax, lse,
// delta and dropout mask as the tiled path) with plain loops over one query row or one key at a time: scores
// against a Kᵀ [D, ns] copy (ns = S rounded up to 16, so the row loops have no tails), every other product as
// row updates over the head dimension. Products are f32 even in a bf16 run (kernels/cpu/attention_gemm.h):
// at this size the bf16 GEMM's packing, not its multiply rate, is what costs. Only the order of the sums differs
// from the tiled path; each head is computed by one thread, so results do not depend on the thread count.
constexpr int64_t kSmallMax = 64;

// Whether the single-tile kernels below take the call: one query tile and one key tile (the default tiles for
// T, S <= 64 at D <= 64), T, S <= kSmallMax, no additive mask.
inline bool small_heads(const FlashAttentionParams& p, const Tiles& tl, const void* mask) {
  return mask == nullptr && tl.nqb == 1 && tl.nkb == 1 && p.T <= kSmallMax && p.S <= kSmallMax && p.T > 0;
}

inline int64_t round16(int64_t n) { return (n + 15) / 16 * 16; }

// Prefetches the `rows` rows of `width` elements of one head (rows l.t apart) into the cache: the next work item's
// operands, while this one computes. In a packed qkv the rows of one head are 3C elements apart, a stride the
// hardware prefetchers do not follow across the short rows, and each head's first pass over them otherwise waits
// on memory. Into L2 (PREFETCHT1), not L1: a work item asks for ~100-180 lines at once, more than L1 can have in
// flight (its fill buffers drop the excess), and the item's lines would push the current one's out of L1. ICL
// small bf16 step, 1 thread, 6 interleaved rounds: 14.10 -> 13.76 ms (T0 -> T1; T2 13.78).
template <class T>
inline void prefetch_rows(const T* base, int64_t ld, int64_t rows, int64_t width) {
  constexpr int64_t kLine = 64 / sizeof(T);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t w = 0; w < width; w += kLine) __builtin_prefetch(base + r * ld + w, 0, 2);
}
// Row passes over ns = round16(S) entries in blocks of 16 with the block length a constant, so they compile to
// whole vectors (runtime-length loops over 22 entries spent most of their time in scalar tails; a max reduction
// written with std::max did not vectorise at all).

// row[j] = j < n ? a * row[j] + c : -inf, for j < ns.
template <class T>
inline void affine_or_neg_inf(T* row, int64_t ns, int64_t n, T a, T c) {
  for (int64_t j0 = 0; j0 < ns; j0 += 16) {
    const int32_t lim = static_cast<int32_t>(std::clamp<int64_t>(n - j0, 0, 16));
    T* r = row + j0;
#pragma omp simd
    for (int32_t l = 0; l < 16; ++l) r[l] = l < lim ? a * r[l] + c : -kInf<T>;
  }
}

template <class T>
inline T max16(const T* row, int64_t ns) {
  T m[16];
  for (int l = 0; l < 16; ++l) m[l] = row[l];
  for (int64_t j0 = 16; j0 < ns; j0 += 16)
#pragma omp simd
    for (int l = 0; l < 16; ++l) m[l] = m[l] < row[j0 + l] ? row[j0 + l] : m[l];
  T r = m[0];
  for (int l = 1; l < 16; ++l) r = r < m[l] ? m[l] : r;
  return r;
}

// Sum of row[j] for j < ns: lane l of 16 takes j = l, l + 16, ..., then the lanes are added pairwise (not a
// chain of 16 dependent adds).
template <class T>
inline T sum16(const T* row, int64_t ns) {
  T s[16] = {};
  for (int64_t j0 = 0; j0 < ns; j0 += 16)
#pragma omp simd
    for (int l = 0; l < 16; ++l) s[l] += row[j0 + l];
  for (int w = 8; w > 0; w /= 2)
    for (int l = 0; l < w; ++l) s[l] += s[l + w];
  return s[0];
}

// Sum of x[j] y[j] for j < n (a multiple of 16), over 16 lanes added pairwise as in sum16.
template <class T>
inline T dot16(const T* x, const T* y, int64_t n) {
  T s[16] = {};
  for (int64_t j0 = 0; j0 < n; j0 += 16)
#pragma omp simd
    for (int l = 0; l < 16; ++l) s[l] += x[j0 + l] * y[j0 + l];
  for (int w = 8; w > 0; w /= 2)
    for (int l = 0; l < w; ++l) s[l] += s[l + w];
  return s[0];
}

#if defined(__AVX512F__)
// f32 with AVX-512: the same lanes and the same pairwise order (_mm512_reduce_add_ps adds lane l + 8, then
// l + 4, l + 2, l + 1), in registers: GCC 12 compiled the lane arrays above to stack loops, ~12% of the forward.
inline float max16(const float* row, int64_t ns) {
  __m512 m = _mm512_loadu_ps(row);
  for (int64_t j0 = 16; j0 < ns; j0 += 16) m = _mm512_max_ps(_mm512_loadu_ps(row + j0), m);
  return _mm512_reduce_max_ps(m);
}
inline float sum16(const float* row, int64_t ns) {
  __m512 s = _mm512_loadu_ps(row);
  for (int64_t j0 = 16; j0 < ns; j0 += 16) s = _mm512_add_ps(s, _mm512_loadu_ps(row + j0));
  return _mm512_reduce_add_ps(s);
}
inline float dot16(const float* x, const float* y, int64_t n) {
  __m512 s = _mm512_setzero_ps();
  for (int64_t j0 = 0; j0 < n; j0 += 16) s = _mm512_fmadd_ps(_mm512_loadu_ps(x + j0), _mm512_loadu_ps(y + j0), s);
  return _mm512_reduce_add_ps(s);
}
#endif

// ln of a softmax row's sum of exp(x - max): at least 1 (the max term), so a positive normal number.
inline float log_of_sum(float s) { return vmath::log_positive(s); }  // libm's logf was ~5% of the forward
inline double log_of_sum(double s) { return std::log(s); }

// e^x for the softmax arguments x = score - max or scale·score - lse: at most a few ulp above 0, often -inf.
inline float exp_softmax(float x) { return vmath::exp_nonpos(x); }  // no overflow path to pay for
inline double exp_softmax(double x) { return std::exp(x); }

// row[j] = exp(row[j] - shift) for j < ns.
template <class T>
inline void exp16(T* row, int64_t ns, T shift) {
  for (int64_t j0 = 0; j0 < ns; j0 += 16) {
    T* r = row + j0;
#pragma omp simd
    for (int l = 0; l < 16; ++l) r[l] = exp_softmax(r[l] - shift);
  }
}

// dst[d * ns + s] = src row s element d for s < S (rows `ld` apart), zero for S <= s < ns; 16 rows at a time, so
// each output vector is one (masked) gather instead of 16 scalar loads and inserts.
template <class T>
void transpose_rows(const T* src, int64_t ld, int64_t S, int64_t D, int64_t ns, T* dst) {
  for (int64_t s0 = 0; s0 < ns; s0 += 16) {
    const int32_t lim = static_cast<int32_t>(std::clamp<int64_t>(S - s0, 0, 16));
    const T* sb = src + s0 * ld;
    for (int64_t d = 0; d < D; ++d) {
      T* o = dst + d * ns + s0;
#pragma omp simd
      for (int32_t i = 0; i < 16; ++i) o[i] = i < lim ? sb[i * ld + d] : T(0);
    }
  }
}

#if defined(__AVX512F__)
// f32 with AVX-512: 16 x 16 blocks transposed in registers (kernels/cpu/simd_transpose.h). The loop above
// compiles to one scalar load and store per element, which cost as much as the head's Q Kᵀ product.
inline void transpose_rows(const float* src, int64_t ld, int64_t S, int64_t D, int64_t ns, float* dst) {
  for (int64_t s0 = 0; s0 < ns; s0 += 16) {
    for (int64_t d0 = 0; d0 < D; d0 += 16) {
      const int64_t nd = std::min<int64_t>(16, D - d0);
      const __mmask16 dm = static_cast<__mmask16>((1u << nd) - 1);
      __m512i r[16];
      for (int64_t i = 0; i < 16; ++i)
        r[i] = s0 + i < S ? _mm512_castps_si512(_mm512_maskz_loadu_ps(dm, src + (s0 + i) * ld + d0))
                          : _mm512_setzero_si512();
      simd::transpose16(r);
      for (int64_t i = 0; i < nd; ++i) _mm512_storeu_si512(dst + (d0 + i) * ns + s0, r[i]);
    }
  }
}
#endif

// out[i, w] = sum_{j < n} c[i * c_rs + j * c_js] * r[j * r_js + w] for i < R, w < W: R * W accumulators that stay
// in registers across the whole sum, R independent rows sharing each load of r (a loop that updates an output row
// in memory per term waits on store-to-load forwarding; one row of accumulators waits on the FMA latency).
template <class T, int R, int W>
inline void block_fixed(int64_t n, const T* c, int64_t c_rs, int64_t c_js, const T* r, int64_t r_js, T* out,
                        int64_t out_rs) {
  T acc[R][W] = {};
  for (int64_t j = 0; j < n; ++j) {
    const T* rr = r + j * r_js;
    for (int i = 0; i < R; ++i) {
      const T x = c[i * c_rs + j * c_js];
#pragma omp simd
      for (int w = 0; w < W; ++w) acc[i][w] += x * rr[w];
    }
  }
  for (int i = 0; i < R; ++i)
    for (int w = 0; w < W; ++w) out[i * out_rs + w] = acc[i][w];
}

template <class T, int R>
inline void block_rows(int64_t n, const T* c, int64_t c_rs, int64_t c_js, const T* r, int64_t r_js, int64_t width,
                       T* out, int64_t out_rs) {
  int64_t w = 0;
  for (; w + 32 <= width; w += 32) block_fixed<T, R, 32>(n, c, c_rs, c_js, r + w, r_js, out + w, out_rs);
  for (; w + 16 <= width; w += 16) block_fixed<T, R, 16>(n, c, c_rs, c_js, r + w, r_js, out + w, out_rs);
  for (; w + 4 <= width; w += 4) block_fixed<T, R, 4>(n, c, c_rs, c_js, r + w, r_js, out + w, out_rs);
  for (; w < width; ++w) block_fixed<T, R, 1>(n, c, c_rs, c_js, r + w, r_js, out + w, out_rs);
}

// The product out[i, :width] = sum_j c(i, j) r[j, :width] for i < m, c(i, j) = c[i * c_rs + j * c_js], r rows
// r_js apart, out rows out_rs apart, in blocks of 4 output rows; range(i0, i1) gives the [j0, j1) of terms that
// rows i0 .. i1 - 1 need (the causal band); a row's coefficients outside its own band must be zero. cols(i0, i1),
// if given, narrows the columns of a block to [0, cols) (<= width): the keys that causal rows can see.
template <class T, class Range, class Cols = std::nullptr_t>
void block_product(int64_t m, const T* c, int64_t c_rs, int64_t c_js, const T* r, int64_t r_js, int64_t width_all,
                   T* out, int64_t out_rs, Range range, Cols cols = nullptr) {
  for (int64_t i0 = 0; i0 < m; i0 += 4) {
    const int64_t nr = std::min<int64_t>(4, m - i0);
    int64_t width = width_all;
    if constexpr (!std::is_same_v<Cols, std::nullptr_t>) width = std::min(width_all, cols(i0, i0 + nr));
    const auto [j0, j1] = range(i0, i0 + nr);
    const int64_t n = std::max<int64_t>(0, j1 - j0);
    const T* cb = c + i0 * c_rs + j0 * c_js;
    const T* rb = r + j0 * r_js;
    T* ob = out + i0 * out_rs;
    switch (nr) {
      case 4: block_rows<T, 4>(n, cb, c_rs, c_js, rb, r_js, width, ob, out_rs); break;
      case 3: block_rows<T, 3>(n, cb, c_rs, c_js, rb, r_js, width, ob, out_rs); break;
      case 2: block_rows<T, 2>(n, cb, c_rs, c_js, rb, r_js, width, ob, out_rs); break;
      default: block_rows<T, 1>(n, cb, c_rs, c_js, rb, r_js, width, ob, out_rs); break;
    }
  }
}

struct FullRange {
  int64_t n;
  std::pair<int64_t, int64_t> operator()(int64_t, int64_t) const { return {0, n}; }
};

// ---- The single-tile kernels' products in a bf16 run ----
//
// A bf16 run sends the tiled path's tile products through the bf16 GEMM (attention_gemm.h: bf16 operands, f32
// sums, as autocast does for attention). The single-tile kernels do the same with products of their own: each
// operand is rounded to bf16 pair words (kernels/cpu/bf16_convert.h) in the layout its product reads, and
// VDPBF16PS adds two products per f32 lane. Softmax, lse, delta and dS stay f32, as in the tiled path. The
// operands take one of three layouts, all [pairs or rows, width] in 32-bit words:
//   pairs along a row (rows_to_pairs): row i holds (x[i][2q], x[i][2q+1]): Q, dO, P, dS as the left factor;
//   pairs along rows (interleave_rows): pair row q holds (x[2q][w], x[2q+1][w]) for each column w: the right
//     factor of a product that sums over rows (V and K over keys; dO and Q over queries; P and dS over queries
//     as the left factor of dV and dK, read down a column);
//   transposed pairs (transpose_to_pairs): pair row q holds (x[s][2q], x[s][2q+1]) for each row s: Kᵀ and Vᵀ.
// Pairs past a row's end or rows past the last are zero, so sums over a causal band rounded out to whole pairs
// add zeros. Used when the head dimensions are multiples of 16 (whole vectors of output columns).
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define XF_ATTENTION_BF16 1

bool small_bf16(const FlashAttentionParams& p) {
  return effective_matmul_precision() == MatmulPrecision::bf16 && cpu_has_avx512_bf16() && p.D % 16 == 0 &&
         p.Dv % 16 == 0;
}

// x [rows, n] (row stride ld) -> out [rows, out_ld] pair words, zero past ceil(n / 2) up to out_ld (a multiple
// of 16).
XF_BF16_TARGET void rows_to_pairs(const float* x, int64_t ld, int64_t rows, int64_t n, uint32_t* out,
                                  int64_t out_ld) {
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t q0 = 0; q0 < out_ld; q0 += 16)
      _mm512_storeu_si512(out + i * out_ld + q0, bf16::cvt_pairs(x + i * ld + 2 * q0, n - 2 * q0));
}

// x [rows, n] (row stride ld, n a multiple of 16) -> out [npairs, out_ld]: out[q][w] = (x[2q][w], x[2q + 1][w]),
// rows at or past `rows` zero.
XF_BF16_TARGET void interleave_rows(const float* x, int64_t ld, int64_t rows, int64_t npairs, int64_t n,
                                    uint32_t* out, int64_t out_ld) {
  for (int64_t q = 0; q < npairs; ++q) {
    const float* r0 = 2 * q < rows ? x + 2 * q * ld : nullptr;
    const float* r1 = 2 * q + 1 < rows ? x + (2 * q + 1) * ld : nullptr;
    for (int64_t w = 0; w < n; w += 16)
      _mm512_storeu_si512(out + q * out_ld + w, r0 ? bf16::cvt_interleave(r0 + w, r1 ? r1 + w : nullptr, 16)
                                                   : _mm512_setzero_si512());
  }
}

// x [S, D] (row stride ld) -> out [ceil(D / 2), ns]: out[q][s] = (x[s][2q], x[s][2q + 1]), zero for s >= S; 16 x 16
// blocks of words transposed in registers (kernels/cpu/simd_transpose.h).
XF_BF16_TARGET void transpose_to_pairs(const float* x, int64_t ld, int64_t S, int64_t D, int64_t ns, uint32_t* out) {
  const int64_t np = (D + 1) / 2;
  for (int64_t s0 = 0; s0 < ns; s0 += 16) {
    for (int64_t q0 = 0; q0 < np; q0 += 16) {
      __m512i v[16];
      for (int64_t i = 0; i < 16; ++i)
        v[i] = s0 + i < S ? bf16::cvt_pairs(x + (s0 + i) * ld + 2 * q0, D - 2 * q0) : _mm512_setzero_si512();
      simd::transpose16(v);
      const int64_t nq = std::min<int64_t>(16, np - q0);
      for (int64_t q = 0; q < nq; ++q) _mm512_storeu_si512(out + (q0 + q) * ns + s0, v[q]);
    }
  }
}

// out[i, :W] = sum_{q < np} c(i, q) · r[q, :W] for i < R, c(i, q) = c[i * c_rs + q * c_ps] a pair word, r rows
// r_ps words apart; W a multiple of 16. block_fixed's scheme with two products per lane and step.
template <int R, int W>
XF_BF16_TARGET inline void block_fixed_bf16(int64_t np, const uint32_t* c, int64_t c_rs, int64_t c_ps,
                                            const uint32_t* r, int64_t r_ps, float* out, int64_t out_rs) {
  constexpr int V = W / 16;
  __m512 acc[R][V];
  for (int i = 0; i < R; ++i)
    for (int v = 0; v < V; ++v) acc[i][v] = _mm512_setzero_ps();
  for (int64_t q = 0; q < np; ++q) {
    __m512bh rv[V];
    for (int v = 0; v < V; ++v) rv[v] = (__m512bh)_mm512_loadu_si512(r + q * r_ps + 16 * v);
    for (int i = 0; i < R; ++i) {
      const __m512bh a = (__m512bh)_mm512_set1_epi32(static_cast<int>(c[i * c_rs + q * c_ps]));
      for (int v = 0; v < V; ++v) acc[i][v] = _mm512_dpbf16_ps(acc[i][v], a, rv[v]);
    }
  }
  for (int i = 0; i < R; ++i)
    for (int v = 0; v < V; ++v) _mm512_storeu_ps(out + i * out_rs + 16 * v, acc[i][v]);
}

template <int R>
XF_BF16_TARGET inline void block_rows_bf16(int64_t np, const uint32_t* c, int64_t c_rs, int64_t c_ps,
                                           const uint32_t* r, int64_t r_ps, int64_t width, float* out,
                                           int64_t out_rs) {
  int64_t w = 0;
  for (; w + 32 <= width; w += 32) block_fixed_bf16<R, 32>(np, c, c_rs, c_ps, r + w, r_ps, out + w, out_rs);
  for (; w < width; w += 16) block_fixed_bf16<R, 16>(np, c, c_rs, c_ps, r + w, r_ps, out + w, out_rs);
}

// block_product with pair-word operands (layouts above): c(i, q) = c[i * c_rs + q * c_ps] holds terms 2q and
// 2q + 1; range(i0, i1) still gives [j0, j1) in terms, rounded out to whole pairs (the extra terms are zero).
// width_all (and cols) multiples of 16.
template <class Range, class Cols = std::nullptr_t>
XF_BF16_TARGET void block_product_bf16(int64_t m, const uint32_t* c, int64_t c_rs, int64_t c_ps,
                                       const uint32_t* r, int64_t r_ps, int64_t width_all, float* out,
                                       int64_t out_rs, Range range, Cols cols = nullptr) {
  for (int64_t i0 = 0; i0 < m; i0 += 4) {
    const int64_t nr = std::min<int64_t>(4, m - i0);
    int64_t width = width_all;
    if constexpr (!std::is_same_v<Cols, std::nullptr_t>) width = std::min(width_all, cols(i0, i0 + nr));
    const auto [j0, j1] = range(i0, i0 + nr);
    const int64_t q0 = std::max<int64_t>(0, j0) / 2, np = std::max<int64_t>(0, (j1 + 1) / 2 - q0);
    const uint32_t* cb = c + i0 * c_rs + q0 * c_ps;
    const uint32_t* rb = r + q0 * r_ps;
    float* ob = out + i0 * out_rs;
    switch (nr) {
      case 4: block_rows_bf16<4>(np, cb, c_rs, c_ps, rb, r_ps, width, ob, out_rs); break;
      case 3: block_rows_bf16<3>(np, cb, c_rs, c_ps, rb, r_ps, width, ob, out_rs); break;
      case 2: block_rows_bf16<2>(np, cb, c_rs, c_ps, rb, r_ps, width, ob, out_rs); break;
      default: block_rows_bf16<1>(np, cb, c_rs, c_ps, rb, r_ps, width, ob, out_rs); break;
    }
  }
}
#else
#define XF_ATTENTION_BF16 0
#endif

// Whether a single-tile call multiplies in bf16 (only T = float in a bf16 run; not with dropout, whose mask
// rescales P between its products), and the word layouts it then keeps per worker.
template <class T>
bool small_uses_bf16(const FlashAttentionParams& p) {
#if XF_ATTENTION_BF16
  if constexpr (std::is_same_v<T, float>) return p.dropout_p == 0 && small_bf16(p);
#endif
  return false;
}
struct SmallWords {
  int64_t dw, dvw, pwl, nsp, tp;  // pair words of a D / Dv / ns row; key pairs; query pairs
  SmallWords(const FlashAttentionParams& p, int64_t ns)
      : dw(round16((p.D + 1) / 2)), dvw(round16((p.Dv + 1) / 2)), pwl(round16(ns / 2)), nsp(ns / 2),
        tp((p.T + 1) / 2) {}
};
// The bf16 calls take float operands; they are reached only when small_uses_bf16<T> (T = float).
template <class T>
inline float* fl(T* x) {
  return reinterpret_cast<float*>(x);
}
template <class T>
inline const float* fl(const T* x) {
  return reinterpret_cast<const float*>(x);
}

template <class T>
void small_forward(const FlashAttentionParams& p, const T* q, const T* k, const T* v, T* out, T* lse,
                   const FlashLayout& lq, const FlashLayout& lk, const FlashLayout& lv, const FlashLayout& lo) {
  const DropoutMask<T> drop(p);
  const int64_t group = p.Hq / p.Hkv, off = p.S - p.T, ns = round16(p.S);
  const T scale = static_cast<T>(p.scale);
  const bool bf = small_uses_bf16<T>(p);
  const SmallWords sw(p, ns);
  // bf16: Q, Kᵀ, P and V as pair words [T, dw], [dw, ns], [T, pwl], [nsp, Dv] after the f32 buffers (the f32
  // Kᵀ is then unused).
  const int64_t words = bf ? p.T * sw.dw + sw.dw * ns + p.T * sw.pwl + sw.nsp * p.Dv : 0;
  const WorkerScratch<T> scratch(p.D * ns + p.T * ns + words * 4 / static_cast<int64_t>(sizeof(T)) + 1);
  // Keys that query rows i0 .. i1 - 1 see: [0, visible keys of the last row).
  const auto causal_band = [&](int64_t, int64_t i1) {
    return std::pair<int64_t, int64_t>{0, visible_keys(p.causal, i1 - 1, off, 0, p.S)};
  };
  // Score columns those rows need: the visible keys rounded up to whole vectors.
  const auto visible16 = [&](int64_t, int64_t i1) { return round16(visible_keys(p.causal, i1 - 1, off, 0, p.S)); };
  parallel_for(p.B * p.Hq, grain_for(p.T * p.S * (p.D + p.Dv)), [&](int64_t begin, int64_t end) {
    T* kt = scratch.slice();  // [D, ns] Kᵀ of the head's kv head
    T* P = kt + p.D * ns;     // [T, ns] scores, then probabilities (zero past each row's visible keys)
    uint32_t* qw = reinterpret_cast<uint32_t*>(P + p.T * ns);
    uint32_t* kt2 = qw + p.T * sw.dw;
    uint32_t* pw = kt2 + sw.dw * ns;
    uint32_t* vp = pw + p.T * sw.pwl;
    int64_t kt_of = -1;       // (b, kv head) whose Kᵀ is in kt: query heads of one group share it
    for (int64_t u = begin; u < end; ++u) {
      const int64_t h = u % p.Hq, b = u / p.Hq, g = h / group;
      if (u + 1 < end) {
        const int64_t hn = (u + 1) % p.Hq, bn = (u + 1) / p.Hq;
        prefetch_rows(row_at(q, lq, bn, hn, 0), lq.t, p.T, p.D);
        prefetch_rows(row_at(k, lk, bn, hn / group, 0), lk.t, p.S, p.D);
        prefetch_rows(row_at(v, lv, bn, hn / group, 0), lv.t, p.S, p.Dv);
      }
      if (kt_of != b * p.Hkv + g) {
#if XF_ATTENTION_BF16
        if (bf) {
          transpose_to_pairs(fl(row_at(k, lk, b, g, 0)), lk.t, p.S, p.D, ns, kt2);
          interleave_rows(fl(row_at(v, lv, b, g, 0)), lv.t, p.S, sw.nsp, p.Dv, vp, p.Dv);
        } else
#endif
        {
          transpose_rows(row_at(k, lk, b, g, 0), lk.t, p.S, p.D, ns, kt);
        }
        kt_of = b * p.Hkv + g;
      }
#if XF_ATTENTION_BF16
      if (bf) {
        rows_to_pairs(fl(row_at(q, lq, b, h, 0)), lq.t, p.T, p.D, qw, sw.dw);
        block_product_bf16(p.T, qw, sw.dw, 1, kt2, ns, ns, fl(P), ns, FullRange{p.D}, visible16);  // Q Kᵀ
      } else
#endif
      {
        block_product(p.T, row_at(q, lq, b, h, 0), lq.t, 1, kt, ns, ns, P, ns, FullRange{p.D}, visible16);  // Q Kᵀ
      }
      T* L = lse + u * p.T;
      // The softmax in passes over all rows, each pass's rows independent of one another: row by row, every
      // row was one dependent chain (max reduction, exp, sum reduction, log) that the core could not overlap
      // with the next row's.
      T row_max[kSmallMax], inv_l[kSmallMax];
      for (int64_t t = 0; t < p.T; ++t)  // keys past the visible ones at -inf, so exp gives 0 (whole rows of ns)
        affine_or_neg_inf(P + t * ns, ns, visible_keys(p.causal, t, off, 0, p.S), scale, T(0));
      for (int64_t t = 0; t < p.T; ++t) row_max[t] = max16(P + t * ns, ns);
      for (int64_t t = 0; t < p.T; ++t) {
        T* row = P + t * ns;
        if (row_max[t] == -kInf<T>)
          std::fill(row, row + ns, T(0));  // sees no key: output 0, lse +inf (backward then passes no gradient)
        else
          exp16(row, ns, row_max[t]);
      }
      for (int64_t t = 0; t < p.T; ++t) {
        if (row_max[t] == -kInf<T>) {
          L[t] = kInf<T>;
          inv_l[t] = 0;
          continue;
        }
        const T sum = sum16(P + t * ns, ns);
        L[t] = row_max[t] + log_of_sum(sum);
        inv_l[t] = T(1) / sum;
      }
      if (drop.on) {
        for (int64_t t = 0; t < p.T; ++t) {
          T* row = P + t * ns;
          drop.row(b, h, t, 0, visible_keys(p.causal, t, off, 0, p.S), [row](int64_t c, T z) { row[c] *= z; });
        }
      }
      T* O = row_at(out, lo, b, h, 0);
#if XF_ATTENTION_BF16
      if (bf) {
        rows_to_pairs(fl(P), ns, p.T, ns, pw, sw.pwl);
        block_product_bf16(p.T, pw, sw.pwl, 1, vp, p.Dv, p.Dv, fl(O), lo.t, causal_band);  // P V
      } else
#endif
      {
        block_product(p.T, P, ns, 1, row_at(v, lv, b, g, 0), lv.t, p.Dv, O, lo.t, causal_band);  // P V
      }
      for (int64_t t = 0; t < p.T; ++t) {
        T* o = O + t * lo.t;
        const T inv = inv_l[t];
        for (int64_t e = 0; e < p.Dv; ++e) o[e] *= inv;
      }
    }
  });
}

// Backward of one (batch, kv head) group per work item (dK, dV rows have one writer). Per query head of the group:
// P = exp(scale Q Kᵀ - lse) and dP = dO Vᵀ as [T, ns] row blocks, dS = P ∘ (dP - delta) row by row (with
// dropout: dP = Z ∘ dO Vᵀ, and P becomes Z ∘ P, the factor of dV), then dQ = scale dS K, and dV += (Z∘P)ᵀ dO,
// dK += scale dSᵀ Q over the causal band of each key block.
template <class T>
void small_backward(const FlashAttentionParams& p, const T* q, const T* k, const T* v, const T* out, const T* lse,
                    const T* dout, T* dq, T* dk, T* dv, const FlashLayout& lq, const FlashLayout& lk,
                    const FlashLayout& lv, const FlashLayout& lo, const FlashLayout& ldo, const FlashLayout& ldq,
                    const FlashLayout& ldk, const FlashLayout& ldv) {
  const DropoutMask<T> drop(p);
  const int64_t group = p.Hq / p.Hkv, off = p.S - p.T, ns = round16(p.S);
  const T scale = static_cast<T>(p.scale);
  const int64_t width = std::max(p.D, p.Dv);
  const bool bf = small_uses_bf16<T>(p);
  const SmallWords sw(p, ns);
  // bf16: per kv head Kᵀ and Vᵀ as transposed pairs [dw, ns], [dvw, ns] and K pairs over keys [nsp, D]; per
  // head Q and dO as row pairs [T, dw], [T, dvw], dS as row pairs [T, pwl], and P, dO, dS, Q as pairs over
  // queries [tp, ns], [tp, Dv], [tp, ns], [tp, D]. After the f32 buffers (whose Kᵀ, Vᵀ are then unused).
  const int64_t words = bf ? (sw.dw + sw.dvw) * ns + sw.nsp * p.D + p.T * (sw.dw + sw.dvw + sw.pwl) +
                                 sw.tp * (2 * ns + p.Dv + p.D)
                           : 0;
  const WorkerScratch<T> scratch((p.D + p.Dv + 2 * p.T) * ns + p.S * width +
                                 words * 4 / static_cast<int64_t>(sizeof(T)) + 1);
  const auto query_band = [&](int64_t, int64_t i1) {  // keys seen by query rows .. i1 - 1
    return std::pair<int64_t, int64_t>{0, visible_keys(p.causal, i1 - 1, off, 0, p.S)};
  };
  const auto visible16 = [&](int64_t, int64_t i1) { return round16(visible_keys(p.causal, i1 - 1, off, 0, p.S)); };
  const auto key_band = [&](int64_t s0, int64_t) {  // query rows that see any of keys s0 ..
    return std::pair<int64_t, int64_t>{p.causal ? std::clamp<int64_t>(s0 - off, 0, p.T) : 0, p.T};
  };
  parallel_for(p.B * p.Hkv, grain_for(group * p.T * p.S * (2 * p.D + 3 * p.Dv)), [&](int64_t begin, int64_t end) {
    T* kt = scratch.slice();   // [D, ns] Kᵀ
    T* vt = kt + p.D * ns;     // [Dv, ns] Vᵀ
    T* P = vt + p.Dv * ns;     // [T, ns] probabilities (with dropout Z ∘ P); zero past each row's visible keys
    T* dS = P + p.T * ns;      // [T, ns] dP, then dS; likewise zero past the visible keys
    T* acc = dS + p.T * ns;    // [S, max(D, Dv)] one head's dK or dV contribution
    uint32_t* kt2 = reinterpret_cast<uint32_t*>(acc + p.S * width);
    uint32_t* vt2 = kt2 + sw.dw * ns;
    uint32_t* kp = vt2 + sw.dvw * ns;
    uint32_t* qw = kp + sw.nsp * p.D;
    uint32_t* dow = qw + p.T * sw.dw;
    uint32_t* dsw = dow + p.T * sw.dvw;
    uint32_t* pp = dsw + p.T * sw.pwl;
    uint32_t* dsp = pp + sw.tp * ns;
    uint32_t* dop = dsp + sw.tp * ns;
    uint32_t* qp = dop + sw.tp * p.Dv;
    for (int64_t u = begin; u < end; ++u) {
      const int64_t g = u % p.Hkv, b = u / p.Hkv;
      if (u + 1 < end) {
        const int64_t gn = (u + 1) % p.Hkv, bn = (u + 1) / p.Hkv;
        prefetch_rows(row_at(k, lk, bn, gn, 0), lk.t, p.S, p.D);
        prefetch_rows(row_at(v, lv, bn, gn, 0), lv.t, p.S, p.Dv);
        for (int64_t h = gn * group; h < (gn + 1) * group; ++h) {
          prefetch_rows(row_at(q, lq, bn, h, 0), lq.t, p.T, p.D);
          prefetch_rows(row_at(dout, ldo, bn, h, 0), ldo.t, p.T, p.Dv);
          if (drop.on) prefetch_rows(row_at(out, lo, bn, h, 0), lo.t, p.T, p.Dv);  // only read for dropout's delta
        }
      }
      const T* K = row_at(k, lk, b, g, 0);
      const T* V = row_at(v, lv, b, g, 0);
#if XF_ATTENTION_BF16
      if (bf) {
        transpose_to_pairs(fl(K), lk.t, p.S, p.D, ns, kt2);
        transpose_to_pairs(fl(V), lv.t, p.S, p.Dv, ns, vt2);
        interleave_rows(fl(K), lk.t, p.S, sw.nsp, p.D, kp, p.D);
      } else
#endif
      {
        transpose_rows(K, lk.t, p.S, p.D, ns, kt);
        transpose_rows(V, lv.t, p.S, p.Dv, ns, vt);
      }
      T* dK = row_at(dk, ldk, b, g, 0);
      T* dV = row_at(dv, ldv, b, g, 0);
      // One query head per kv head (no GQA): its products are dK and dV themselves, written in place below;
      // otherwise each head's products are added into zeroed rows.
      const bool direct = group == 1;
      if (!direct) {
        for (int64_t s = 0; s < p.S; ++s) {
          std::fill_n(dK + s * ldk.t, p.D, T(0));
          std::fill_n(dV + s * ldv.t, p.Dv, T(0));
        }
      }
      for (int64_t h = g * group; h < (g + 1) * group; ++h) {
        const int64_t bh = b * p.Hq + h;
        const T* Q = row_at(q, lq, b, h, 0);
        const T* dO = row_at(dout, ldo, b, h, 0);
        const T* O = row_at(out, lo, b, h, 0);
#if XF_ATTENTION_BF16
        if (bf) {
          rows_to_pairs(fl(Q), lq.t, p.T, p.D, qw, sw.dw);
          rows_to_pairs(fl(dO), ldo.t, p.T, p.Dv, dow, sw.dvw);
          block_product_bf16(p.T, qw, sw.dw, 1, kt2, ns, ns, fl(P), ns, FullRange{p.D}, visible16);     // Q Kᵀ
          block_product_bf16(p.T, dow, sw.dvw, 1, vt2, ns, ns, fl(dS), ns, FullRange{p.Dv}, visible16);  // dO Vᵀ
        } else
#endif
        {
          block_product(p.T, Q, lq.t, 1, kt, ns, ns, P, ns, FullRange{p.D}, visible16);      // Q Kᵀ
          block_product(p.T, dO, ldo.t, 1, vt, ns, ns, dS, ns, FullRange{p.Dv}, visible16);  // dP = dO Vᵀ
        }
        // Row passes as in the forward (independent rows within each pass).
        bool dead[kSmallMax];  // a row that saw nothing passes no gradient
        for (int64_t t = 0; t < p.T; ++t)
          dead[t] = visible_keys(p.causal, t, off, 0, p.S) == 0 || lse[bh * p.T + t] == kInf<T>;
        // Whole rows of ns as in the forward: exp(-inf) = 0 past the visible keys, and so dS = 0 there.
        for (int64_t t = 0; t < p.T; ++t) {
          T* pr = P + t * ns;
          if (dead[t]) {
            std::fill(pr, pr + ns, T(0));
            continue;
          }
          affine_or_neg_inf(pr, ns, visible_keys(p.causal, t, off, 0, p.S), scale, -lse[bh * p.T + t]);
          exp16(pr, ns, T(0));
        }
        // delta = rowsum(dO ∘ O) (FA-2, Alg. 2 line 4) = rowsum(P ∘ dP), since O = P V and dP = dO Vᵀ. A head here
        // is one tile, so the whole P and dP rows are at hand in cache: the second form spares reading O back
        // from memory. With dropout (O = (Z∘P) V) the first form stays: its P ∘ dP would need the mask twice.
        T delta[kSmallMax];
        for (int64_t t = 0; t < p.T; ++t) {
          T dl = 0;
          if (drop.on) {
            const T* go = dO + t * ldo.t;
            const T* o = O + t * lo.t;
#pragma omp simd reduction(+ : dl)
            for (int64_t e = 0; e < p.Dv; ++e) dl += o[e] * go[e];
          } else if (!dead[t]) {
            dl = dot16(P + t * ns, dS + t * ns, round16(visible_keys(p.causal, t, off, 0, p.S)));
          }
          delta[t] = dl;
        }
        for (int64_t t = 0; t < p.T; ++t) {
          const int64_t nvis = visible_keys(p.causal, t, off, 0, p.S);
          T* pr = P + t * ns;
          T* ds = dS + t * ns;
          if (dead[t]) {
            std::fill(ds, ds + ns, T(0));
            continue;
          }
          const T dl = delta[t];
          // dS carries the softmax scale (dQ = scale dS K, dK = scale dSᵀ Q), so neither product needs a pass.
          if (!drop.on) {
            const int64_t n16 = round16(nvis);  // columns past it were not computed
#pragma omp simd
            for (int64_t j = 0; j < n16; ++j) ds[j] = scale * (pr[j] * (ds[j] - dl));
            std::fill(ds + n16, ds + ns, T(0));
          } else {
            drop.row(b, h, t, 0, nvis, [pr, ds, dl, scale](int64_t c, T z) {
              ds[c] = scale * (pr[c] * (z * ds[c] - dl));
              pr[c] *= z;
            });
            std::fill(ds + nvis, ds + ns, T(0));
          }
        }
        T* dQ = row_at(dq, ldq, b, h, 0);
#if XF_ATTENTION_BF16
        if (bf) {
          // The key-side products read P, dS, dO and Q down their columns: pairs over queries.
          rows_to_pairs(fl(dS), ns, p.T, ns, dsw, sw.pwl);
          block_product_bf16(p.T, dsw, sw.pwl, 1, kp, p.D, p.D, fl(dQ), ldq.t, query_band);  // dQ = (scale dS) K
          interleave_rows(fl(P), ns, p.T, sw.tp, ns, pp, ns);
          interleave_rows(fl(dS), ns, p.T, sw.tp, ns, dsp, ns);
          interleave_rows(fl(dO), ldo.t, p.T, sw.tp, p.Dv, dop, p.Dv);
          interleave_rows(fl(Q), lq.t, p.T, sw.tp, p.D, qp, p.D);
          // One query head per kv head: dV and dK themselves; otherwise this head's share, added below.
          block_product_bf16(p.S, pp, 1, ns, dop, p.Dv, p.Dv, direct ? fl(dV) : fl(acc), direct ? ldv.t : width,
                             key_band);  // dV (+)= Pᵀ dO
          if (!direct) {
            for (int64_t s = 0; s < p.S; ++s)
              for (int64_t e = 0; e < p.Dv; ++e) dV[s * ldv.t + e] += acc[s * width + e];
          }
          block_product_bf16(p.S, dsp, 1, ns, qp, p.D, p.D, direct ? fl(dK) : fl(acc), direct ? ldk.t : width,
                             key_band);  // dK (+)= (scale dS)ᵀ Q
          if (!direct) {
            for (int64_t s = 0; s < p.S; ++s)
              for (int64_t d = 0; d < p.D; ++d) dK[s * ldk.t + d] += acc[s * width + d];
          }
          continue;
        }
#endif
        block_product(p.T, dS, ns, 1, K, lk.t, p.D, dQ, ldq.t, query_band);  // dQ = (scale dS) K
        if (direct) {
          block_product(p.S, P, 1, ns, dO, ldo.t, p.Dv, dV, ldv.t, key_band);  // dV = (Z∘P)ᵀ dO
          block_product(p.S, dS, 1, ns, Q, lq.t, p.D, dK, ldk.t, key_band);    // dK = (scale dS)ᵀ Q
          continue;
        }
        block_product(p.S, P, 1, ns, dO, ldo.t, p.Dv, acc, width, key_band);  // dV += (Z∘P)ᵀ dO
        for (int64_t s = 0; s < p.S; ++s)
          for (int64_t e = 0; e < p.Dv; ++e) dV[s * ldv.t + e] += acc[s * width + e];
        block_product(p.S, dS, 1, ns, Q, lq.t, p.D, acc, width, key_band);  // dK += (scale dS)ᵀ Q
        for (int64_t s = 0; s < p.S; ++s)
          for (int64_t d = 0; d < p.D; ++d) dK[s * ldk.t + d] += acc[s * width + d];
      }
    }
  });
}

}  // namespace

uint32_t attention_dropout_threshold(double p) {
  XF_CHECK(p >= 0 && p < 1, "attention dropout: p must lie in [0, 1), got ", p);
  const double t = std::round(p * 4294967296.0);
  return t >= 4294967295.0 ? 4294967295u : static_cast<uint32_t>(t);
}

void attention_dropout_words(uint64_t seed, int64_t b, int64_t h, int64_t t, int64_t s4, uint32_t words[4]) {
  const std::array<uint32_t, 4> r =
      philox4x32({static_cast<uint32_t>(s4), static_cast<uint32_t>(t), static_cast<uint32_t>(h),
                  static_cast<uint32_t>(b)},
                 {static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)});
  for (int i = 0; i < 4; ++i) words[i] = r[static_cast<size_t>(i)];
}

bool attention_dropout_keep(uint64_t seed, double p, int64_t b, int64_t h, int64_t t, int64_t s) {
  uint32_t w[4];
  attention_dropout_words(seed, b, h, t, s >> 2, w);
  return w[s & 3] >= attention_dropout_threshold(p);
}

int64_t flash_block_size(int64_t D, int64_t Dv) { return flash_block_size_impl(D, Dv); }

// Forward (Alg. 1 of FlashAttention, one query tile per work item): the query tile stays put while key/value
// tiles stream past; each row keeps a running max m and normaliser l, and the output accumulator is rescaled by
// exp(m_old - m_new) whenever the max grows, so the softmax is exact without ever holding a full score row.
// With dropout, l sums the undropped exponentials (the softmax normaliser) while the tile multiplied into O is
// the dropped one, Z ∘ exp(...).
template <class T>
void flash_attention_forward(const FlashAttentionParams& p, const T* q, const T* k, const T* v, const T* mask,
                             T* out, T* lse) {
  const Tiles tl = tiles_for(p);
  const DropoutMask<T> drop(p);
  const int64_t group = p.Hq / p.Hkv, off = p.S - p.T;
  const T scale = static_cast<T>(p.scale);
  const int64_t* ms = p.mask_strides;
  const FlashLayout lq = resolve(p.q_layout, p.Hq, p.T, p.D), lk = resolve(p.k_layout, p.Hkv, p.S, p.D),
                    lv = resolve(p.v_layout, p.Hkv, p.S, p.Dv), lo = resolve(p.out_layout, p.Hq, p.T, p.Dv);
  if (small_heads(p, tl, mask)) return small_forward(p, q, k, v, out, lse, lq, lk, lv, lo);
  // Kᵀ [B, Hkv, D, S], so that S = Q Kᵀ is a row-major NN product: OpenBLAS (0.3.21) sends row-major NT
  // products (its column-major TN) of 64 x 64 outputs to the packed large-matrix path at several times the cost
  // of its small-matrix NN kernel. One O(S * D) copy, reused by every query tile; skipped when there is only one
  // query tile per head (decoding), where the copy would cost as much as the product.
  const bool use_kt = tl.nqb > 1;
  Scratch<T> kt_buf(use_kt ? p.B * p.Hkv * p.D * p.S : 1);
  T* kt = kt_buf.get();
  if (use_kt) transpose_heads(k, lk, p.B, p.Hkv, kt, p.S, p.D);
  const WorkerScratch<T> fwd_scratch(tl.br * tl.bc + 2 * tl.br);
  const int64_t rows_per_tile = std::min(tl.br, p.T);
  parallel_for(p.B * p.Hq * tl.nqb, grain_for(rows_per_tile * p.S * (p.D + p.Dv)), [&](int64_t begin, int64_t end) {
    T* sb = fwd_scratch.slice();         // [br, bc] scores, then probabilities
    T* m = sb + tl.br * tl.bc;           // [br] running max
    T* l = m + tl.br;                    // [br] running sum of exp(score - m)
    for (int64_t u = begin; u < end; ++u) {
      // Zigzag over query tiles (0, n-1, 1, n-2, ...): with causal masking late tiles cost more, and contiguous
      // chunks of this order pair cheap tiles with expensive ones.
      const int64_t idx = u % tl.nqb, qb = idx % 2 == 0 ? idx / 2 : tl.nqb - 1 - idx / 2;
      const int64_t bh = u / tl.nqb, h = bh % p.Hq, b = bh / p.Hq;
      const int64_t kvh = b * p.Hkv + h / group;
      const int64_t i0 = qb * tl.br, nr = std::min(tl.br, p.T - i0);
      const T* Q = row_at(q, lq, b, h, i0);
      const T* K = row_at(k, lk, b, h / group, 0);
      const T* Kt = kt + kvh * p.D * p.S;
      const T* V = row_at(v, lv, b, h / group, 0);
      T* O = row_at(out, lo, b, h, i0);
      T* L = lse + bh * p.T + i0;
      const T* M = mask ? mask + b * ms[0] + h * ms[1] : nullptr;
      for (int64_t r = 0; r < nr; ++r) std::fill(O + r * lo.t, O + r * lo.t + p.Dv, T(0));
      std::fill(m, m + nr, -kInf<T>);
      std::fill(l, l + nr, T(0));
      // Causal: no key past the tile's last row's horizon (i0 + nr - 1 + off) is visible to any of its rows.
      const int64_t s_end = p.causal ? std::clamp<int64_t>(i0 + nr + off, 0, p.S) : p.S;
      for (int64_t j0 = 0; j0 < s_end; j0 += tl.bc) {
        const int64_t nc = std::min(tl.bc, p.S - j0);
        if (use_kt)  // S = scale Q Kᵀ
          gemm(false, false, nr, nc, p.D, scale, Q, lq.t, Kt + j0, p.S, T(0), sb, tl.bc);
        else
          gemm(false, true, nr, nc, p.D, scale, Q, lq.t, K + j0 * lk.t, lk.t, T(0), sb, tl.bc);
        for (int64_t r = 0; r < nr; ++r) {
          T* row = sb + r * tl.bc;
          const int64_t t = i0 + r;
          const int64_t nvis = visible_keys(p.causal, t, off, j0, nc);
          if (M) add_mask_row(row, M + t * ms[2] + j0 * ms[3], ms[3], nvis);
          const T m_new = std::max(m[r], row_max(row, nvis));
          if (m_new == -kInf<T>) {  // nothing visible yet in this row: contributes nothing
            std::fill(row, row + nc, T(0));
            continue;
          }
          const T alpha = std::exp(m[r] - m_new);  // 0 on the first visible tile (m = -inf)
          const T sum = exp_shift_sum(row, nvis, m_new);
          std::fill(row + nvis, row + nc, T(0));
          l[r] = l[r] * alpha + sum;
          m[r] = m_new;
          if (alpha != T(1)) {
            T* o = O + r * lo.t;
            for (int64_t d = 0; d < p.Dv; ++d) o[d] *= alpha;
          }
          if (drop.on) drop.row(b, h, t, j0, nvis, [row](int64_t c, T z) { row[c] *= z; });
        }
        gemm(false, false, nr, p.Dv, nc, T(1), sb, tl.bc, V + j0 * lv.t, lv.t, T(1), O, lo.t);  // O += P V
      }
      for (int64_t r = 0; r < nr; ++r) {
        if (l[r] > T(0)) {
          const T inv = T(1) / l[r];
          T* o = O + r * lo.t;
          for (int64_t d = 0; d < p.Dv; ++d) o[d] *= inv;
          L[r] = m[r] + std::log(l[r]);
        } else {
          L[r] = kInf<T>;  // empty row: output stays 0; backward sees P = exp(score - inf) = 0
        }
      }
    }
  });
}

// Backward (FlashAttention-2, Alg. 2, with its dK/dV-outer loop order): a work item owns the key/value tiles of
// one (batch, kv head) — or, when there are fewer of those than threads, every `splits`-th tile of them — and
// recomputes P = exp(scale QKᵀ + mask - lse) tile by tile for every query head of its group. dK and dV rows are
// therefore written by exactly one worker. dQ rows are shared between the key tiles of a head: with splits == 1
// one worker owns them too; otherwise each split accumulates into its own dQ copy and the copies are summed in a
// fixed order afterwards (race-free and reproducible, O(splits * |Q|) extra memory, still linear in T).
// Tiles are kept transposed (key-major: Pᵀ, dSᵀ [keys, queries]) and Q, dO are transposed once up front, so
// all five products are row-major NN GEMMs (OpenBLAS's fast small-matrix case); dQ needs one explicit tile
// transpose of dSᵀ.
//
// Dropout (O = (Z ∘ P) V): dV = (Z ∘ P)ᵀ dO and dP = Z ∘ (dO Vᵀ), with Z regenerated per tile from the seed;
// delta = rowsum(dO ∘ O) is still rowsum(P ∘ dP) because O is the dropped output.
template <class T>
void flash_attention_backward(const FlashAttentionParams& p, const T* q, const T* k, const T* v, const T* mask,
                              const T* out, const T* lse, const T* dout, T* dq, T* dk, T* dv) {
  const Tiles tl = tiles_for(p);
  const DropoutMask<T> drop(p);
  const int64_t group = p.Hq / p.Hkv, off = p.S - p.T;
  const T scale = static_cast<T>(p.scale);
  const int64_t* ms = p.mask_strides;
  const int64_t rows = p.B * p.Hq * p.T, q_numel = rows * p.D;
  const FlashLayout lq = resolve(p.q_layout, p.Hq, p.T, p.D), lk = resolve(p.k_layout, p.Hkv, p.S, p.D),
                    lv = resolve(p.v_layout, p.Hkv, p.S, p.Dv), lo = resolve(p.out_layout, p.Hq, p.T, p.Dv),
                    ldo = resolve(p.dout_layout, p.Hq, p.T, p.Dv), ldq = resolve(p.dq_layout, p.Hq, p.T, p.D),
                    ldk = resolve(p.dk_layout, p.Hkv, p.S, p.D), ldv = resolve(p.dv_layout, p.Hkv, p.S, p.Dv);
  if (small_heads(p, tl, mask))
    return small_backward(p, q, k, v, out, lse, dout, dq, dk, dv, lq, lk, lv, lo, ldo, ldq, ldk, ldv);

  // delta[row] = rowsum(dO ∘ O) = rowsum(P ∘ dP): the softmax-backward correction (FA-2, Alg. 2 line 4).
  Scratch<T> delta_buf(rows);
  T* delta = delta_buf.get();
  parallel_for(rows, grain_for(p.Dv * 8), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const int64_t t = r % p.T, bh = r / p.T, h = bh % p.Hq, b = bh / p.Hq;
      const T* o = row_at(out, lo, b, h, t);
      const T* g = row_at(dout, ldo, b, h, t);
      T s = 0;
      for (int64_t d = 0; d < p.Dv; ++d) s += o[d] * g[d];
      delta[r] = s;
    }
  });

  // Qᵀ [B, Hq, D, T] and dOᵀ [B, Hq, Dv, T], so the products below are all row-major NN (see the forward).
  Scratch<T> qt_buf(q_numel), dot_buf(rows * p.Dv);
  T* qt = qt_buf.get();
  T* dot = dot_buf.get();
  transpose_heads(q, lq, p.B, p.Hq, qt, p.T, p.D);
  transpose_heads(dout, ldo, p.B, p.Hq, dot, p.T, p.Dv);

  const int64_t owners = p.B * p.Hkv;
  const int64_t nt = num_threads();
  const int64_t splits = owners >= nt || tl.nkb <= 1 ? 1 : std::min(tl.nkb, (nt + owners - 1) / owners);
  Scratch<T> dq_parts(splits > 1 ? splits * q_numel : 1);
  // The dQ accumulator(s): dq itself (layout ldq), or `splits` contiguous copies.
  T* dq_base = splits > 1 ? dq_parts.get() : dq;
  const FlashLayout ldq_acc = splits > 1 ? resolve(FlashLayout{}, p.Hq, p.T, p.D) : ldq;
  if (splits > 1) {
    std::fill(dq_base, dq_base + splits * q_numel, T(0));
  } else {
    for (int64_t b = 0; b < p.B; ++b)
      for (int64_t h = 0; h < p.Hq; ++h)
        for (int64_t t = 0; t < p.T; ++t) std::fill_n(row_at(dq, ldq, b, h, t), p.D, T(0));
  }

  const WorkerScratch<T> bwd_scratch((drop.on ? 4 : 3) * tl.br * tl.bc);
  parallel_for(owners * splits, grain_for(group * p.T * p.S * (2 * p.D + 3 * p.Dv) / splits),
               [&](int64_t begin, int64_t end) {
    T* Pt = bwd_scratch.slice();       // [bc, br] probabilities, key-major
    T* dSt = Pt + tl.br * tl.bc;       // [bc, br] dPᵀ, then dSᵀ = Pᵀ ∘ (dPᵀ - delta)
    T* dS = dSt + tl.br * tl.bc;       // [br, bc] dS for the dQ product (with dropout first (Z ∘ P)ᵀ [bc, br])
    T* Zt = dS + tl.br * tl.bc;        // [bc, br] dropout scale Z, key-major (only with dropout)
    for (int64_t u = begin; u < end; ++u) {
      const int64_t split = u % splits, bg = u / splits, g = bg % p.Hkv, b = bg / p.Hkv;
      T* DQ = dq_base + split * q_numel;
      for (int64_t jb = split; jb < tl.nkb; jb += splits) {
        const int64_t j0 = jb * tl.bc, nc = std::min(tl.bc, p.S - j0);
        const T* Kj = row_at(k, lk, b, g, j0);
        const T* Vj = row_at(v, lv, b, g, j0);
        T* dKj = row_at(dk, ldk, b, g, j0);
        T* dVj = row_at(dv, ldv, b, g, j0);
        for (int64_t c = 0; c < nc; ++c) {
          std::fill_n(dKj + c * ldk.t, p.D, T(0));
          std::fill_n(dVj + c * ldv.t, p.Dv, T(0));
        }
        // Causal: rows before j0 - off see none of this tile; start at the query tile holding the first one.
        const int64_t t_first = p.causal ? std::max<int64_t>(0, j0 - off) : 0;
        for (int64_t h = g * group; h < (g + 1) * group; ++h) {
          const int64_t bh = b * p.Hq + h;
          const T* M = mask ? mask + b * ms[0] + h * ms[1] : nullptr;
          for (int64_t i0 = (t_first / tl.br) * tl.br; i0 < p.T; i0 += tl.br) {
            const int64_t nr = std::min(tl.br, p.T - i0);
            const T* Qi = row_at(q, lq, b, h, i0);
            const T* dOi = row_at(dout, ldo, b, h, i0);
            const T* Qti = qt + bh * p.D * p.T + i0;     // columns i0 .. of Qᵀ
            const T* dOti = dot + bh * p.Dv * p.T + i0;  // columns i0 .. of dOᵀ
            const T* Li = lse + bh * p.T + i0;
            const T* Di = delta + bh * p.T + i0;
            T* dQi = row_at(DQ, ldq_acc, b, h, i0);
            gemm(false, false, nc, nr, p.D, scale, Kj, lk.t, Qti, p.T, T(0), Pt, tl.br);  // Sᵀ = scale K Qᵀ
            for (int64_t c = 0; c < nc; ++c) {
              T* col = Pt + c * tl.br;  // key j0 + c against queries i0 .. i0 + nr
              // Causal: query t sees key s iff t >= s - off. Empty rows have lse = +inf, so exp gives 0.
              const int64_t r_first = p.causal ? std::clamp<int64_t>(j0 + c - off - i0, 0, nr) : 0;
              std::fill(col, col + r_first, T(0));
              if (M) {
                const T* mc = M + i0 * ms[2] + (j0 + c) * ms[3];
                for (int64_t r = r_first; r < nr; ++r) col[r] += mc[r * ms[2]];
              }
              for (int64_t r = r_first; r < nr; ++r) col[r] = vmath::exp(col[r] - Li[r]);
            }
            if (!drop.on) {
              gemm(false, false, nc, p.Dv, nr, T(1), Pt, tl.br, dOi, ldo.t, T(1), dVj, ldv.t);  // dV += Pᵀ dO
              gemm(false, false, nc, nr, p.Dv, T(1), Vj, lv.t, dOti, p.T, T(0), dSt, tl.br);    // dPᵀ = V dOᵀ
              for (int64_t c = 0; c < nc; ++c) {
                T* ds = dSt + c * tl.br;
                const T* pc = Pt + c * tl.br;
                for (int64_t r = 0; r < nr; ++r) ds[r] = pc[r] * (ds[r] - Di[r]);
              }
            } else {
              for (int64_t r = 0; r < nr; ++r)
                drop.row(b, h, i0 + r, j0, nc, [Zt, r, br = tl.br](int64_t c, T z) { Zt[c * br + r] = z; });
              for (int64_t c = 0; c < nc; ++c)
                for (int64_t r = 0; r < nr; ++r) dS[c * tl.br + r] = Pt[c * tl.br + r] * Zt[c * tl.br + r];
              gemm(false, false, nc, p.Dv, nr, T(1), dS, tl.br, dOi, ldo.t, T(1), dVj, ldv.t);  // dV += (Z∘P)ᵀ dO
              gemm(false, false, nc, nr, p.Dv, T(1), Vj, lv.t, dOti, p.T, T(0), dSt, tl.br);    // (dO Vᵀ)ᵀ
              for (int64_t c = 0; c < nc; ++c) {
                T* ds = dSt + c * tl.br;
                const T* pc = Pt + c * tl.br;
                const T* zc = Zt + c * tl.br;
                for (int64_t r = 0; r < nr; ++r) ds[r] = pc[r] * (zc[r] * ds[r] - Di[r]);
              }
            }
            gemm(false, false, nc, p.D, nr, scale, dSt, tl.br, Qi, lq.t, T(1), dKj, ldk.t);  // dK += scale dSᵀ Q
            for (int64_t r = 0; r < nr; ++r)
              for (int64_t c = 0; c < nc; ++c) dS[r * tl.bc + c] = dSt[c * tl.br + r];
            gemm(false, false, nr, p.D, nc, scale, dS, tl.bc, Kj, lk.t, T(1), dQi, ldq_acc.t);  // dQ += scale dS K
          }
        }
      }
    }
  });

  if (splits > 1) {
    parallel_for(rows, grain_for(splits * p.D * 8), [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        const int64_t t = r % p.T, bh = r / p.T;
        T* dst = row_at(dq, ldq, bh / p.Hq, bh % p.Hq, t);
        for (int64_t d = 0; d < p.D; ++d) {
          const int64_t i = r * p.D + d;
          T s = dq_base[i];
          for (int64_t sp = 1; sp < splits; ++sp) s += dq_base[sp * q_numel + i];
          dst[d] = s;
        }
      }
    });
  }
}

template void flash_attention_forward<float>(const FlashAttentionParams&, const float*, const float*, const float*,
                                             const float*, float*, float*);
template void flash_attention_forward<double>(const FlashAttentionParams&, const double*, const double*,
                                              const double*, const double*, double*, double*);
template void flash_attention_backward<float>(const FlashAttentionParams&, const float*, const float*, const float*,
                                              const float*, const float*, const float*, const float*, float*, float*,
                                              float*);
template void flash_attention_backward<double>(const FlashAttentionParams&, const double*, const double*,
                                               const double*, const double*, const double*, const double*,
                                               const double*, double*, double*, double*);

}  // namespace xfmr::kernels
