#include "xfmr/infer/gpt2.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "xfmr/core/check.h"
#include "xfmr/core/parallel.h"
#include "xfmr/kernels/cpu/quant.h"
#include "xfmr/kernels/cpu/quant_gemm.h"
#include "xfmr/kernels/cpu/gelu.h"
#include "xfmr/kernels/cpu/vmath.h"

namespace xfmr::infer {

namespace {

using kernels::QType;

// out = (x - mean) / sqrt(var + eps) * w + b over n elements (biased variance, as torch.nn.LayerNorm);
// sums in double so the result does not depend on the summation order's rounding.
void layer_norm(float* out, const float* x, const float* w, const float* b, int64_t n, double eps) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += x[i];
  const double mean = s / static_cast<double>(n);
  double v = 0;
  for (int64_t i = 0; i < n; ++i) v += (x[i] - mean) * (x[i] - mean);
  const float inv = static_cast<float>(1.0 / std::sqrt(v / static_cast<double>(n) + eps));
  const float m = static_cast<float>(mean);
  for (int64_t i = 0; i < n; ++i) out[i] = (x[i] - m) * inv * w[i] + b[i];
}

// GELU (Hendrycks & Gimpel 2016) over n values in place: exact x Φ(x), or GPT-2's tanh approximation
// ("gelu_new", kernels/cpu/gelu.h: the training path's values). vmath's branch-free erf lets the loop vectorise (libm's are scalar
// calls, which cost more than the MLP's matrix-vector product on small models).
void gelu_inplace(float* x, int64_t n, GeluApprox a) {
  if (a == GeluApprox::tanh) {
    kernels::gelu_tanh(x, x, static_cast<float*>(nullptr), n);
  } else {
    for (int64_t i = 0; i < n; ++i) x[i] = 0.5f * x[i] * (1.0f + vmath::erf(x[i] * 0.7071067811865476f));
  }
}

}  // namespace

Gpt2Decoder::Gpt2Decoder(const models::Gpt& model, int64_t max_context, int32_t bos_id, int32_t eos_id,
                         std::shared_ptr<const void> keep)
    : cfg_(model.config()), bos_(bos_id), eos_(eos_id), keep_(std::move(keep)) {
  const int64_t C = cfg_.n_embd;
  ctx_ = max_context <= 0 ? cfg_.block_size : std::min(max_context, cfg_.block_size);
  std::map<std::string, Tensor> p;
  for (const auto& np : model.named_parameters()) p.emplace(np.name, np.tensor);
  // f32 contiguous parameters are used in place; others are copied to f32; a missing bias (a bias-free
  // model, GptConfig::bias = false) is zero.
  const auto get = [&](const std::string& name, int64_t n) -> const float* {
    const auto it = p.find(name);
    if (it == p.end()) {
      owned_.push_back(Tensor::zeros({n}));
      return owned_.back().data<float>();
    }
    const Tensor& t = it->second;
    XF_CHECK(t.numel() == n, "gpt2 decoder: parameter '", name, "' has ", t.numel(), " elements, expected ",
             n);
    if (t.dtype() == DType::f32 && t.is_contiguous()) return t.data<float>();
    owned_.push_back(t.detach().converted(DType::f32));
    return owned_.back().data<float>();
  };
  const auto lin = [&](const std::string& name, int64_t out, int64_t in) {
    return Linear{get(name + ".weight", out * in), get(name + ".bias", out), out, in};
  };
  const auto norm = [&](const std::string& name) {
    return Norm{get(name + ".weight", C), get(name + ".bias", C)};
  };
  wte_ = get("transformer.wte.weight", cfg_.vocab_size * C);
  wpe_ = get("transformer.wpe.weight", cfg_.block_size * C);
  for (int64_t l = 0; l < cfg_.n_layer; ++l) {
    const std::string b = "transformer.h." + std::to_string(l) + ".";
    layers_.push_back(Layer{norm(b + "ln_1"), norm(b + "ln_2"), lin(b + "attn.c_attn", 3 * C, C),
                            lin(b + "attn.c_proj", C, C), lin(b + "mlp.c_fc", 4 * C, C),
                            lin(b + "mlp.c_proj", C, 4 * C)});
  }
  ln_f_ = norm("transformer.ln_f");
  const auto sz = [](int64_t v) { return static_cast<size_t>(v); };
  key_cache_.resize(sz(cfg_.n_layer * ctx_ * C));
  value_cache_.resize(sz(cfg_.n_layer * ctx_ * C));
  logits_.resize(sz(cfg_.vocab_size));
  rows_ = 0;
}

void Gpt2Decoder::check_token(int32_t token, const char* what) const {
  XF_CHECK(token >= 0 && token < cfg_.vocab_size, "gpt2 ", what, ": token id ", token,
           " outside the vocabulary [0, ", cfg_.vocab_size, ")");
}

void Gpt2Decoder::linear(const Linear& l, const float* x, int64_t n, float* y) {
  if (n == 1) {
    kern::matvec(QType::f32, l.w, x, y, l.out, l.in);
  } else {
    // Rows split across the pool in chunks of at least ~64K multiply-adds (times parallel_for's grain
    // scale); f32 weights need no dequantization scratch.
    const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 16) / (n * l.in));
    parallel_for(l.out, grain, [&](int64_t a, int64_t b) {
      kern::matmul_rows(QType::f32, l.w, l.in, x, n, y, l.out, a, b, nullptr);
    });
  }
  for (int64_t i = 0; i < n; ++i)
    for (int64_t r = 0; r < l.out; ++r) y[i * l.out + r] += l.b[r];
}

void Gpt2Decoder::run_block(const int32_t* tokens, int64_t n, int64_t pos0, bool logits) {
  const int64_t C = cfg_.n_embd, H = cfg_.n_head, hs = C / H;
  const double eps = cfg_.layer_norm_eps;
  if (n > rows_) {  // activations for n tokens (once for decoding, once more on the first prefill)
    const auto sz = [](int64_t v) { return static_cast<size_t>(v); };
    for (auto* b : {&x_, &xn_, &att_, &y_}) b->resize(sz(n * C));
    qkv_.resize(sz(n * 3 * C));
    h_.resize(sz(n * 4 * C));
    scores_.resize(sz(n * H * ctx_));
    rows_ = n;
  }
  for (int64_t i = 0; i < n; ++i)
    for (int64_t c = 0; c < C; ++c) x_[i * C + c] = wte_[tokens[i] * C + c] + wpe_[(pos0 + i) * C + c];
  const float scale = 1.0f / std::sqrt(static_cast<float>(hs));
  for (int64_t l = 0; l < cfg_.n_layer; ++l) {
    const Layer& L = layers_[static_cast<size_t>(l)];
    float* kc = key_cache_.data() + l * ctx_ * C;
    float* vc = value_cache_.data() + l * ctx_ * C;
    for (int64_t i = 0; i < n; ++i)
      layer_norm(xn_.data() + i * C, x_.data() + i * C, L.ln_1.w, L.ln_1.b, C, eps);
    linear(L.attn, xn_.data(), n, qkv_.data());
    for (int64_t i = 0; i < n; ++i) {  // k and v into the cache at their positions
      std::copy_n(qkv_.data() + i * 3 * C + C, C, kc + (pos0 + i) * C);
      std::copy_n(qkv_.data() + i * 3 * C + 2 * C, C, vc + (pos0 + i) * C);
    }
    // Causal attention: token i (position pos0 + i) attends to positions 0..pos0 + i; one (token, head)
    // pair per task, each with its own row of scores.
    parallel_for(n * H, std::max<int64_t>(1, 4096 / ((pos0 + n) * hs)), [&](int64_t a, int64_t b) {
      for (int64_t task = a; task < b; ++task) {
        const int64_t i = task / H, h = task % H, last = pos0 + i;
        const float* q = qkv_.data() + i * 3 * C + h * hs;
        float* s = scores_.data() + task * ctx_;
        float mx = -INFINITY;
        for (int64_t t = 0; t <= last; ++t) {
          const float* k = kc + t * C + h * hs;
          float d = 0;
#pragma omp simd reduction(+ : d)
          for (int64_t e = 0; e < hs; ++e) d += q[e] * k[e];
          s[t] = d * scale;
          mx = std::max(mx, s[t]);
        }
        float sum = 0;
        for (int64_t t = 0; t <= last; ++t) sum += (s[t] = std::exp(s[t] - mx));
        const float inv = 1.0f / sum;
        float* out = att_.data() + i * C + h * hs;
        std::fill(out, out + hs, 0.0f);
        for (int64_t t = 0; t <= last; ++t) {
          const float* v = vc + t * C + h * hs;
          const float p = s[t] * inv;
          for (int64_t e = 0; e < hs; ++e) out[e] += p * v[e];
        }
      }
    });
    linear(L.proj, att_.data(), n, y_.data());
    for (int64_t k = 0; k < n * C; ++k) x_[k] += y_[k];
    for (int64_t i = 0; i < n; ++i)
      layer_norm(xn_.data() + i * C, x_.data() + i * C, L.ln_2.w, L.ln_2.b, C, eps);
    linear(L.fc, xn_.data(), n, h_.data());
    gelu_inplace(h_.data(), n * 4 * C, cfg_.gelu);
    linear(L.fc_proj, h_.data(), n, y_.data());
    for (int64_t k = 0; k < n * C; ++k) x_[k] += y_[k];
  }
  if (!logits) return;
  layer_norm(xn_.data(), x_.data() + (n - 1) * C, ln_f_.w, ln_f_.b, C, eps);
  kern::matvec(QType::f32, wte_, xn_.data(), logits_.data(), cfg_.vocab_size, C);  // tied head
}

const float* Gpt2Decoder::forward(int32_t token, int64_t pos) {
  check_token(token, "forward");
  XF_CHECK(pos >= 0 && pos < ctx_, "gpt2 forward: position ", pos, " outside the context [0, ", ctx_, ")");
  run_block(&token, 1, pos, true);
  return logits_.data();
}

const float* Gpt2Decoder::prefill(const int32_t* tokens, int64_t n, int64_t pos0) {
  XF_CHECK(n >= 1, "gpt2 prefill: no tokens");
  XF_CHECK(pos0 >= 0 && pos0 + n <= ctx_, "gpt2 prefill: positions ", pos0, "..", pos0 + n - 1,
           " outside the context [0, ", ctx_, ")");
  for (int64_t i = 0; i < n; ++i) check_token(tokens[i], "prefill");
  for (int64_t b = 0; b < n; b += kPrefillBlock) {
    const int64_t m = std::min(kPrefillBlock, n - b);
    run_block(tokens + b, m, pos0 + b, b + m == n);
  }
  return logits_.data();
}

}  // namespace xfmr::infer
