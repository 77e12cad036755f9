#include "xfmr/infer/llama.h"

#include <algorithm>
#include <cmath>

#include "xfmr/core/check.h"
#include "xfmr/core/parallel.h"
#include "xfmr/kernels/cpu/quant.h"
#include "xfmr/kernels/ref/quant.h"

namespace xfmr::infer {

namespace {

// out = x / sqrt(mean(x²) + eps) * w, in f32 as run.c computes it.
void rmsnorm(float* out, const float* x, const float* w, int64_t n, float eps) {
  float ss = 0;
  for (int64_t i = 0; i < n; ++i) ss += x[i] * x[i];
  const float s = 1.0f / std::sqrt(ss / static_cast<float>(n) + eps);
  for (int64_t i = 0; i < n; ++i) out[i] = w[i] * (s * x[i]);
}

void matvec(const io::WeightRef& m, const float* x, float* y) {
  kern::matvec(m.type, m.data, x, y, m.rows, m.cols);
}

// Rotates the adjacent pairs of every head of v [n_heads * head_size].
void rope(float* v, int64_t n_heads, int64_t head_size, const float* cs, const float* sn) {
  for (int64_t h = 0; h < n_heads; ++h) {
    float* p = v + h * head_size;
    for (int64_t i = 0; i < head_size / 2; ++i) {
      const float a = p[2 * i], b = p[2 * i + 1];
      p[2 * i] = a * cs[i] - b * sn[i];
      p[2 * i + 1] = a * sn[i] + b * cs[i];
    }
  }
}

}  // namespace

LlamaModel::LlamaModel(io::LlamaWeights w, int64_t max_context) : w_(std::move(w)) {
  const io::LlamaConfig& c = w_.cfg;
  io::validate_llama_config(c, "LlamaModel");
  ctx_ = max_context <= 0 ? c.seq_len : std::min(max_context, c.seq_len);
  const auto n = [](int64_t v) { return static_cast<size_t>(v); };
  x_.resize(n(c.dim));
  xb_.resize(n(c.dim));
  xb2_.resize(n(c.dim));
  q_.resize(n(c.dim));
  hb_.resize(n(c.hidden_dim));
  hb2_.resize(n(c.hidden_dim));
  att_.resize(n(c.n_heads * ctx_));
  logits_.resize(n(c.vocab_size));
  rope_cos_.resize(n(c.head_size() / 2));
  rope_sin_.resize(n(c.head_size() / 2));
  key_cache_.resize(n(c.n_layers * ctx_ * c.kv_dim()));
  value_cache_.resize(n(c.n_layers * ctx_ * c.kv_dim()));
}

void LlamaModel::attention(int64_t l, int64_t pos) {
  const io::LlamaConfig& c = w_.cfg;
  const int64_t hs = c.head_size(), kvd = c.kv_dim(), group = c.n_heads / c.n_kv_heads;
  const float* kc = key_cache_.data() + l * ctx_ * kvd;
  const float* vc = value_cache_.data() + l * ctx_ * kvd;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hs));
  // Heads are independent; split them across threads once the context makes a head's work worth it.
  const int64_t chunks = c.n_heads * (pos + 1) * hs / 16384;
  parallel_chunks(c.n_heads, chunks, [&](int64_t h0, int64_t h1) {
    for (int64_t h = h0; h < h1; ++h) {
      const float* q = q_.data() + h * hs;
      float* att = att_.data() + h * ctx_;
      const int64_t kvh = h / group;
      float mx = -INFINITY;
      for (int64_t t = 0; t <= pos; ++t) {
        const float* k = kc + t * kvd + kvh * hs;
        float s = 0;
        for (int64_t i = 0; i < hs; ++i) s += q[i] * k[i];
        att[t] = s * scale;
        mx = std::max(mx, att[t]);
      }
      float sum = 0;
      for (int64_t t = 0; t <= pos; ++t) {
        att[t] = std::exp(att[t] - mx);
        sum += att[t];
      }
      float* out = xb_.data() + h * hs;
      std::fill(out, out + hs, 0.0f);
      const float inv = 1.0f / sum;
      for (int64_t t = 0; t <= pos; ++t) {
        const float* v = vc + t * kvd + kvh * hs;
        const float a = att[t] * inv;
        for (int64_t i = 0; i < hs; ++i) out[i] += a * v[i];
      }
    }
  });
}

const float* LlamaModel::forward(int32_t token, int64_t pos) {
  const io::LlamaConfig& c = w_.cfg;
  XF_CHECK(token >= 0 && token < c.vocab_size, "llama forward: token id ", token,
           " outside the vocabulary [0, ", c.vocab_size, ")");
  XF_CHECK(pos >= 0 && pos < ctx_, "llama forward: position ", pos, " outside the context [0, ", ctx_, ")");
  const int64_t dim = c.dim, hs = c.head_size(), kvd = c.kv_dim(), hid = c.hidden_dim;
  kern::dequantize_row(w_.tok_embd.type, w_.tok_embd.data, token, x_.data(), dim);
  // RoPE angles for this position, computed in f32 like run.c so greedy decoding matches it token for token.
  for (int64_t i = 0; i < hs / 2; ++i) {
    const float freq = 1.0f / std::pow(c.rope_theta, static_cast<float>(2 * i) / static_cast<float>(hs));
    const float a = static_cast<float>(pos) * freq;
    rope_cos_[static_cast<size_t>(i)] = std::cos(a);
    rope_sin_[static_cast<size_t>(i)] = std::sin(a);
  }
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const io::LlamaLayer& L = w_.layers[static_cast<size_t>(l)];
    float* k = key_cache_.data() + (l * ctx_ + pos) * kvd;
    float* v = value_cache_.data() + (l * ctx_ + pos) * kvd;
    rmsnorm(xb_.data(), x_.data(), L.attn_norm, dim, c.norm_eps);
    matvec(L.wq, xb_.data(), q_.data());
    matvec(L.wk, xb_.data(), k);
    matvec(L.wv, xb_.data(), v);
    rope(q_.data(), c.n_heads, hs, rope_cos_.data(), rope_sin_.data());
    rope(k, c.n_kv_heads, hs, rope_cos_.data(), rope_sin_.data());
    attention(l, pos);
    matvec(L.wo, xb_.data(), xb2_.data());
    for (int64_t i = 0; i < dim; ++i) x_[i] += xb2_[i];

    rmsnorm(xb_.data(), x_.data(), L.ffn_norm, dim, c.norm_eps);
    matvec(L.w_gate, xb_.data(), hb_.data());
    matvec(L.w_up, xb_.data(), hb2_.data());
    for (int64_t i = 0; i < hid; ++i) {
      const float g = hb_[i];
      hb_[i] = g * (1.0f / (1.0f + std::exp(-g))) * hb2_[i];
    }
    matvec(L.w_down, hb_.data(), xb_.data());
    for (int64_t i = 0; i < dim; ++i) x_[i] += xb_[i];
  }
  rmsnorm(x_.data(), x_.data(), w_.output_norm, dim, c.norm_eps);
  matvec(w_.output, x_.data(), logits_.data());
  return logits_.data();
}

const float* LlamaModel::prefill(const int32_t* tokens, int64_t n, int64_t pos0) {
  XF_CHECK(n >= 1, "llama prefill: no tokens");
  const float* out = nullptr;
  for (int64_t i = 0; i < n; ++i) out = forward(tokens[i], pos0 + i);
  return out;
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
