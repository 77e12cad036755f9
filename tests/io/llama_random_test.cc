// io::random_llama_weights / requantize_llama_weights build each matrix a few rows at a time (a small f32
// staging buffer instead of the whole matrix): the values must be those of one pass over the whole matrix.
//  - f32 weights equal the generator's stream drawn over each whole matrix in order (4 values a Philox block);
//  - quantized weights equal those f32 values quantized at once (kern::quantize_rows), byte for byte, and
//    requantizing the f32 weights gives the same bytes;
//  - each matrix's buffer is owned by one keep entry aliasing its data (what infer::LlamaModel frees).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "xfmr/core/rng.h"
#include "xfmr/io/llama_weights.h"
#include "xfmr/kernels/cpu/quant.h"

namespace xfmr::io {
namespace {

using kernels::QType;

// Wider than one staging chunk (64K values) so a matrix takes several; hidden 96 is no multiple of 32
// (w_down rows are 96 long: stored as f16 for the block types).
LlamaConfig shape() {
  LlamaConfig c;
  c.dim = 64, c.hidden_dim = 96, c.n_layers = 2, c.n_heads = 4, c.n_kv_heads = 2, c.vocab_size = 3000;
  c.seq_len = 32;
  return c;
}

std::vector<const WeightRef*> in_order(const LlamaWeights& w) {  // the order random_llama_weights draws them
  std::vector<const WeightRef*> out{&w.tok_embd};
  for (const auto& L : w.layers)
    for (const auto* m : {&L.wq, &L.wk, &L.wv, &L.wo, &L.w_gate, &L.w_down, &L.w_up}) out.push_back(m);
  if (!w.tied) out.push_back(&w.output);
  return out;
}

// The reference: each whole matrix drawn in one loop from the seed's stream.
std::vector<std::vector<float>> whole_matrices(const LlamaWeights& w, uint64_t seed) {
  Generator g(seed);
  const float a = 0.02f * std::sqrt(3.0f);
  std::vector<std::vector<float>> out;
  for (const WeightRef* m : in_order(w)) {
    std::vector<float> x(static_cast<size_t>(m->rows * m->cols));
    for (size_t i = 0; i < x.size(); i += 4) {
      const auto b = g.block(g.advance(1));
      for (size_t j = 0; j < 4 && i + j < x.size(); ++j)
        x[i + j] = a * (2.0f * static_cast<float>(b[j] >> 8) * (1.0f / 16777216.0f) - 1.0f);
    }
    out.push_back(std::move(x));
  }
  return out;
}

TEST(RandomLlamaWeights, ChunkedDrawEqualsWholeMatrixDraw) {
  for (bool tied : {true, false}) {
    const LlamaWeights f = random_llama_weights(shape(), QType::f32, 42, tied);
    const auto want = whole_matrices(f, 42);
    const auto ms = in_order(f);
    for (size_t i = 0; i < ms.size(); ++i)
      EXPECT_EQ(std::memcmp(ms[i]->data, want[i].data(), want[i].size() * 4), 0) << "matrix " << i;
    for (QType t : {QType::f16, QType::q8_0, QType::q4_0}) {
      const LlamaWeights q = random_llama_weights(shape(), t, 42, tied);
      const LlamaWeights r = requantize_llama_weights(f, t);
      const auto qs = in_order(q), rs = in_order(r);
      for (size_t i = 0; i < qs.size(); ++i) {
        const WeightRef& m = *qs[i];
        EXPECT_EQ(m.type, m.cols % 32 == 0 ? t : QType::f16);
        std::vector<uint8_t> expect(static_cast<size_t>(m.bytes()));
        kern::quantize_rows(m.type, want[i].data(), expect.data(), m.rows, m.cols);
        EXPECT_EQ(std::memcmp(m.data, expect.data(), expect.size()), 0) << kernels::qtype_name(t) << " " << i;
        EXPECT_EQ(std::memcmp(rs[i]->data, expect.data(), expect.size()), 0) << kernels::qtype_name(t) << " " << i;
      }
    }
  }
}

TEST(RandomLlamaWeights, EachMatrixHasOneAliasingOwner) {
  const LlamaWeights w = random_llama_weights(shape(), QType::q4_0, 1, false);
  for (const WeightRef* m : in_order(w)) {
    int owners = 0;
    for (const auto& k : w.keep) owners += k.get() == m->data;
    EXPECT_EQ(owners, 1);
  }
}

}  // namespace
}  // namespace xfmr::io
