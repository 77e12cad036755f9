#include "xfmr/models/gpt.h"

#include <cmath>
#include <set>

#include "xfmr/ops/attention.h"
#include "xfmr/ops/dropout.h"
#include "xfmr/ops/elementwise.h"
#include "xfmr/ops/embedding.h"
#include "xfmr/ops/linear_fused.h"
#include "xfmr/ops/matmul.h"
#include "xfmr/ops/view.h"

namespace xfmr::models {

void GptConfig::validate() const {
  XF_CHECK(vocab_size > 0, "model.vocab_size must be positive, got ", vocab_size);
  XF_CHECK(block_size > 0, "model.block_size must be positive, got ", block_size);
  XF_CHECK(n_layer > 0, "model.n_layer must be positive, got ", n_layer);
  XF_CHECK(n_head > 0, "model.n_head must be positive, got ", n_head);
  XF_CHECK(n_embd > 0, "model.n_embd must be positive, got ", n_embd);
  XF_CHECK(n_embd % n_head == 0, "model.n_embd (", n_embd, ") must be divisible by model.n_head (", n_head, ")");
  XF_CHECK(dropout >= 0 && dropout < 1, "model.dropout must be in [0, 1), got ", dropout);
  XF_CHECK(layer_norm_eps > 0, "model.layer_norm_eps must be positive, got ", layer_norm_eps);
}

namespace {

Generator& gen_or_default(Generator* g) { return g ? *g : default_generator(); }

class GptAttention : public Module {
 public:
  GptAttention(const GptConfig& c, Generator& init, double proj_std, DType dtype)
      : n_head(c.n_head),
        dropout(c.dropout),
        c_attn(c.n_embd, 3 * c.n_embd, c.bias, init, 0.02, dtype),
        c_proj(c.n_embd, c.n_embd, c.bias, init, proj_std, dtype) {
    register_module("c_attn", c_attn);
    register_module("c_proj", c_proj);
  }
  // x: [B, T, C] -> [B, T, C]
  // Dropout on the attention probabilities (nanoGPT's attn_dropout, HF's attn_pdrop; inside the fused kernel,
  // keyed by one draw from g) and on the residual branch (resid_dropout / resid_pdrop), training mode only.
  // residual + the branch. Without residual dropout the add runs in c_proj's GEMM epilogue.
  Tensor forward_residual(const Tensor& x, const Tensor& residual, Generator* g) const {
    const double pa = training() ? dropout : 0.0;
    const uint64_t seed = pa > 0 ? gen_or_default(g).next_u64() : 0;
    const Tensor heads = packed_self_attention(c_attn.forward(x), n_head, /*causal=*/true, pa, seed);
    if (dropout > 0) return residual + xfmr::dropout(c_proj.forward(heads), dropout, training(), gen_or_default(g));
    return c_proj.forward_residual(heads, residual);
  }
  int64_t n_head;
  double dropout;
  nn::Linear c_attn, c_proj;
};

class GptMlp : public Module {
 public:
  GptMlp(const GptConfig& c, Generator& init, double proj_std, DType dtype)
      : dropout(c.dropout),
        approx(c.gelu),
        c_fc(c.n_embd, 4 * c.n_embd, c.bias, init, 0.02, dtype),
        c_proj(4 * c.n_embd, c.n_embd, c.bias, init, proj_std, dtype) {
    register_module("c_fc", c_fc);
    register_module("c_proj", c_proj);
  }
  // residual + the branch (ops/linear_fused.h): without residual dropout one op, c_fc's GELU and the residual add
  // in GEMM epilogues; with it, c_fc and its GELU in one op.
  Tensor forward_residual(const Tensor& x, const Tensor& residual, Generator* g) const {
    if (dropout > 0) {
      const Tensor hidden = linear_gelu(x, c_fc.weight, c_fc.bias, approx);
      return residual + xfmr::dropout(c_proj.forward(hidden), dropout, training(), gen_or_default(g));
    }
    return mlp_residual(x, c_fc.weight, c_fc.bias, c_proj.weight, c_proj.bias, residual, approx);
  }
  double dropout;
  GeluApprox approx;
  nn::Linear c_fc, c_proj;
};

// The names of the Linear weights HF stores as Conv1D [in, out].
bool is_conv1d_weight(const std::string& name) {
  auto ends = [&](const char* s) {
    const std::string t(s);
    return name.size() >= t.size() && name.compare(name.size() - t.size(), t.size(), t) == 0;
  };
  return ends("attn.c_attn.weight") || ends("attn.c_proj.weight") || ends("mlp.c_fc.weight") ||
         ends("mlp.c_proj.weight");
}

}  // namespace

class GptBlock : public Module {
 public:
  GptBlock(const GptConfig& c, Generator& init, DType dtype)
      : ln_1(c.n_embd, c.layer_norm_eps, c.bias, dtype),
        attn(c, init, 0.02 / std::sqrt(2.0 * static_cast<double>(c.n_layer)), dtype),
        ln_2(c.n_embd, c.layer_norm_eps, c.bias, dtype),
        mlp(c, init, 0.02 / std::sqrt(2.0 * static_cast<double>(c.n_layer)), dtype) {
    register_module("ln_1", ln_1);
    register_module("attn", attn);
    register_module("ln_2", ln_2);
    register_module("mlp", mlp);
  }
  Tensor forward(const Tensor& x, Generator* g) const {
    const Tensor h = attn.forward_residual(ln_1.forward(x), x, g);
    return mlp.forward_residual(ln_2.forward(h), h, g);
  }
  nn::LayerNorm ln_1;
  GptAttention attn;
  nn::LayerNorm ln_2;
  GptMlp mlp;
};

Gpt::Gpt(const GptConfig& cfg, Generator& init, DType dtype) : cfg_((cfg.validate(), cfg)) {
  wte_ = std::make_unique<nn::Embedding>(cfg.vocab_size, cfg.n_embd, init, 0.02, dtype);
  wpe_ = std::make_unique<nn::Embedding>(cfg.block_size, cfg.n_embd, init, 0.02, dtype);
  for (int64_t l = 0; l < cfg.n_layer; ++l) {
    blocks_.push_back(std::make_unique<GptBlock>(cfg, init, dtype));
    h_.register_module(std::to_string(l), *blocks_.back());
  }
  ln_f_ = std::make_unique<nn::LayerNorm>(cfg.n_embd, cfg.layer_norm_eps, cfg.bias, dtype);
  transformer_.register_module("wte", *wte_);
  transformer_.register_module("wpe", *wpe_);
  transformer_.register_module("h", h_);
  transformer_.register_module("ln_f", *ln_f_);
  register_module("transformer", transformer_);
}

Gpt::~Gpt() = default;

Tensor Gpt::forward(const Tensor& ids, Generator* g) const {
  check_token_ids(ids, cfg_.block_size, "Gpt");
  const int64_t T = ids.size(1);
  // [B, T, C] token embeddings + [T, C] positions (broadcast over B)
  Tensor x = wte_->forward(ids) + slice(wpe_->weight, 0, 0, T);
  if (cfg_.dropout > 0) x = dropout(x, cfg_.dropout, training(), gen_or_default(g));
  for (const auto& blk : blocks_) x = blk->forward(x, g);
  // Tied head: logits = ln_f(x) · wteᵀ, [B, T, V]
  return linear(ln_f_->forward(x), wte_->weight);
}

nlohmann::json Gpt::hf_config() const {
  nlohmann::json j;
  j["model_type"] = "gpt2";
  j["architectures"] = {"GPT2LMHeadModel"};
  j["vocab_size"] = cfg_.vocab_size;
  j["n_positions"] = cfg_.block_size;
  j["n_ctx"] = cfg_.block_size;
  j["n_embd"] = cfg_.n_embd;
  j["n_layer"] = cfg_.n_layer;
  j["n_head"] = cfg_.n_head;
  j["n_inner"] = nullptr;
  j["activation_function"] = cfg_.gelu == GeluApprox::tanh ? "gelu_new" : "gelu";
  j["layer_norm_epsilon"] = cfg_.layer_norm_eps;
  j["resid_pdrop"] = cfg_.dropout;
  j["embd_pdrop"] = cfg_.dropout;
  j["attn_pdrop"] = cfg_.dropout;
  j["initializer_range"] = 0.02;
  j["tie_word_embeddings"] = true;
  j["torch_dtype"] = "float32";
  // HF GPT-2 always has biases; a bias-free model (nanoGPT's default) records it here (HF keeps the unknown key
  // as an attribute and loads the zero biases hf_state_dict writes).
  if (!cfg_.bias) j["bias"] = false;
  return j;
}

GptConfig Gpt::config_from_hf(const nlohmann::json& j) {
  XF_CHECK(j.is_object(), "gpt2 config: expected a JSON object");
  XF_CHECK(j.value("model_type", std::string()) == "gpt2", "gpt2 config: model_type is '",
           j.value("model_type", std::string()), "', expected 'gpt2'");
  auto get_int = [&](const char* k) -> int64_t {
    XF_CHECK(j.contains(k) && j[k].is_number_integer(), "gpt2 config: missing or non-integer '", k, "'");
    return j[k].get<int64_t>();
  };
  GptConfig c;
  c.vocab_size = get_int("vocab_size");
  c.block_size = get_int("n_positions");
  c.n_embd = get_int("n_embd");
  c.n_layer = get_int("n_layer");
  c.n_head = get_int("n_head");
  if (j.contains("n_inner") && !j["n_inner"].is_null())
    XF_CHECK(j["n_inner"].is_number_integer() && j["n_inner"].get<int64_t>() == 4 * c.n_embd,
             "gpt2 config: n_inner ", j["n_inner"].dump(), " is not supported (only 4 * n_embd)");
  const std::string act = j.value("activation_function", std::string("gelu_new"));
  if (act == "gelu_new" || act == "gelu_pytorch_tanh") c.gelu = GeluApprox::tanh;
  else if (act == "gelu") c.gelu = GeluApprox::none;
  else throw Error("gpt2 config: activation_function '" + act + "' is not supported (gelu, gelu_new)");
  c.layer_norm_eps = j.value("layer_norm_epsilon", 1e-5);
  c.dropout = j.value("resid_pdrop", 0.0);
  c.bias = j.value("bias", true);
  for (const char* k : {"scale_attn_by_inverse_layer_idx", "reorder_and_upcast_attn"})
    XF_CHECK(!j.value(k, false), "gpt2 config: '", k, "' = true is not supported");
  XF_CHECK(j.value("scale_attn_weights", true), "gpt2 config: scale_attn_weights = false is not supported");
  c.validate();
  return c;
}

std::vector<std::pair<std::string, Tensor>> Gpt::hf_state_dict() const {
  std::vector<std::pair<std::string, Tensor>> out;
  for (const auto& p : named_parameters()) {
    Tensor t = is_conv1d_weight(p.name) ? transpose(p.tensor.detach(), 0, 1) : p.tensor.detach();
    out.emplace_back(p.name, t.contiguous_copy());
  }
  // HF's GPT2LMHeadModel always has biases: a bias-free model (nanoGPT's bias=False) is written with zero
  // biases, which is the same function, so that transformers loads every tensor instead of initialising the
  // missing ones. load_hf_state accepts them back when they are zero.
  if (!cfg_.bias) {
    const DType dt = wte_->weight.dtype();
    const int64_t C = cfg_.n_embd;
    for (int64_t l = 0; l < cfg_.n_layer; ++l) {
      const std::string p = "transformer.h." + std::to_string(l) + ".";
      for (auto [name, n] : {std::pair<const char*, int64_t>{"ln_1.bias", C}, {"attn.c_attn.bias", 3 * C},
                             {"attn.c_proj.bias", C}, {"ln_2.bias", C}, {"mlp.c_fc.bias", 4 * C},
                             {"mlp.c_proj.bias", C}})
        out.emplace_back(p + name, Tensor::zeros({n}, dt));
    }
    out.emplace_back("transformer.ln_f.bias", Tensor::zeros({C}, dt));
  }
  return out;
}

void Gpt::load_hf_state(const io::SafetensorsFile& f) {
  // Resolve every name first (GPT2Model files have no "transformer." prefix), check shapes, then copy.
  const std::vector<NamedParameter> params = named_parameters();
  std::vector<std::pair<Tensor, Tensor>> plan;  // (destination, source in our layout)
  std::set<std::string> used;
  for (const auto& p : params) {
    std::string name = p.name;
    if (!f.contains(name) && name.rfind("transformer.", 0) == 0 && f.contains(name.substr(12))) name = name.substr(12);
    XF_CHECK(f.contains(name), "gpt2: '", f.path(), "' has no tensor '", p.name, "'");
    Tensor src = f.get(name);
    if (is_conv1d_weight(p.name)) {
      XF_CHECK(src.dim() == 2, "gpt2: '", f.path(), "': tensor '", name, "' has shape ", src.shape().str(),
               ", expected a matrix");
      src = transpose(src, 0, 1);
    }
    XF_CHECK(src.shape() == p.tensor.shape(), "gpt2: '", f.path(), "': tensor '", name, "' has shape ",
             (is_conv1d_weight(p.name) ? transpose(src, 0, 1) : src).shape().str(), ", the model expects ",
             (is_conv1d_weight(p.name) ? transpose(p.tensor.detach(), 0, 1) : p.tensor).shape().str());
    XF_CHECK(dtype_is_float(src.dtype()), "gpt2: '", f.path(), "': tensor '", name, "' has dtype ",
             dtype_name(src.dtype()), ", expected a float type");
    used.insert(name);
    plan.emplace_back(p.tensor, src);
  }
  for (const auto& n : f.names()) {
    if (used.count(n)) continue;
    // Known extras: the causal-mask buffers of older HF files and the tied head.
    const bool buffer = n.size() > 10 && (n.ends_with(".attn.bias") || n.ends_with(".attn.masked_bias"));
    if (buffer || n == "lm_head.weight") continue;
    // A bias-free model's export carries zero biases for HF (hf_state_dict); nonzero ones would be dropped.
    if (!cfg_.bias && n.ends_with(".bias")) {
      const Tensor b = f.get(n);
      bool zero = dtype_is_float(b.dtype());
      for (double x : zero ? b.to_vector() : std::vector<double>()) zero = zero && x == 0.0;
      XF_CHECK(zero, "gpt2: '", f.path(), "': tensor '", n, "' is not zero but the config says bias = false");
      continue;
    }
    throw Error("gpt2: '" + f.path() + "' has a tensor the model does not use: '" + n + "'");
  }
  for (auto& [dst, src] : plan) copy_parameter(dst, src);
}

}  // namespace xfmr::models
