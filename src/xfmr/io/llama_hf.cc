#include "xfmr/io/llama_hf.h"

#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "xfmr/core/check.h"
#include "xfmr/io/file_util.h"
#include "xfmr/io/safetensors.h"

namespace fs = std::filesystem;

namespace xfmr::io {

using kernels::QType;

namespace {

nlohmann::json read_config(const std::string& dir) {
  const std::string path = (fs::path(dir) / "config.json").string();
  XF_CHECK(fs::exists(path), "'", dir, "': no config.json in this folder (not a model folder)");
  const auto j = nlohmann::json::parse(read_file(path), nullptr, /*allow_exceptions=*/false);
  XF_CHECK(!j.is_discarded() && j.is_object(), "'", path, "' is not a JSON object");
  return j;
}

// A token id from config.json: an integer, the first of a list (some configs list several EOS ids), or
// absent / null (-1: none).
int32_t token_id(const nlohmann::json& j, const char* key, const std::string& path) {
  if (!j.contains(key) || j[key].is_null()) return -1;
  const nlohmann::json& v = j[key].is_array() && !j[key].empty() ? j[key][0] : j[key];
  XF_CHECK(v.is_number_integer(), "'", path, "': ", key, " is not an integer");
  return static_cast<int32_t>(v.get<int64_t>());
}

LlamaConfig config_from_json(const nlohmann::json& j, const std::string& path) {
  const auto get_int = [&](const char* k) -> int64_t {
    XF_CHECK(j.contains(k) && j[k].is_number_integer(), "'", path, "': missing or non-integer '", k, "'");
    return j[k].get<int64_t>();
  };
  const auto get_num = [&](const char* k, double dflt) -> double {
    if (!j.contains(k) || j[k].is_null()) return dflt;
    XF_CHECK(j[k].is_number(), "'", path, "': '", k, "' is not a number");
    return j[k].get<double>();
  };
  LlamaConfig c;
  c.dim = get_int("hidden_size");
  c.hidden_dim = get_int("intermediate_size");
  c.n_layers = get_int("num_hidden_layers");
  c.n_heads = get_int("num_attention_heads");
  c.n_kv_heads = j.contains("num_key_value_heads") && !j["num_key_value_heads"].is_null()
                     ? get_int("num_key_value_heads")
                     : c.n_heads;
  c.vocab_size = get_int("vocab_size");
  c.seq_len = get_int("max_position_embeddings");
  c.norm_eps = static_cast<float>(get_num("rms_norm_eps", 1e-6));  // HF LlamaConfig's default
  c.rope_theta = static_cast<float>(get_num("rope_theta", 10000.0));
  // No token ids in the config (xfmr train's folders, whose char/byte vocabularies have none): nothing is
  // treated as EOS, rather than llama2.c's 1 / 2, which would be ordinary characters there.
  c.bos_id = token_id(j, "bos_token_id", path);
  c.eos_id = token_id(j, "eos_token_id", path);
  XF_CHECK(j.value("hidden_act", std::string("silu")) == "silu", "'", path, "': hidden_act '",
           j.value("hidden_act", std::string()), "' is not supported (silu only)");
  XF_CHECK(!j.value("attention_bias", false) && !j.value("mlp_bias", false), "'", path,
           "': attention_bias / mlp_bias are not supported");
  XF_CHECK(!j.contains("rope_scaling") || j["rope_scaling"].is_null(), "'", path,
           "': rope_scaling is not supported");
  validate_llama_config(c, "'" + path + "'");
  // After validation (dim a multiple of n_heads), so nothing here can overflow.
  if (j.contains("head_dim") && !j["head_dim"].is_null())
    XF_CHECK(get_int("head_dim") == c.head_size(), "'", path, "': head_dim ", get_int("head_dim"),
             " is not hidden_size / num_attention_heads = ", c.head_size(), " (not supported)");
  return c;
}

class Reader {
 public:
  Reader(const std::string& path, LlamaWeights& w) : f_(load_safetensors(path)), w_(w) {}

  // The tensor `name`, checked to be [rows, cols] (cols 0: a vector of rows) of a float dtype.
  Tensor get(const std::string& name, int64_t rows, int64_t cols) {
    XF_CHECK(f_.contains(name), "'", f_.path(), "' has no tensor '", name, "'");
    Tensor t = f_.get(name);
    const bool ok = cols == 0 ? (t.dim() == 1 && t.size(0) == rows)
                              : (t.dim() == 2 && t.size(0) == rows && t.size(1) == cols);
    XF_CHECK(ok, "'", f_.path(), "': tensor '", name, "' has shape ", t.shape().str(), ", expected [", rows,
             cols ? ", " + std::to_string(cols) : std::string(), "]");
    XF_CHECK(dtype_is_float(t.dtype()), "'", f_.path(), "': tensor '", name, "' has dtype ",
             dtype_name(t.dtype()), ", expected a float type");
    used_.insert(name);
    return t;
  }

  // A matrix as f32 or f16 rows (borrowed when the file already holds it so), others converted to f32.
  WeightRef matrix(const std::string& name, int64_t rows, int64_t cols) {
    Tensor t = get(name, rows, cols);
    if (!(t.dtype() == DType::f32 || t.dtype() == DType::f16) || !t.is_contiguous())
      t = t.converted(DType::f32);
    return keep(t, rows, cols);
  }

  // q_proj / k_proj: each head's rows reordered from rotate-half to adjacent pairs (see llama_hf.h).
  WeightRef rope_matrix(const std::string& name, int64_t heads, int64_t head_size, int64_t cols) {
    const WeightRef src = matrix(name, heads * head_size, cols);
    auto buf = std::make_shared<std::vector<uint8_t>>(static_cast<size_t>(src.bytes()));
    const int64_t rb = src.row_bytes(), half = head_size / 2;
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t i = 0; i < half; ++i)
        for (int64_t p = 0; p < 2; ++p)
          std::memcpy(buf->data() + (h * head_size + 2 * i + p) * rb,
                      src.data + (h * head_size + p * half + i) * rb, static_cast<size_t>(rb));
    w_.keep.push_back(buf);
    return WeightRef{src.type, buf->data(), src.rows, src.cols};
  }

  const float* vector(const std::string& name, int64_t n) {
    Tensor t = get(name, n, 0);
    if (t.dtype() != DType::f32 || !t.is_contiguous()) t = t.converted(DType::f32);
    w_.keep.push_back(std::make_shared<Tensor>(t));
    return t.data<float>();
  }

  // Every tensor in the file must have been used (an unknown one means another architecture or variant).
  void check_all_used() const {
    for (const std::string& n : f_.names())
      XF_CHECK(used_.count(n) || n.ends_with("rotary_emb.inv_freq"), "'", f_.path(),
               "' has a tensor a Llama model does not use: '", n, "'");
  }

  const SafetensorsFile& file() const { return f_; }

 private:
  WeightRef keep(const Tensor& t, int64_t rows, int64_t cols) {
    w_.keep.push_back(std::make_shared<Tensor>(t));
    const QType type = t.dtype() == DType::f16 ? QType::f16 : QType::f32;
    return WeightRef{type, static_cast<const uint8_t*>(t.raw_data()), rows, cols};
  }

  SafetensorsFile f_;
  LlamaWeights& w_;
  std::set<std::string> used_;
};

}  // namespace

bool is_model_folder(const std::string& path) {
  std::error_code ec;
  return fs::is_directory(path, ec) && fs::exists(fs::path(path) / "config.json", ec);
}

std::string model_folder_type(const std::string& dir) {
  const nlohmann::json j = read_config(dir);
  const std::string path = (fs::path(dir) / "config.json").string();
  XF_CHECK(j.contains("model_type") && j["model_type"].is_string(), "'", path, "': no \"model_type\" string");
  return j["model_type"].get<std::string>();
}

LlamaWeights load_llama_hf(const std::string& dir) {
  const std::string cfg_path = (fs::path(dir) / "config.json").string();
  const nlohmann::json j = read_config(dir);
  const std::string type = model_folder_type(dir);
  XF_CHECK(type == "llama", "'", cfg_path, "': model_type '", type,
           "' is not a Llama model (llama only here)");
  LlamaWeights w;
  w.cfg = config_from_json(j, cfg_path);
  w.source = dir;
  const std::string st = (fs::path(dir) / "model.safetensors").string();
  XF_CHECK(fs::exists(st), "'", dir,
           "': no model.safetensors in this folder (sharded checkpoints are not "
           "supported)");
  const LlamaConfig& c = w.cfg;
  Reader r(st, w);
  w.keep.push_back(std::make_shared<SafetensorsFile>(r.file()));
  w.tok_embd = r.matrix("model.embed_tokens.weight", c.vocab_size, c.dim);
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    LlamaLayer L;
    L.attn_norm = r.vector(p + "input_layernorm.weight", c.dim);
    L.wq = r.rope_matrix(p + "self_attn.q_proj.weight", c.n_heads, c.head_size(), c.dim);
    L.wk = r.rope_matrix(p + "self_attn.k_proj.weight", c.n_kv_heads, c.head_size(), c.dim);
    L.wv = r.matrix(p + "self_attn.v_proj.weight", c.kv_dim(), c.dim);
    L.wo = r.matrix(p + "self_attn.o_proj.weight", c.dim, c.dim);
    L.ffn_norm = r.vector(p + "post_attention_layernorm.weight", c.dim);
    L.w_gate = r.matrix(p + "mlp.gate_proj.weight", c.hidden_dim, c.dim);
    L.w_up = r.matrix(p + "mlp.up_proj.weight", c.hidden_dim, c.dim);
    L.w_down = r.matrix(p + "mlp.down_proj.weight", c.dim, c.hidden_dim);
    w.layers.push_back(L);
  }
  w.output_norm = r.vector("model.norm.weight", c.dim);
  // Tied only when the config says so (HF's default is untied): then the file usually has no lm_head.
  w.tied = j.value("tie_word_embeddings", false);
  w.output = w.tied ? w.tok_embd : r.matrix("lm_head.weight", c.vocab_size, c.dim);
  if (w.tied && r.file().contains("lm_head.weight")) r.get("lm_head.weight", c.vocab_size, c.dim);
  r.check_all_used();
  return w;
}

}  // namespace xfmr::io
