#include "xfmr/io/llama2c.h"

#include <cstring>

#include "xfmr/core/check.h"
#include "xfmr/io/file_util.h"

namespace xfmr::io {

using kernels::QType;

LlamaWeights load_llama2c(const std::string& path) {
  return load_llama2c(MappedFile::open(path));
}

LlamaWeights load_llama2c(std::shared_ptr<const MappedFile> file) {
  const std::string& path = file->path();
  const size_t size = file->size();
  XF_CHECK(size >= 28, "llama2.c checkpoint '", path, "': file is ", size,
           " bytes, shorter than the 28-byte header");
  int32_t h[7];
  std::memcpy(h, file->data(), sizeof h);
  LlamaConfig c;
  c.dim = h[0];
  c.hidden_dim = h[1];
  c.n_layers = h[2];
  c.n_heads = h[3];
  c.n_kv_heads = h[4];
  const bool tied = h[5] > 0;
  c.vocab_size = h[5] == INT32_MIN ? 0 : (h[5] < 0 ? -static_cast<int64_t>(h[5]) : h[5]);
  c.seq_len = h[6];
  validate_llama_config(c, "llama2.c checkpoint '" + path + "' header");

  const int64_t dim = c.dim, kv = c.kv_dim(), hid = c.hidden_dim, L = c.n_layers, V = c.vocab_size;
  const int64_t floats = V * dim + L * dim + L * dim * dim + 2 * L * kv * dim + L * dim * dim + L * dim +
                         3 * L * hid * dim + dim + c.seq_len * c.head_size() + (tied ? 0 : V * dim);
  const int64_t expected = 28 + 4 * floats;
  XF_CHECK(static_cast<int64_t>(size) == expected, "llama2.c checkpoint '", path, "': file is ", size,
           " bytes but its header (dim ", dim, ", hidden_dim ", hid, ", n_layers ", L, ", n_heads ",
           c.n_heads, ", n_kv_heads ", c.n_kv_heads, ", vocab_size ", h[5], ", seq_len ", c.seq_len,
           ") implies ", expected,
           size < static_cast<size_t>(expected) ? " (truncated)" : " (trailing bytes)");

  LlamaWeights w;
  w.cfg = c;
  w.tied = tied;
  w.source = path;
  w.keep.push_back(file);
  // Every array starts at 28 + 4k, so the f32 pointers are 4-byte aligned (mmap returns page-aligned memory).
  const float* p = reinterpret_cast<const float*>(file->data() + 28);
  const auto take = [&p](int64_t n) {
    const float* q = p;
    p += n;
    return q;
  };
  const auto mat = [](const float* base, int64_t rows, int64_t cols) {
    return WeightRef{QType::f32, reinterpret_cast<const uint8_t*>(base), rows, cols};
  };
  w.tok_embd = mat(take(V * dim), V, dim);
  w.layers.resize(static_cast<size_t>(L));
  const float* rms_att = take(L * dim);
  const float* wq = take(L * dim * dim);
  const float* wk = take(L * kv * dim);
  const float* wv = take(L * kv * dim);
  const float* wo = take(L * dim * dim);
  const float* rms_ffn = take(L * dim);
  const float* w1 = take(L * hid * dim);
  const float* w2 = take(L * dim * hid);
  const float* w3 = take(L * hid * dim);
  for (int64_t l = 0; l < L; ++l) {
    LlamaLayer& y = w.layers[static_cast<size_t>(l)];
    y.attn_norm = rms_att + l * dim;
    y.wq = mat(wq + l * dim * dim, dim, dim);
    y.wk = mat(wk + l * kv * dim, kv, dim);
    y.wv = mat(wv + l * kv * dim, kv, dim);
    y.wo = mat(wo + l * dim * dim, dim, dim);
    y.ffn_norm = rms_ffn + l * dim;
    y.w_gate = mat(w1 + l * hid * dim, hid, dim);
    y.w_down = mat(w2 + l * dim * hid, dim, hid);
    y.w_up = mat(w3 + l * hid * dim, hid, dim);
  }
  w.output_norm = take(dim);
  take(c.seq_len * c.head_size());  // freq_cis_real and freq_cis_imag, [seq_len, head/2] each
  w.output = tied ? w.tok_embd : mat(take(V * dim), V, dim);
  return w;
}

Llama2cVocab read_llama2c_vocab(const std::string& path, int64_t vocab_size) {
  const std::string bytes = read_file(path);
  size_t pos = 0;
  const auto need = [&](size_t n, const char* what) {
    XF_CHECK(bytes.size() - pos >= n, "llama2.c tokenizer '", path, "': truncated at byte ", pos, " reading ",
             what);
  };
  need(4, "max_token_length");
  pos += 4;
  Llama2cVocab v;
  for (int64_t i = 0; i < vocab_size; ++i) {
    float score;
    int32_t len;
    need(8, "a token's score and length");
    std::memcpy(&score, bytes.data() + pos, 4);
    std::memcpy(&len, bytes.data() + pos + 4, 4);
    pos += 8;
    XF_CHECK(len >= 0, "llama2.c tokenizer '", path, "': token ", i, " has negative length ", len);
    need(static_cast<size_t>(len), "a token's bytes");
    v.pieces.emplace_back(bytes.data() + pos, static_cast<size_t>(len));
    v.scores.push_back(score);
    pos += static_cast<size_t>(len);
  }
  return v;
}

}  // namespace xfmr::io
