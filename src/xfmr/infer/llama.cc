#include "xfmr/infer/llama.h"

#include <cblas.h>
#include <omp.h>
#include <sys/mman.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <string>

#include "xfmr/core/check.h"
#include "xfmr/core/parallel.h"
#include "xfmr/infer/decode_team.h"
#include "xfmr/kernels/cpu/quant.h"
#include "xfmr/kernels/cpu/quant_gemm.h"
#include "xfmr/kernels/cpu/quant_packed.h"
#include "xfmr/kernels/cpu/vmath.h"
#include "xfmr/kernels/ref/quant.h"

namespace xfmr::infer {

namespace {

// out = x / sqrt(mean(x²) + eps) * w, in f32 as run.c computes it.
void rmsnorm(float* out, const float* x, const float* w, int64_t n, float eps) {
  float ss = 0;
#pragma omp simd reduction(+ : ss)
  for (int64_t i = 0; i < n; ++i) ss += x[i] * x[i];
  const float s = 1.0f / std::sqrt(ss / static_cast<float>(n) + eps);
  for (int64_t i = 0; i < n; ++i) out[i] = w[i] * (s * x[i]);
}

// Part `i` of `parts` of [0, n), the boundaries multiples of `align` (rows of a product: a multiple of 32
// keeps q8_0 blocks and RoPE pairs inside one thread's range).
struct Range {
  int64_t begin, end;
};
Range split(int64_t n, int i, int parts, int64_t align) {
  const int64_t units = (n + align - 1) / align;
  return {std::min(n, units * i / parts * align), std::min(n, units * (i + 1) / parts * align)};
}

// Calls f(a, b) with the part [a, b) of the segment [off, off + len) that lies inside r, if any (rows of
// several matrices treated as one range).
template <class F>
void within(Range r, int64_t off, int64_t len, F&& f) {
  const int64_t a = std::max(r.begin, off), b = std::min(r.end, off + len);
  if (a < b) f(a - off, b - off);
}

inline void barrier(int nt) {
  team_barrier(nt);
}

// x quantized into q when any of the matrices that read it takes q8_0 activations (the others ignore q).
const kern::QuantizedActs* quantized_for(std::initializer_list<const io::WeightRef*> ms, kern::QuantizedActs& q,
                                         const float* x) {
  for (const io::WeightRef* m : ms)
    if (kern::matvec_quantizes_activations(m->type)) {
      q.set(x, m->cols);
      return &q;
    }
  return nullptr;
}

inline float silu_mul(float g, float u) {
  return g * (1.0f / (1.0f + std::exp(-g))) * u;
}

// Prefill's versions of the softmax and SwiGLU loops: vmath::exp (~2 ulp, inline) instead of libm's scalar
// call lets the compiler vectorise them (they took ~15% of a q4_0 prefill once the products ran on VNNI).
// Decoding keeps std::exp: its greedy output stays that of llama2.c's run.c.
void silu_mul_rows(float* g, const float* u, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) g[i] = g[i] * (1.0f / (1.0f + vmath::exp(-g[i]))) * u[i];
}

// s[0..n) = softmax(s[0..n)).
void softmax_row(float* s, int64_t n) {
  float mx = -INFINITY;
#pragma omp simd reduction(max : mx)
  for (int64_t t = 0; t < n; ++t) mx = std::max(mx, s[t]);
  float sum = 0;
#pragma omp simd reduction(+ : sum)
  for (int64_t t = 0; t < n; ++t) {
    s[t] = vmath::exp(s[t] - mx);
    sum += s[t];
  }
  const float inv = 1.0f / sum;
#pragma omp simd
  for (int64_t t = 0; t < n; ++t) s[t] *= inv;
}

}  // namespace

struct LlamaPackedWeights {
  // Per layer wq, wk, wv, wo, w_gate, w_down, w_up, then the output matrix.
  std::vector<std::array<PackedMatrix, 7>> layers;
  PackedMatrix output;
  struct FreeDeleter {
    void operator()(uint8_t* p) const { std::free(p); }
  };
  std::unique_ptr<uint8_t, FreeDeleter> arena;
  bool any_x8 = false;  // some matrix is repacked: prefill quantizes its activations
};

namespace {
std::shared_ptr<const LlamaPackedWeights> pack_weights(io::LlamaWeights& w);
}  // namespace

LlamaModel::LlamaModel(io::LlamaWeights w, int64_t max_context, std::shared_ptr<const LlamaPackedWeights> packed)
    : w_(std::move(w)) {
  const io::LlamaConfig& c = w_.cfg;
  io::validate_llama_config(c, "LlamaModel");
  ctx_ = max_context <= 0 ? c.seq_len : std::min(max_context, c.seq_len);
  madds_per_token_ = w_.output.rows * w_.output.cols;
  for (const auto& L : w_.layers)
    for (const auto* m : {&L.wq, &L.wk, &L.wv, &L.wo, &L.w_gate, &L.w_down, &L.w_up})
      madds_per_token_ += m->rows * m->cols;
  // The copies first, the KV cache after: while packing frees the originals piece by piece, the arena's
  // huge pages run up to 2 MB ahead of them, a transient the not yet allocated cache makes up for.
  packed_ = packed ? std::move(packed) : pack_weights(w_);
  XF_CHECK(packed_->layers.size() == w_.layers.size(), "LlamaModel: shared packed weights of ",
           packed_->layers.size(), " layers for a model of ", w_.layers.size());
  const auto n = [](int64_t v) { return static_cast<size_t>(v); };
  const int64_t hs = c.head_size();
  x_.resize(n(c.dim));
  xatt_.resize(n(c.dim));
  xb2_.resize(n(c.dim));
  q_.resize(n(c.dim));
  hb_.resize(n(c.hidden_dim));
  hb2_.resize(n(c.hidden_dim));
  att_.resize(n(c.n_heads * ctx_));
  logits_.resize(n(c.vocab_size));
  key_cache_.resize(n(c.n_layers * ctx_ * c.kv_dim()));
  value_cache_.resize(n(c.n_layers * ctx_ * c.kv_dim()));
  hq_.reserve(c.hidden_dim);
  // RoPE angles per position, in f32 like run.c (freq = 1 / theta^(2i / hs), angle = pos * freq) so greedy
  // decoding matches it token for token.
  rope_cos_.resize(n(ctx_ * hs / 2));
  rope_sin_.resize(n(ctx_ * hs / 2));
  for (int64_t p = 0; p < ctx_; ++p)
    for (int64_t i = 0; i < hs / 2; ++i) {
      const float freq = 1.0f / std::pow(c.rope_theta, static_cast<float>(2 * i) / static_cast<float>(hs));
      const float a = static_cast<float>(p) * freq;
      rope_cos_[n(p * hs / 2 + i)] = std::cos(a);
      rope_sin_[n(p * hs / 2 + i)] = std::sin(a);
    }
  reserve_threads(1);
}

namespace {

// The address ranges of this process's file mappings (/proc/self/maps lines with an inode): weights there can
// be copied and the originals paged out without holding both.
std::vector<std::pair<uintptr_t, uintptr_t>> file_mappings() {
  std::vector<std::pair<uintptr_t, uintptr_t>> out;
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    unsigned long a = 0, b = 0, inode = 0;
    char perms[8] = {}, dev[16] = {};
    unsigned long long offset = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx %7s %llx %15s %lu", &a, &b, perms, &offset, dev, &inode) == 6 &&
        inode != 0)
      out.emplace_back(a, b);
  }
  return out;
}

}  // namespace

namespace {

// The keep entry that alone owns the buffer at `data` (aliasing it, shared with no other LlamaWeights: see
// io::LlamaWeights::keep), or keep.end() for a file mapping or a buffer someone else holds too.
std::vector<std::shared_ptr<const void>>::iterator sole_owner(io::LlamaWeights& w, const uint8_t* data) {
  for (auto it = w.keep.begin(); it != w.keep.end(); ++it)
    if (it->get() == data) return it->use_count() == 1 ? it : w.keep.end();
  return w.keep.end();
}

// Copies / repacks the weight matrices (see LlamaModel). A copied matrix that w alone owns (in-memory weights
// moved into the model, as `bench decode` builds its presets) is freed at once and its data set to null, so
// the model never holds both: q4_0 / q8_0 presets had a peak RSS of 1.6-1.7x their weights + KV cache.
std::shared_ptr<const LlamaPackedWeights> pack_weights(io::LlamaWeights& w) {
  auto result = std::make_shared<LlamaPackedWeights>();
  LlamaPackedWeights& pw = *result;
  pw.layers.assign(w.layers.size(), {});
  const auto maps = file_mappings();
  const auto in_file = [&](const io::WeightRef& m) {
    const auto a = reinterpret_cast<uintptr_t>(m.data), b = a + static_cast<uintptr_t>(m.bytes());
    for (const auto& [lo, hi] : maps)
      if (a >= lo && b <= hi) return true;
    return false;
  };
  const auto packable = [](const io::WeightRef& m) {
    return kern::packed_x8_available(m.type) && m.rows % kern::kPackRows == 0;
  };
  // Packed (q4_0 / q8_0 where the kernels exist) or, for other weights in a file mapping, copied as they are.
  const auto wanted = [&](const io::WeightRef& m) { return packable(m) || in_file(m); };
  // One arena for every copy (each at a 64-byte boundary), 2 MB aligned and advised as huge pages: decoding
  // streams it once a token, and with 4 KB pages the hardware prefetchers stop at every page boundary and the
  // TLB misses on every page (110M q4_0 decoding took ~4.0 ms a token with 4 KB pages, ~2.7 ms with huge
  // ones; q8_0 ~7.2 and ~4.5).
  const auto padded = [](int64_t bytes) { return static_cast<size_t>((bytes + 63) / 64 * 64); };
  size_t total = 0;
  for (const io::LlamaLayer& L : w.layers)
    for (const io::WeightRef* m : {&L.wq, &L.wk, &L.wv, &L.wo, &L.w_gate, &L.w_down, &L.w_up})
      if (wanted(*m)) total += padded(m->bytes());
  if (wanted(w.output)) total += padded(w.output.bytes());
  if (total == 0) return result;
  constexpr size_t kHuge = size_t{2} << 20;
  const size_t used = total, head = used / kHuge * kHuge;
  total = (total + kHuge - 1) / kHuge * kHuge;
  auto* arena = static_cast<uint8_t*>(std::aligned_alloc(kHuge, total));
  XF_CHECK(arena != nullptr, "LlamaModel: cannot allocate ", total, " bytes for packed weights");
  pw.arena.reset(arena);
#ifdef MADV_HUGEPAGE
  // Huge pages where whole ones fit; the tail past the last whole one in 4 KB pages, so the arena's resident
  // size is that of the weights (a huge last page made up to 2 MB more resident: 20% of stories15M q4_0's).
  if (head > 0) ::madvise(arena, head, MADV_HUGEPAGE);
#ifdef MADV_NOHUGEPAGE
  if (head < total) ::madvise(arena + head, total - head, MADV_NOHUGEPAGE);
#endif
#endif
  size_t off = 0;
  const auto pack = [&](io::WeightRef& m) -> PackedMatrix {
    if (!wanted(m)) return {};
    uint8_t* out = arena + off;
    off += padded(m.bytes());
    const bool x8 = packable(m);
    pw.any_x8 |= x8;
    const auto owner = sole_owner(w, m.data);
    const bool own = owner != w.keep.end();
    // The original is not read again (a tied output matrix is also the embedding table, but embed() reads the
    // copy): it is copied ~256 KB of rows at a time (whole 8-row groups: rows [r0, r1) pack to out + r0 *
    // row_bytes) and each piece's pages are given back once copied, so not even the largest matrix (the tied
    // output, 26 MB in 110M q8_0) is held twice. A buffer the model alone owns: MADV_DONTNEED on its whole
    // pages (they read as zeros after, but nothing reads them before the buffer is freed below). Else
    // MADV_PAGEOUT, which never loses data: file-backed pages leave the resident set and fault back from the
    // file if read; anonymous ones (weights another owner keeps) stay where there is no swap. Only whole pages:
    // one shared with a norm vector, paged out, faults back with its neighbours (fault-around maps 64 KB), ~2.5
    // MB over 110M's norms.
    const int64_t rb = m.row_bytes();
    const int64_t step =
        std::max<int64_t>(kern::kPackRows, (int64_t{1} << 18) / rb / kern::kPackRows * kern::kPackRows);
    const uintptr_t pg = 4096, base = reinterpret_cast<uintptr_t>(m.data);
    uintptr_t done = (base + pg - 1) & ~(pg - 1);  // whole pages below this were given back
    const auto give_back = [&](int64_t r) {
      const uintptr_t end = (base + static_cast<uintptr_t>(r * rb)) & ~(pg - 1);
      if (end <= done) return;
#if defined(MADV_DONTNEED) && defined(MADV_PAGEOUT)
      ::madvise(reinterpret_cast<void*>(done), end - done, own ? MADV_DONTNEED : MADV_PAGEOUT);
#endif
      done = end;
    };
    for (int64_t r0 = 0; r0 < m.rows; r0 += step) {
      const int64_t r1 = std::min(m.rows, r0 + step);
      if (x8)
        kern::pack_x8(m.type, m.data + r0 * rb, r1 - r0, m.cols, out + r0 * rb);
      else
        std::memcpy(out + r0 * rb, m.data + r0 * rb, static_cast<size_t>((r1 - r0) * rb));
      // Page-out one piece behind: MADV_PAGEOUT leaves pages just read resident (6 MB of 110M f32 when not).
      give_back(own ? r1 : r0);
    }
    give_back(m.rows);
    if (own) {
      w.keep.erase(owner);  // frees the buffer
      m.data = nullptr;
    }
    return {out, x8};
  };
  for (size_t l = 0; l < w.layers.size(); ++l) {
    io::LlamaLayer& L = w.layers[l];
    int i = 0;
    for (io::WeightRef* m : {&L.wq, &L.wk, &L.wv, &L.wo, &L.w_gate, &L.w_down, &L.w_up})
      pw.layers[l][static_cast<size_t>(i++)] = pack(*m);
  }
  pw.output = pack(w.output);
  // A tied embedding is read from the output matrix's copy (embed()): freed with it.
  if (w.tied && w.output.data == nullptr) w.tok_embd.data = nullptr;
  return result;
}

}  // namespace

// Token id's embedding row [dim]. A tied table is read from the output matrix's copy when there is one:
// the original's pages were paged out, and faulting them back one row at a time maps their neighbours too
// (fault-around), ~25 MB over a 512-token prompt.
void LlamaModel::embed(int32_t id, float* out) const {
  const io::WeightRef& e = w_.tok_embd;
  if (w_.tied && packed_->output.data != nullptr) {
    if (packed_->output.x8)
      kern::dequantize_rows_x8(e.type, packed_->output.data, e.cols, id, id + 1, out);
    else
      kern::dequantize_row(e.type, packed_->output.data, id, out, e.cols);
    return;
  }
  kern::dequantize_row(e.type, e.data, id, out, e.cols);
}

void LlamaModel::mv_rows(const io::WeightRef& m, const Copy& p, const float* x, const kern::QuantizedActs* xq,
                         float* y, int64_t a, int64_t b) const {
  if (p.x8)
    kern::matvec_rows_x8(m.type, p.data, m.cols, *xq, y, a, b);
  else
    kern::matvec_rows(m.type, p.data ? p.data : m.data, m.cols, x, xq, y, a, b);
}

void LlamaModel::mm_rows(const io::WeightRef& m, const Copy& p, const float* x, const kern::QuantizedActs* xq,
                         int64_t n, float* y, int64_t ldy, int64_t a, int64_t b, float* tile) const {
  if (p.x8)
    kern::matmul_rows_x8(m.type, p.data, m.cols, xq, n, y, ldy, a, b);
  else
    kern::matmul_rows(m.type, p.data ? p.data : m.data, m.cols, x, n, y, ldy, a, b, tile);
}

int LlamaModel::team_size() const {
  if (omp_in_parallel()) return 1;
  // One more thread per ~1M multiply-adds a token: below that the 5 barriers per layer cost more than the
  // work they split (stories260K decodes fastest on one thread).
  const int64_t useful = 1 + madds_per_token_ / (1 << 20);
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(num_threads(), useful)));
}

void LlamaModel::reserve_threads(int nt) {
  if (nt <= threads_ready_) return;
  const io::LlamaConfig& c = w_.cfg;
  xbt_.resize(static_cast<size_t>(nt * c.dim));
  xqt_.resize(static_cast<size_t>(nt));
  for (auto& q : xqt_) q.reserve(c.dim);
  if (!px_.empty()) {  // prefill buffers exist: per-thread ones grow with the team
    ptile_.resize(static_cast<size_t>(nt * kern::kGemmTileRows * std::max(c.dim, c.hidden_dim)));
    if (packed_->any_x8) {
      pxq_.resize(static_cast<size_t>(nt * kPrefillBlock));
      for (auto& q : pxq_) q.reserve(std::max(c.dim, c.hidden_dim));
    }
    pscore_.resize(static_cast<size_t>(nt * kPrefillBlock * ctx_));
  }
  threads_ready_ = nt;
}

// Rotates rows [a, b) (a even) of v = one token's q or k [heads * head_size] by position pos.
void LlamaModel::rope_rows(float* v, int64_t a, int64_t b, int64_t pos) const {
  const int64_t hs = w_.cfg.head_size();
  const float* cs = rope_cos_.data() + pos * hs / 2;
  const float* sn = rope_sin_.data() + pos * hs / 2;
  for (int64_t r = a; r + 1 < b; r += 2) {
    const int64_t i = (r % hs) / 2;
    const float x0 = v[r], x1 = v[r + 1];
    v[r] = x0 * cs[i] - x1 * sn[i];
    v[r + 1] = x0 * sn[i] + x1 * cs[i];
  }
}

// Logits [vocab] from the final hidden state x [dim]: every thread normalises x, then computes its rows.
void LlamaModel::final_logits(int tid, int nt, const float* x) {
  const io::LlamaConfig& c = w_.cfg;
  float* xb = xbt_.data() + tid * c.dim;
  rmsnorm(xb, x, w_.output_norm, c.dim, c.norm_eps);
  const kern::QuantizedActs* xq = quantized_for({&w_.output}, xqt_[static_cast<size_t>(tid)], xb);
  const Range r = split(c.vocab_size, tid, nt, 32);
  mv_rows(w_.output, packed_->output, xb, xq, logits_.data(), r.begin, r.end);
}

void LlamaModel::decode_step(int tid, int nt, int64_t pos) {
  const io::LlamaConfig& c = w_.cfg;
  const int64_t dim = c.dim, hs = c.head_size(), kvd = c.kv_dim(), hid = c.hidden_dim;
  const int64_t group = c.n_heads / c.n_kv_heads;
  float* xb = xbt_.data() + tid * dim;
  kern::QuantizedActs& xq = xqt_[static_cast<size_t>(tid)];
  const float scale = 1.0f / std::sqrt(static_cast<float>(hs));
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const io::LlamaLayer& L = w_.layers[static_cast<size_t>(l)];
    const auto& P = packed_->layers[static_cast<size_t>(l)];
    float* kc = key_cache_.data() + l * ctx_ * kvd;
    float* vc = value_cache_.data() + l * ctx_ * kvd;
    // q, k, v as one range of dim + 2 kv_dim rows; k and v go straight into the cache.
    rmsnorm(xb, x_.data(), L.attn_norm, dim, c.norm_eps);
    const kern::QuantizedActs* xqp = quantized_for({&L.wq, &L.wk, &L.wv}, xq, xb);
    const Range qkv = split(dim + 2 * kvd, tid, nt, 32);
    within(qkv, 0, dim, [&](int64_t a, int64_t b) {
      mv_rows(L.wq, P[0], xb, xqp, q_.data(), a, b);
      rope_rows(q_.data(), a, b, pos);
    });
    within(qkv, dim, kvd, [&](int64_t a, int64_t b) {
      mv_rows(L.wk, P[1], xb, xqp, kc + pos * kvd, a, b);
      rope_rows(kc + pos * kvd, a, b, pos);
    });
    within(qkv, dim + kvd, kvd, [&](int64_t a, int64_t b) {
      mv_rows(L.wv, P[2], xb, xqp, vc + pos * kvd, a, b);
    });
    barrier(nt);

    // Attention of this thread's heads. Positions go in the outer loops so the cache is read a position row at
    // a time (kv_dim contiguous floats) rather than head by head at a kv_dim stride: the cache of earlier
    // positions no longer fits in the caches beside the weights streaming through, and the strided reads
    // stalled on memory (~15% of a 110M q4_0 token). Every (head, position) value goes through the same
    // operations in the same order as a head-at-a-time loop.
    const Range heads = split(c.n_heads, tid, nt, 1);
    for (int64_t t = 0; t <= pos; ++t)
      for (int64_t h = heads.begin; h < heads.end; ++h) {
        const float* q = q_.data() + h * hs;
        const float* k = kc + t * kvd + (h / group) * hs;
        float s = 0;  // omp simd: lets the compiler reorder this sum into vector lanes (no -ffast-math)
#pragma omp simd reduction(+ : s)
        for (int64_t i = 0; i < hs; ++i) s += q[i] * k[i];
        att_[h * ctx_ + t] = s * scale;
      }
    for (int64_t h = heads.begin; h < heads.end; ++h) {
      float* att = att_.data() + h * ctx_;
      float mx = -INFINITY;
      for (int64_t t = 0; t <= pos; ++t) mx = std::max(mx, att[t]);
      float sum = 0;
      for (int64_t t = 0; t <= pos; ++t) {
        att[t] = std::exp(att[t] - mx);
        sum += att[t];
      }
      const float inv = 1.0f / sum;
      for (int64_t t = 0; t <= pos; ++t) att[t] *= inv;  // the weight a_t = e_t * inv
      std::fill(xatt_.data() + h * hs, xatt_.data() + (h + 1) * hs, 0.0f);
    }
    for (int64_t t = 0; t <= pos; ++t)
      for (int64_t h = heads.begin; h < heads.end; ++h) {
        const float* v = vc + t * kvd + (h / group) * hs;
        const float a = att_[h * ctx_ + t];
        float* out = xatt_.data() + h * hs;
        for (int64_t i = 0; i < hs; ++i) out[i] += a * v[i];
      }
    barrier(nt);

    const Range rows = split(dim, tid, nt, 32);
    xqp = quantized_for({&L.wo}, xq, xatt_.data());
    mv_rows(L.wo, P[3], xatt_.data(), xqp, xb2_.data(), rows.begin, rows.end);
    for (int64_t i = rows.begin; i < rows.end; ++i) x_[i] += xb2_[i];
    barrier(nt);

    rmsnorm(xb, x_.data(), L.ffn_norm, dim, c.norm_eps);
    xqp = quantized_for({&L.w_gate, &L.w_up}, xq, xb);
    const Range hr = split(hid, tid, nt, 32);
    mv_rows(L.w_gate, P[4], xb, xqp, hb_.data(), hr.begin, hr.end);
    mv_rows(L.w_up, P[6], xb, xqp, hb2_.data(), hr.begin, hr.end);
    for (int64_t i = hr.begin; i < hr.end; ++i) hb_[i] = silu_mul(hb_[i], hb2_[i]);
    const bool qdown = kern::matvec_quantizes_activations(L.w_down.type);
    if (qdown) hq_.set_blocks(hb_.data(), hr.begin / 32, (hr.end + 31) / 32);
    barrier(nt);

    mv_rows(L.w_down, P[5], hb_.data(), qdown ? &hq_ : nullptr, xb2_.data(), rows.begin, rows.end);
    for (int64_t i = rows.begin; i < rows.end; ++i) x_[i] += xb2_[i];
    barrier(nt);
  }
  final_logits(tid, nt, x_.data());
}

const float* LlamaModel::forward(int32_t token, int64_t pos) {
  const io::LlamaConfig& c = w_.cfg;
  XF_CHECK(token >= 0 && token < c.vocab_size, "llama forward: token id ", token,
           " outside the vocabulary [0, ", c.vocab_size, ")");
  XF_CHECK(pos >= 0 && pos < ctx_, "llama forward: position ", pos, " outside the context [0, ", ctx_, ")");
  embed(token, x_.data());
  const int nt = team_size();
  reserve_threads(nt);
  team_run(nt, [&](int tid, int n) { decode_step(tid, n, pos); }, /*contention_fallback=*/true);
  return logits_.data();
}

const kern::QuantizedActs* LlamaModel::quantize_block(int tid, const float* x, int64_t n, int64_t cols) {
  if (!packed_->any_x8) return nullptr;
  kern::QuantizedActs* q = pxq_.data() + tid * kPrefillBlock;
  for (int64_t i = 0; i < n; ++i) q[i].set(x + i * cols, cols);
  return q;
}

void LlamaModel::prefill_block(int tid, int nt, const int32_t* tokens, int64_t n, int64_t pos0, bool logits) {
  const io::LlamaConfig& c = w_.cfg;
  const int64_t dim = c.dim, hs = c.head_size(), kvd = c.kv_dim(), hid = c.hidden_dim;
  const int64_t group = c.n_heads / c.n_kv_heads, L_all = pos0 + n;
  float* tile = ptile_.data() + tid * kern::kGemmTileRows * std::max(dim, hid);
  float* score = pscore_.data() + tid * kPrefillBlock * ctx_;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hs));
  const Range toks = split(n, tid, nt, 1);
  for (int64_t i = toks.begin; i < toks.end; ++i)
    embed(tokens[i], px_.data() + i * dim);
  const Range rows = split(dim, tid, nt, 32), hr = split(hid, tid, nt, 32);
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const io::LlamaLayer& L = w_.layers[static_cast<size_t>(l)];
    const auto& P = packed_->layers[static_cast<size_t>(l)];
    float* kc = key_cache_.data() + l * ctx_ * kvd;
    float* vc = value_cache_.data() + l * ctx_ * kvd;
    for (int64_t i = toks.begin; i < toks.end; ++i)
      rmsnorm(pxb_.data() + i * dim, px_.data() + i * dim, L.attn_norm, dim, c.norm_eps);
    barrier(nt);

    const kern::QuantizedActs* xq = quantize_block(tid, pxb_.data(), n, dim);
    const Range qkv = split(dim + 2 * kvd, tid, nt, 32);
    within(qkv, 0, dim, [&](int64_t a, int64_t b) {
      mm_rows(L.wq, P[0], pxb_.data(), xq, n, pq_.data(), dim, a, b, tile);
      for (int64_t i = 0; i < n; ++i) rope_rows(pq_.data() + i * dim, a, b, pos0 + i);
    });
    within(qkv, dim, kvd, [&](int64_t a, int64_t b) {
      mm_rows(L.wk, P[1], pxb_.data(), xq, n, kc + pos0 * kvd, kvd, a, b, tile);
      for (int64_t i = 0; i < n; ++i) rope_rows(kc + (pos0 + i) * kvd, a, b, pos0 + i);
    });
    within(qkv, dim + kvd, kvd, [&](int64_t a, int64_t b) {
      mm_rows(L.wv, P[2], pxb_.data(), xq, n, vc + pos0 * kvd, kvd, a, b, tile);
    });
    barrier(nt);

    // Causal attention of the block's queries over keys 0..pos0+n-1: scores = q kᵀ / sqrt(hs) [n, pos0 + n]
    // (query i sees keys up to pos0 + i), a softmax per row, out = p v.
    const Range heads = split(c.n_heads, tid, nt, 1);
    for (int64_t h = heads.begin; h < heads.end; ++h) {
      const int64_t kvh = h / group;
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(n), static_cast<int>(L_all),
                  static_cast<int>(hs), scale, pq_.data() + h * hs, static_cast<int>(dim), kc + kvh * hs,
                  static_cast<int>(kvd), 0.0f, score, static_cast<int>(L_all));
      for (int64_t i = 0; i < n; ++i) {
        float* s = score + i * L_all;
        const int64_t last = pos0 + i;
        softmax_row(s, last + 1);
        std::fill(s + last + 1, s + L_all, 0.0f);
      }
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(n), static_cast<int>(hs),
                  static_cast<int>(L_all), 1.0f, score, static_cast<int>(L_all), vc + kvh * hs,
                  static_cast<int>(kvd), 0.0f, patt_.data() + h * hs, static_cast<int>(dim));
    }
    barrier(nt);

    xq = quantize_block(tid, patt_.data(), n, dim);
    mm_rows(L.wo, P[3], patt_.data(), xq, n, py_.data(), dim, rows.begin, rows.end, tile);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t r = rows.begin; r < rows.end; ++r) px_[i * dim + r] += py_[i * dim + r];
    barrier(nt);

    for (int64_t i = toks.begin; i < toks.end; ++i)
      rmsnorm(pxb_.data() + i * dim, px_.data() + i * dim, L.ffn_norm, dim, c.norm_eps);
    barrier(nt);

    xq = quantize_block(tid, pxb_.data(), n, dim);
    mm_rows(L.w_gate, P[4], pxb_.data(), xq, n, phb_.data(), hid, hr.begin, hr.end, tile);
    mm_rows(L.w_up, P[6], pxb_.data(), xq, n, phb2_.data(), hid, hr.begin, hr.end, tile);
    for (int64_t i = 0; i < n; ++i)
      silu_mul_rows(phb_.data() + i * hid + hr.begin, phb2_.data() + i * hid + hr.begin, hr.end - hr.begin);
    barrier(nt);

    xq = quantize_block(tid, phb_.data(), n, hid);
    mm_rows(L.w_down, P[5], phb_.data(), xq, n, py_.data(), dim, rows.begin, rows.end, tile);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t r = rows.begin; r < rows.end; ++r) px_[i * dim + r] += py_[i * dim + r];
    barrier(nt);
  }
  if (logits) final_logits(tid, nt, px_.data() + (n - 1) * dim);
}

const float* LlamaModel::prefill(const int32_t* tokens, int64_t n, int64_t pos0) {
  const io::LlamaConfig& c = w_.cfg;
  XF_CHECK(n >= 1, "llama prefill: no tokens");
  XF_CHECK(pos0 >= 0 && pos0 + n <= ctx_, "llama prefill: positions ", pos0, "..", pos0 + n - 1,
           " outside the context [0, ", ctx_, ")");
  for (int64_t i = 0; i < n; ++i)
    XF_CHECK(tokens[i] >= 0 && tokens[i] < c.vocab_size, "llama prefill: token id ", tokens[i],
             " outside the vocabulary [0, ", c.vocab_size, ")");
  if (n == 1) return forward(tokens[0], pos0);
  if (px_.empty()) {  // first prefill: the block buffers (a model used only for decoding never pays them)
    const auto sz = [](int64_t v) { return static_cast<size_t>(v); };
    for (auto* b : {&px_, &pxb_, &pq_, &patt_, &py_}) b->resize(sz(kPrefillBlock * c.dim));
    for (auto* b : {&phb_, &phb2_}) b->resize(sz(kPrefillBlock * c.hidden_dim));
    const int ready = threads_ready_;
    threads_ready_ = 0;
    reserve_threads(ready);
  }
  const int nt = team_size();
  reserve_threads(nt);
  for (int64_t b = 0; b < n; b += kPrefillBlock) {
    const int64_t m = std::min(kPrefillBlock, n - b);
    team_run(nt, [&](int tid, int k) { prefill_block(tid, k, tokens + b, m, pos0 + b, b + m == n); });
  }
  return logits_.data();
}

// ---- the no-cache reference ----

namespace {

std::vector<double> dequant(const io::WeightRef& m) {
  std::vector<double> out(static_cast<size_t>(m.rows * m.cols));
  for (int64_t r = 0; r < m.rows; ++r)
    for (int64_t c = 0; c < m.cols; ++c)
      out[static_cast<size_t>(r * m.cols + c)] =
          kernels::ref::dequantize_elem(m.type, m.data + r * m.row_bytes(), c);
  return out;
}

std::vector<double> vec(const float* p, int64_t n) {
  return std::vector<double>(p, p + n);
}

// y [T, rows] = x [T, cols] · W^T, W [rows, cols].
std::vector<double> linear(const std::vector<double>& x, const std::vector<double>& w, int64_t T,
                           int64_t rows, int64_t cols) {
  std::vector<double> y(static_cast<size_t>(T * rows));
  for (int64_t t = 0; t < T; ++t)
    for (int64_t r = 0; r < rows; ++r) {
      double s = 0;
      for (int64_t c = 0; c < cols; ++c) s += x[t * cols + c] * w[r * cols + c];
      y[t * rows + r] = s;
    }
  return y;
}

std::vector<double> rms_rows(const std::vector<double>& x, const std::vector<double>& w, int64_t T, int64_t n,
                             double eps) {
  std::vector<double> y(x.size());
  for (int64_t t = 0; t < T; ++t) {
    double ss = 0;
    for (int64_t i = 0; i < n; ++i) ss += x[t * n + i] * x[t * n + i];
    const double s = 1.0 / std::sqrt(ss / static_cast<double>(n) + eps);
    for (int64_t i = 0; i < n; ++i) y[t * n + i] = w[i] * x[t * n + i] * s;
  }
  return y;
}

void rope_rows(std::vector<double>& v, int64_t T, int64_t heads, int64_t hs, double theta) {
  for (int64_t t = 0; t < T; ++t)
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t i = 0; i < hs / 2; ++i) {
        const double a =
            static_cast<double>(t) * std::pow(theta, -static_cast<double>(2 * i) / static_cast<double>(hs));
        double* p = v.data() + (t * heads + h) * hs + 2 * i;
        const double x0 = p[0], x1 = p[1];
        p[0] = x0 * std::cos(a) - x1 * std::sin(a);
        p[1] = x0 * std::sin(a) + x1 * std::cos(a);
      }
}

}  // namespace

LlamaReference::LlamaReference(const io::LlamaWeights& w) : cfg_(w.cfg) {
  io::validate_llama_config(cfg_, "LlamaReference");
  tok_embd_ = dequant(w.tok_embd);
  output_ = dequant(w.output);
  output_norm_ = vec(w.output_norm, cfg_.dim);
  for (const io::LlamaLayer& L : w.layers)
    layers_.push_back({vec(L.attn_norm, cfg_.dim), dequant(L.wq), dequant(L.wk), dequant(L.wv), dequant(L.wo),
                       vec(L.ffn_norm, cfg_.dim), dequant(L.w_gate), dequant(L.w_down), dequant(L.w_up)});
}

std::vector<float> LlamaReference::logits(const std::vector<int32_t>& tokens) const {
  const io::LlamaConfig& c = cfg_;
  const int64_t T = static_cast<int64_t>(tokens.size()), dim = c.dim, hs = c.head_size(), kvd = c.kv_dim();
  const int64_t hid = c.hidden_dim, group = c.n_heads / c.n_kv_heads;
  XF_CHECK(T >= 1 && T <= c.seq_len, "llama reference: ", T, " tokens for a context of ", c.seq_len);
  std::vector<double> x(static_cast<size_t>(T * dim));
  for (int64_t t = 0; t < T; ++t) {
    const int32_t id = tokens[static_cast<size_t>(t)];
    XF_CHECK(id >= 0 && id < c.vocab_size, "llama reference: token id ", id, " outside the vocabulary");
    std::copy_n(tok_embd_.begin() + id * dim, dim, x.begin() + t * dim);
  }
  for (const Layer& L : layers_) {
    const auto xn = rms_rows(x, L.attn_norm, T, dim, c.norm_eps);
    auto q = linear(xn, L.wq, T, dim, dim), k = linear(xn, L.wk, T, kvd, dim),
         v = linear(xn, L.wv, T, kvd, dim);
    rope_rows(q, T, c.n_heads, hs, c.rope_theta);
    rope_rows(k, T, c.n_kv_heads, hs, c.rope_theta);
    std::vector<double> o(static_cast<size_t>(T * dim), 0.0), s(static_cast<size_t>(T));
    for (int64_t t = 0; t < T; ++t)
      for (int64_t h = 0; h < c.n_heads; ++h) {
        const int64_t kh = h / group;
        double mx = -INFINITY, sum = 0;
        for (int64_t u = 0; u <= t; ++u) {
          double d = 0;
          for (int64_t i = 0; i < hs; ++i)
            d += q[(t * c.n_heads + h) * hs + i] * k[(u * c.n_kv_heads + kh) * hs + i];
          s[u] = d / std::sqrt(static_cast<double>(hs));
          mx = std::max(mx, s[u]);
        }
        for (int64_t u = 0; u <= t; ++u) sum += (s[u] = std::exp(s[u] - mx));
        for (int64_t u = 0; u <= t; ++u)
          for (int64_t i = 0; i < hs; ++i)
            o[(t * c.n_heads + h) * hs + i] += s[u] / sum * v[(u * c.n_kv_heads + kh) * hs + i];
      }
    const auto ao = linear(o, L.wo, T, dim, dim);
    for (size_t i = 0; i < x.size(); ++i) x[i] += ao[i];
    const auto hn = rms_rows(x, L.ffn_norm, T, dim, c.norm_eps);
    auto g = linear(hn, L.w_gate, T, hid, dim);
    const auto up = linear(hn, L.w_up, T, hid, dim);
    for (size_t i = 0; i < g.size(); ++i) g[i] = g[i] / (1.0 + std::exp(-g[i])) * up[i];
    const auto down = linear(g, L.w_down, T, dim, hid);
    for (size_t i = 0; i < x.size(); ++i) x[i] += down[i];
  }
  const auto xn = rms_rows(x, output_norm_, T, dim, c.norm_eps);
  const auto lg = linear(xn, output_, T, c.vocab_size, dim);
  return std::vector<float>(lg.begin(), lg.end());
}

}  // namespace xfmr::infer
