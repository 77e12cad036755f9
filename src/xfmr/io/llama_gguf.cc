#include "xfmr/io/llama_gguf.h"

#include <cstring>

#include "xfmr/core/check.h"

namespace xfmr::io {

using kernels::QType;

namespace {

struct Loader {
  const GgufFile& f;
  std::string where() const { return "GGUF '" + f.path() + "'"; }

  const GgufTensorInfo& tensor(const std::string& name) const {
    const GgufTensorInfo* t = f.find_tensor(name);
    XF_CHECK(t, where(), ": tensor '", name, "' is missing");
    return *t;
  }
  static std::string shape_str(const std::vector<int64_t>& ne) {
    std::string s = "[";
    for (size_t i = 0; i < ne.size(); ++i) s += (i ? ", " : "") + std::to_string(ne[i]);
    return s + "]";
  }
  // A matrix with GGUF ne = {cols, rows} (PyTorch [rows, cols]).
  WeightRef matrix(const std::string& name, int64_t rows, int64_t cols) const {
    const GgufTensorInfo& t = tensor(name);
    XF_CHECK(t.ne.size() == 2 && t.ne[0] == cols && t.ne[1] == rows, where(), ": tensor '", name, "' has ne ",
             shape_str(t.ne), ", expected [", cols, ", ", rows, "]");
    return WeightRef{t.type, t.data, rows, cols};
  }
  const float* vector(const std::string& name, int64_t n) const {
    const GgufTensorInfo& t = tensor(name);
    XF_CHECK(t.ne.size() == 1 && t.ne[0] == n, where(), ": tensor '", name, "' has ne ", shape_str(t.ne),
             ", expected [", n, "]");
    XF_CHECK(t.type == QType::f32, where(), ": norm weight '", name, "' is ", kernels::qtype_name(t.type),
             " (xfmr expects f32 norms)");
    XF_CHECK(reinterpret_cast<uintptr_t>(t.data) % alignof(float) == 0, where(), ": tensor '", name,
             "' is not 4-byte aligned");
    return reinterpret_cast<const float*>(t.data);
  }
};

}  // namespace

LlamaWeights load_llama_gguf(const GgufFile& f) {
  Loader ld{f};
  const GgufValue* arch = f.find("general.architecture");
  XF_CHECK(arch && arch->type == GgufType::string, ld.where(), ": no general.architecture string");
  XF_CHECK(arch->s == "llama", ld.where(), ": unsupported architecture '", arch->s, "' (xfmr runs 'llama')");
  LlamaConfig c;
  c.dim = f.get_int("llama.embedding_length");
  c.n_layers = f.get_int("llama.block_count");
  c.n_heads = f.get_int("llama.attention.head_count");
  c.n_kv_heads = f.get_int("llama.attention.head_count_kv", c.n_heads);
  c.hidden_dim = f.get_int("llama.feed_forward_length");
  c.seq_len = f.get_int("llama.context_length");
  c.rope_theta = static_cast<float>(f.get_float("llama.rope.freq_base", 10000.0));
  c.norm_eps = static_cast<float>(f.get_float("llama.attention.layer_norm_rms_epsilon", 1e-5));
  c.bos_id = static_cast<int32_t>(f.get_int("tokenizer.ggml.bos_token_id", 1));
  c.eos_id = static_cast<int32_t>(f.get_int("tokenizer.ggml.eos_token_id", 2));
  const GgufTensorInfo& emb = ld.tensor("token_embd.weight");
  XF_CHECK(emb.ne.size() == 2, ld.where(), ": token_embd.weight has ne ", Loader::shape_str(emb.ne),
           ", expected [dim, vocab]");
  c.vocab_size = emb.ne[1];
  validate_llama_config(c, ld.where());
  if (f.find("llama.rope.dimension_count"))
    XF_CHECK(f.get_int("llama.rope.dimension_count") == c.head_size(), ld.where(),
             ": llama.rope.dimension_count ", f.get_int("llama.rope.dimension_count"),
             " differs from the head size ", c.head_size(), " (partial RoPE is not supported)");

  LlamaWeights w;
  w.cfg = c;
  w.source = f.path();
  w.keep.push_back(f.file());
  const int64_t dim = c.dim, kv = c.kv_dim(), hid = c.hidden_dim;
  w.tok_embd = ld.matrix("token_embd.weight", c.vocab_size, dim);
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    LlamaLayer L;
    L.attn_norm = ld.vector(p + "attn_norm.weight", dim);
    L.wq = ld.matrix(p + "attn_q.weight", dim, dim);
    L.wk = ld.matrix(p + "attn_k.weight", kv, dim);
    L.wv = ld.matrix(p + "attn_v.weight", kv, dim);
    L.wo = ld.matrix(p + "attn_output.weight", dim, dim);
    L.ffn_norm = ld.vector(p + "ffn_norm.weight", dim);
    L.w_gate = ld.matrix(p + "ffn_gate.weight", hid, dim);
    L.w_down = ld.matrix(p + "ffn_down.weight", dim, hid);
    L.w_up = ld.matrix(p + "ffn_up.weight", hid, dim);
    w.layers.push_back(L);
  }
  w.output_norm = ld.vector("output_norm.weight", dim);
  w.tied = f.find_tensor("output.weight") == nullptr;
  w.output = w.tied ? w.tok_embd : ld.matrix("output.weight", c.vocab_size, dim);
  return w;
}

GgufMetadata gguf_tokenizer_metadata(const GgufFile& f) {
  GgufMetadata out;
  for (const auto& [k, v] : f.metadata())
    if (k.rfind("tokenizer.", 0) == 0) out.emplace_back(k, v);
  return out;
}

GgufMetadata gguf_tokenizer_metadata(const Llama2cVocab& v, int32_t bos_id, int32_t eos_id) {
  std::vector<GgufValue> tokens, scores, types;
  for (size_t i = 0; i < v.pieces.size(); ++i) {
    const std::string& raw = v.pieces[i];
    const int32_t id = static_cast<int32_t>(i);
    std::string p;
    if (id == bos_id || id == eos_id) {
      // llama2.c's export writes BOS/EOS as "\n<s>\n" / "\n</s>\n"; SentencePiece (and GGUF) name them "<s>".
      const size_t a = raw.find_first_not_of('\n'), b = raw.find_last_not_of('\n');
      p = a == std::string::npos ? raw : raw.substr(a, b - a + 1);
    } else {
      for (char ch : raw) p += ch == ' ' ? std::string("\xE2\x96\x81") : std::string(1, ch);
    }
    const bool byte = raw.size() == 6 && raw.rfind("<0x", 0) == 0 && raw[5] == '>';
    // llama.cpp token types: 1 normal, 2 unknown, 3 control, 6 byte.
    const int32_t type = id == 0 ? 2 : (id == bos_id || id == eos_id) ? 3 : byte ? 6 : 1;
    tokens.push_back(GgufValue::str(p));
    scores.push_back(GgufValue::f32(v.scores[i]));
    types.push_back(GgufValue::i32(type));
  }
  GgufMetadata out;
  out.emplace_back("tokenizer.ggml.model", GgufValue::str("llama"));
  out.emplace_back("tokenizer.ggml.tokens", GgufValue::array(GgufType::string, std::move(tokens)));
  out.emplace_back("tokenizer.ggml.scores", GgufValue::array(GgufType::f32, std::move(scores)));
  out.emplace_back("tokenizer.ggml.token_type", GgufValue::array(GgufType::i32, std::move(types)));
  out.emplace_back("tokenizer.ggml.bos_token_id", GgufValue::u32(static_cast<uint32_t>(bos_id)));
  out.emplace_back("tokenizer.ggml.eos_token_id", GgufValue::u32(static_cast<uint32_t>(eos_id)));
  out.emplace_back("tokenizer.ggml.unknown_token_id", GgufValue::u32(0));
  return out;
}

void write_llama_gguf(const LlamaWeights& src, const std::string& path, QType type, const GgufMetadata& extra,
                      const std::string& name) {
  const LlamaWeights w = requantize_llama_weights(src, type);
  const LlamaConfig& c = w.cfg;
  GgufWriter g;
  g.add("general.architecture", GgufValue::str("llama"));
  if (!name.empty()) g.add("general.name", GgufValue::str(name));
  // general.file_type: llama.cpp's LLAMA_FTYPE numbering (0 all f32, 1 mostly f16, 2 mostly q4_0, 7 mostly
  // q8_0).
  const uint32_t ftype = type == QType::f32 ? 0 : type == QType::f16 ? 1 : type == QType::q4_0 ? 2 : 7;
  g.add("general.file_type", GgufValue::u32(ftype));
  g.add("llama.context_length", GgufValue::u32(static_cast<uint32_t>(c.seq_len)));
  g.add("llama.embedding_length", GgufValue::u32(static_cast<uint32_t>(c.dim)));
  g.add("llama.block_count", GgufValue::u32(static_cast<uint32_t>(c.n_layers)));
  g.add("llama.feed_forward_length", GgufValue::u32(static_cast<uint32_t>(c.hidden_dim)));
  g.add("llama.rope.dimension_count", GgufValue::u32(static_cast<uint32_t>(c.head_size())));
  g.add("llama.attention.head_count", GgufValue::u32(static_cast<uint32_t>(c.n_heads)));
  g.add("llama.attention.head_count_kv", GgufValue::u32(static_cast<uint32_t>(c.n_kv_heads)));
  g.add("llama.attention.layer_norm_rms_epsilon", GgufValue::f32(c.norm_eps));
  g.add("llama.rope.freq_base", GgufValue::f32(c.rope_theta));
  for (const auto& [k, v] : extra) g.add(k, v);
  const auto mat = [&](const std::string& n, const WeightRef& m) {
    g.add_tensor(n, {m.cols, m.rows}, m.type, m.data);
  };
  const auto vec = [&](const std::string& n, const float* p) { g.add_tensor(n, {c.dim}, QType::f32, p); };
  mat("token_embd.weight", w.tok_embd);
  for (size_t l = 0; l < w.layers.size(); ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    const LlamaLayer& L = w.layers[l];
    vec(p + "attn_norm.weight", L.attn_norm);
    mat(p + "attn_q.weight", L.wq);
    mat(p + "attn_k.weight", L.wk);
    mat(p + "attn_v.weight", L.wv);
    mat(p + "attn_output.weight", L.wo);
    vec(p + "ffn_norm.weight", L.ffn_norm);
    mat(p + "ffn_gate.weight", L.w_gate);
    mat(p + "ffn_down.weight", L.w_down);
    mat(p + "ffn_up.weight", L.w_up);
  }
  vec("output_norm.weight", w.output_norm);
  if (!w.tied) mat("output.weight", w.output);
  g.write(path);
}

}  // namespace xfmr::io
