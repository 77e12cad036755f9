#include "xfmr/kernels/cpu/attention_flash.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include <omp.h>

#include "xfmr/core/allocator.h"
#include "xfmr/core/check.h"
#include "xfmr/core/parallel.h"
#include "xfmr/core/rng.h"
#include "xfmr/kernels/cpu/attention_gemm.h"
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

Tiles tiles_for(const FlashAttentionParams& p) {
  const int64_t def = flash_block_size(p.D, p.Dv);
  Tiles t;
  t.br = p.block_q > 0 ? p.block_q : def;
  t.bc = p.block_k > 0 ? p.block_k : def;
  t.nqb = (p.T + t.br - 1) / t.br;
  t.nkb = (p.S + t.bc - 1) / t.bc;
  return t;
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

int64_t flash_block_size(int64_t D, int64_t Dv) {
  const int64_t width = std::max<int64_t>({D, Dv, 1});
  int64_t edge = 64;
  while (edge > 8 && edge * edge * width > 65536 * 4) edge /= 2;
  return edge;
}

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
