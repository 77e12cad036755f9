#include "xfmr/models/llama.h"

#include <cmath>
#include <set>

#include "xfmr/nn/swiglu.h"
#include "xfmr/ops/attention.h"
#include "xfmr/ops/dropout.h"
#include "xfmr/ops/elementwise.h"
#include "xfmr/ops/rope.h"
#include "xfmr/ops/view.h"

namespace xfmr::models {

void LlamaConfig::validate() const {
  XF_CHECK(vocab_size > 0, "model.vocab_size must be positive, got ", vocab_size);
  XF_CHECK(block_size > 0, "model.block_size must be positive, got ", block_size);
  XF_CHECK(n_layer > 0, "model.n_layer must be positive, got ", n_layer);
  XF_CHECK(n_head > 0, "model.n_head must be positive, got ", n_head);
  XF_CHECK(n_embd > 0, "model.n_embd must be positive, got ", n_embd);
  XF_CHECK(n_embd % n_head == 0, "model.n_embd (", n_embd, ") must be divisible by model.n_head (", n_head, ")");
  XF_CHECK((n_embd / n_head) % 2 == 0, "model: the head dimension n_embd / n_head = ", n_embd / n_head,
           " must be even for rotary embeddings");
  XF_CHECK(n_kv_head > 0, "model.n_kv_head must be positive, got ", n_kv_head);
  XF_CHECK(n_head % n_kv_head == 0, "model.n_head (", n_head, ") must be divisible by model.n_kv_head (", n_kv_head,
           ")");
  XF_CHECK(intermediate_size >= 0, "model.intermediate_size must be >= 0, got ", intermediate_size);
  XF_CHECK(rms_norm_eps > 0, "model.rms_norm_eps must be positive, got ", rms_norm_eps);
  XF_CHECK(rope_theta > 0, "model.rope_theta must be positive, got ", rope_theta);
  XF_CHECK(dropout >= 0 && dropout < 1, "model.dropout must be in [0, 1), got ", dropout);
}

int64_t LlamaConfig::hidden() const {
  if (intermediate_size > 0) return intermediate_size;
  const int64_t h = (8 * n_embd + 2) / 3;  // ceil(8C/3): the parameter count of a 4C GELU MLP (Shazeer 2020)
  return (h + 31) / 32 * 32;
}

namespace {

Generator& gen_or_default(Generator* g) { return g ? *g : default_generator(); }

class LlamaAttention : public Module {
 public:
  LlamaAttention(const LlamaConfig& c, Generator& init, double out_std, DType dtype)
      : n_head(c.n_head),
        n_kv_head(c.n_kv_head),
        head_dim(c.n_embd / c.n_head),
        theta(c.rope_theta),
        q_proj(c.n_embd, c.n_head * head_dim, false, init, 0.02, dtype),
        k_proj(c.n_embd, c.n_kv_head * head_dim, false, init, 0.02, dtype),
        v_proj(c.n_embd, c.n_kv_head * head_dim, false, init, 0.02, dtype),
        o_proj(c.n_head * head_dim, c.n_embd, false, init, out_std, dtype) {
    register_module("q_proj", q_proj);
    register_module("k_proj", k_proj);
    register_module("v_proj", v_proj);
    register_module("o_proj", o_proj);
  }
  // x: [B, T, C] -> [B, T, C]. attn_dropout (training only): dropout on the attention probabilities, inside
  // the fused kernel, keyed by one draw from g (HF's attention_dropout).
  Tensor forward(const Tensor& x, double attn_dropout, Generator* g) const {
    const int64_t B = x.size(0), T = x.size(1);
    auto heads = [&](const Tensor& y, int64_t h) {  // [B, T, h·D] -> [B, h, T, D]
      return transpose(reshape(y, {B, T, h, head_dim}), 1, 2);
    };
    const Tensor q = rope(heads(q_proj.forward(x), n_head), 0, theta, RopeStyle::half);
    const Tensor k = rope(heads(k_proj.forward(x), n_kv_head), 0, theta, RopeStyle::half);
    const Tensor v = heads(v_proj.forward(x), n_kv_head);
    AttentionOptions opt;
    opt.causal = true;
    if (training() && attn_dropout > 0) {
      opt.dropout_p = attn_dropout;
      opt.dropout_seed = gen_or_default(g).next_u64();
    }
    const Tensor y = scaled_dot_product_attention(q, k, v, opt);  // [B, H, T, D], GQA inside
    return o_proj.forward(reshape(transpose(y, 1, 2), {B, T, n_head * head_dim}));
  }
  int64_t n_head, n_kv_head, head_dim;
  double theta;
  nn::Linear q_proj, k_proj, v_proj, o_proj;
};

}  // namespace

class LlamaBlock : public Module {
 public:
  LlamaBlock(const LlamaConfig& c, Generator& init, DType dtype)
      : dropout(c.dropout),
        input_layernorm(c.n_embd, c.rms_norm_eps, dtype),
        self_attn(c, init, 0.02 / std::sqrt(2.0 * static_cast<double>(c.n_layer)), dtype),
        post_attention_layernorm(c.n_embd, c.rms_norm_eps, dtype),
        mlp(c.n_embd, c.hidden(), init, 0.02 / std::sqrt(2.0 * static_cast<double>(c.n_layer)), dtype) {
    register_module("self_attn", self_attn);
    register_module("mlp", mlp);
    register_module("input_layernorm", input_layernorm);
    register_module("post_attention_layernorm", post_attention_layernorm);
  }
  Tensor forward(const Tensor& x, Generator* g) const {
    Tensor a = self_attn.forward(input_layernorm.forward(x), dropout, g);
    if (dropout > 0) a = xfmr::dropout(a, dropout, training(), gen_or_default(g));
    const Tensor h = x + a;
    Tensor m = mlp.forward(post_attention_layernorm.forward(h));
    if (dropout > 0) m = xfmr::dropout(m, dropout, training(), gen_or_default(g));
    return h + m;
  }
  double dropout;
  nn::RMSNorm input_layernorm;
  LlamaAttention self_attn;
  nn::RMSNorm post_attention_layernorm;
  nn::SwiGLU mlp;
};

Llama::Llama(const LlamaConfig& cfg, Generator& init, DType dtype) : cfg_((cfg.validate(), cfg)) {
  embed_tokens_ = std::make_unique<nn::Embedding>(cfg.vocab_size, cfg.n_embd, init, 0.02, dtype);
  for (int64_t l = 0; l < cfg.n_layer; ++l) {
    blocks_.push_back(std::make_unique<LlamaBlock>(cfg, init, dtype));
    layers_.register_module(std::to_string(l), *blocks_.back());
  }
  norm_ = std::make_unique<nn::RMSNorm>(cfg.n_embd, cfg.rms_norm_eps, dtype);
  lm_head_ = std::make_unique<nn::Linear>(cfg.n_embd, cfg.vocab_size, false, init, 0.02, dtype);
  model_.register_module("embed_tokens", *embed_tokens_);
  model_.register_module("layers", layers_);
  model_.register_module("norm", *norm_);
  register_module("model", model_);
  register_module("lm_head", *lm_head_);
}

Llama::~Llama() = default;

Tensor Llama::forward(const Tensor& ids, Generator* g) const {
  check_token_ids(ids, cfg_.block_size, "Llama");
  Tensor x = embed_tokens_->forward(ids);  // [B, T, C]; positions enter through RoPE
  for (const auto& blk : blocks_) x = blk->forward(x, g);
  return lm_head_->forward(norm_->forward(x));  // [B, T, V]
}

nlohmann::json Llama::hf_config() const {
  nlohmann::json j;
  j["model_type"] = "llama";
  j["architectures"] = {"LlamaForCausalLM"};
  j["vocab_size"] = cfg_.vocab_size;
  j["hidden_size"] = cfg_.n_embd;
  j["intermediate_size"] = cfg_.hidden();
  j["num_hidden_layers"] = cfg_.n_layer;
  j["num_attention_heads"] = cfg_.n_head;
  j["num_key_value_heads"] = cfg_.n_kv_head;
  j["max_position_embeddings"] = cfg_.block_size;
  j["rms_norm_eps"] = cfg_.rms_norm_eps;
  j["rope_theta"] = cfg_.rope_theta;
  j["hidden_act"] = "silu";
  j["attention_bias"] = false;
  j["attention_dropout"] = cfg_.dropout;
  j["mlp_bias"] = false;
  j["tie_word_embeddings"] = false;
  j["initializer_range"] = 0.02;
  j["torch_dtype"] = "float32";
  return j;
}

LlamaConfig Llama::config_from_hf(const nlohmann::json& j) {
  XF_CHECK(j.is_object(), "llama config: expected a JSON object");
  XF_CHECK(j.value("model_type", std::string()) == "llama", "llama config: model_type is '",
           j.value("model_type", std::string()), "', expected 'llama'");
  auto get_int = [&](const char* k) -> int64_t {
    XF_CHECK(j.contains(k) && j[k].is_number_integer(), "llama config: missing or non-integer '", k, "'");
    return j[k].get<int64_t>();
  };
  LlamaConfig c;
  c.vocab_size = get_int("vocab_size");
  c.n_embd = get_int("hidden_size");
  c.intermediate_size = get_int("intermediate_size");
  c.n_layer = get_int("num_hidden_layers");
  c.n_head = get_int("num_attention_heads");
  c.n_kv_head = j.contains("num_key_value_heads") && !j["num_key_value_heads"].is_null()
                    ? get_int("num_key_value_heads")
                    : c.n_head;
  c.block_size = get_int("max_position_embeddings");
  c.rms_norm_eps = j.value("rms_norm_eps", 1e-6);
  c.rope_theta = j.value("rope_theta", 10000.0);
  XF_CHECK(j.value("hidden_act", std::string("silu")) == "silu", "llama config: hidden_act '",
           j.value("hidden_act", std::string()), "' is not supported (silu)");
  XF_CHECK(!j.value("tie_word_embeddings", false), "llama config: tie_word_embeddings = true is not supported");
  XF_CHECK(!j.value("attention_bias", false) && !j.value("mlp_bias", false),
           "llama config: attention_bias / mlp_bias are not supported");
  XF_CHECK(!j.contains("rope_scaling") || j["rope_scaling"].is_null(),
           "llama config: rope_scaling is not supported");
  c.validate();
  return c;
}

std::vector<std::pair<std::string, Tensor>> Llama::hf_state_dict() const {
  std::vector<std::pair<std::string, Tensor>> out;
  for (const auto& p : named_parameters()) out.emplace_back(p.name, p.tensor.detach().contiguous_copy());
  return out;
}

void Llama::load_hf_state(const io::SafetensorsFile& f) {
  std::vector<std::pair<Tensor, Tensor>> plan;
  std::set<std::string> used;
  for (const auto& p : named_parameters()) {
    XF_CHECK(f.contains(p.name), "llama: '", f.path(), "' has no tensor '", p.name, "'");
    const Tensor src = f.get(p.name);
    XF_CHECK(src.shape() == p.tensor.shape(), "llama: '", f.path(), "': tensor '", p.name, "' has shape ",
             src.shape().str(), ", the model expects ", p.tensor.shape().str());
    XF_CHECK(dtype_is_float(src.dtype()), "llama: '", f.path(), "': tensor '", p.name, "' has dtype ",
             dtype_name(src.dtype()), ", expected a float type");
    used.insert(p.name);
    plan.emplace_back(p.tensor, src);
  }
  for (const auto& n : f.names()) {
    // rotary_emb.inv_freq: a buffer older HF versions saved; it is recomputed from rope_theta.
    XF_CHECK(used.count(n) || n.ends_with("rotary_emb.inv_freq"), "llama: '", f.path(),
             "' has a tensor the model does not use: '", n, "'");
  }
  for (auto& [dst, src] : plan) copy_parameter(dst, src);
}

}  // namespace xfmr::models
