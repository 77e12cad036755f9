#include "xfmr/io/llama_weights.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>

#include "xfmr/core/check.h"
#include "xfmr/core/rng.h"
#include "xfmr/io/llama2c.h"
#include "xfmr/io/llama_hf.h"
#include "xfmr/io/llama_gguf.h"
#include "xfmr/io/mapped_file.h"
#include "xfmr/kernels/cpu/quant.h"

namespace xfmr::io {

using kernels::QType;

void validate_llama_config(const LlamaConfig& c, const std::string& what) {
  // Bounds far above any real Llama (dim 16384, hidden 53248, 128 layers, vocab 256K) that keep every product
  // of sizes well inside int64.
  const auto in = [](int64_t v, int64_t hi) { return v > 0 && v <= hi; };
  XF_CHECK(in(c.dim, 1 << 16) && in(c.hidden_dim, 1 << 20) && in(c.n_layers, 4096) && in(c.n_heads, 4096) &&
               in(c.n_kv_heads, 4096) && in(c.vocab_size, 1 << 22) && in(c.seq_len, 1 << 22),
           what, ": model sizes out of range (dim ", c.dim, ", hidden_dim ", c.hidden_dim, ", n_layers ",
           c.n_layers, ", n_heads ", c.n_heads, ", n_kv_heads ", c.n_kv_heads, ", vocab_size ", c.vocab_size,
           ", seq_len ", c.seq_len, ")");
  XF_CHECK(c.dim % c.n_heads == 0, what, ": dim ", c.dim, " is not a multiple of n_heads ", c.n_heads);
  XF_CHECK(c.head_size() % 2 == 0, what, ": head size ", c.head_size(), " is odd (RoPE rotates pairs)");
  XF_CHECK(c.n_heads % c.n_kv_heads == 0, what, ": n_heads ", c.n_heads, " is not a multiple of n_kv_heads ",
           c.n_kv_heads);
  XF_CHECK(std::isfinite(c.rope_theta) && c.rope_theta > 0 && std::isfinite(c.norm_eps) && c.norm_eps >= 0,
           what, ": bad rope theta ", c.rope_theta, " or norm eps ", c.norm_eps);
}

LlamaWeights load_llama_weights(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return load_llama_hf(path);
  auto file = MappedFile::open(path);
  if (file->size() >= 4 && std::memcmp(file->data(), "GGUF", 4) == 0) return load_llama_gguf(GgufFile(file));
  return load_llama2c(file);
}

namespace {

// Stores a `rows x cols` matrix as `type` (f16 when a block type does not divide the row) in a buffer owned by
// w, its f32 values made kChunkRows rows at a time by fill(r0, r1, x) into x [r1 - r0, cols]: the f32 staging
// stays small (a whole 32000 x 768 embedding in f32 is 98 MB, more than stories110M's q4_0 weights and KV
// cache together, and it set the peak RSS of `bench decode`). The keep entry aliases the buffer's data
// (get() == data): this matrix alone owns it (see LlamaWeights::keep).
template <class Fill>
WeightRef store_matrix(LlamaWeights& w, int64_t rows, int64_t cols, QType type, Fill&& fill) {
  if ((type == QType::q8_0 || type == QType::q4_0) && cols % kernels::kQBlock != 0) type = QType::f16;
  const int64_t rb = kernels::qtype_row_bytes(type, cols);
  auto buf = std::make_shared<std::vector<uint8_t>>(static_cast<size_t>(rows * rb));
  // A multiple of 4 rows keeps each chunk a whole number of Philox blocks (4 values each) for the random fill.
  const int64_t chunk = std::max<int64_t>(4, (int64_t{1} << 16) / cols / 4 * 4);
  std::vector<float> x(static_cast<size_t>(std::min(rows, chunk) * cols));
  for (int64_t r0 = 0; r0 < rows; r0 += chunk) {
    const int64_t r1 = std::min(rows, r0 + chunk);
    fill(r0, r1, x.data());
    kern::quantize_rows(type, x.data(), buf->data() + r0 * rb, r1 - r0, cols);
  }
  w.keep.push_back(std::shared_ptr<const void>(buf, buf->data()));
  return WeightRef{type, buf->data(), rows, cols};
}

const float* store_vector(LlamaWeights& w, const float* x, int64_t n) {
  auto buf = std::make_shared<std::vector<float>>(x, x + n);
  w.keep.push_back(buf);
  return buf->data();
}

WeightRef requantize(LlamaWeights& w, const WeightRef& m, QType type) {
  return store_matrix(w, m.rows, m.cols, type, [&](int64_t r0, int64_t r1, float* x) {
    for (int64_t r = r0; r < r1; ++r) kern::dequantize_row(m.type, m.data, r, x + (r - r0) * m.cols, m.cols);
  });
}

}  // namespace

LlamaWeights random_llama_weights(const LlamaConfig& cfg, QType type, uint64_t seed, bool tied) {
  validate_llama_config(cfg, "random_llama_weights");
  LlamaWeights w;
  w.cfg = cfg;
  w.tied = tied;
  w.source = "random";
  Generator g(seed);
  // Uniform on [-a, a] with a = 0.02 * sqrt(3) (std 0.02): four values per Philox block.
  const auto matrix = [&](int64_t rows, int64_t cols) {
    const float a = 0.02f * std::sqrt(3.0f);
    return store_matrix(w, rows, cols, type, [&](int64_t r0, int64_t r1, float* x) {
      const int64_t n = (r1 - r0) * cols;
      for (int64_t i = 0; i < n; i += 4) {
        const auto b = g.block(g.advance(1));
        for (int64_t j = 0; j < 4 && i + j < n; ++j)
          x[i + j] = a * (2.0f * static_cast<float>(b[j] >> 8) * (1.0f / 16777216.0f) - 1.0f);
      }
    });
  };
  const std::vector<float> ones(static_cast<size_t>(cfg.dim), 1.0f);
  w.tok_embd = matrix(cfg.vocab_size, cfg.dim);
  for (int64_t l = 0; l < cfg.n_layers; ++l) {
    LlamaLayer L;
    L.attn_norm = store_vector(w, ones.data(), cfg.dim);
    L.ffn_norm = store_vector(w, ones.data(), cfg.dim);
    L.wq = matrix(cfg.dim, cfg.dim);
    L.wk = matrix(cfg.kv_dim(), cfg.dim);
    L.wv = matrix(cfg.kv_dim(), cfg.dim);
    L.wo = matrix(cfg.dim, cfg.dim);
    L.w_gate = matrix(cfg.hidden_dim, cfg.dim);
    L.w_down = matrix(cfg.dim, cfg.hidden_dim);
    L.w_up = matrix(cfg.hidden_dim, cfg.dim);
    w.layers.push_back(L);
  }
  w.output_norm = store_vector(w, ones.data(), cfg.dim);
  w.output = tied ? w.tok_embd : matrix(cfg.vocab_size, cfg.dim);
  return w;
}

LlamaWeights requantize_llama_weights(const LlamaWeights& src, QType type) {
  LlamaWeights w;
  w.cfg = src.cfg;
  w.tied = src.tied;
  w.source = src.source;
  w.keep = src.keep;  // norms stay where they are
  w.tok_embd = requantize(w, src.tok_embd, type);
  for (const LlamaLayer& s : src.layers) {
    LlamaLayer L = s;
    for (auto [dst, from] : {std::pair{&L.wq, &s.wq},
                             {&L.wk, &s.wk},
                             {&L.wv, &s.wv},
                             {&L.wo, &s.wo},
                             {&L.w_gate, &s.w_gate},
                             {&L.w_down, &s.w_down},
                             {&L.w_up, &s.w_up}})
      *dst = requantize(w, *from, type);
    w.layers.push_back(L);
  }
  w.output_norm = src.output_norm;
  w.output = src.tied ? w.tok_embd : requantize(w, src.output, type);
  return w;
}

}  // namespace xfmr::io
