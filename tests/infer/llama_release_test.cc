// infer::LlamaModel frees the original of every matrix it copies (repacks) when it alone owns it, so decoding
// in-memory weights (bench decode's random presets) holds them once:
//  - a model given the only reference to its weights frees exactly the matrices it copied (their buffers
//    destroyed, data == nullptr in weights()), and its logits (decoding, prefill) equal those of a model
//    over the same values whose originals stay alive, for f32 / f16 / q8_0 / q4_0, tied and untied;
//  - weights another owner shares (the caller's copy, a LoadedModel's decoders) are never freed.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "support/generic_isa.h"
#include "support/random_tokens.h"
#include "xfmr/infer/llama.h"
#include "xfmr/infer/load_model.h"
#include "xfmr/io/llama_weights.h"
#include "xfmr/kernels/cpu/quant_packed.h"

namespace xfmr::infer {
namespace {

using kernels::QType;

io::LlamaConfig shape() {
  io::LlamaConfig c;
  c.dim = 128, c.hidden_dim = 256, c.n_layers = 2, c.n_heads = 4, c.n_kv_heads = 2, c.vocab_size = 512;
  c.seq_len = 96;
  return c;
}

// Logits of a 70-token prefill (two blocks) and then 10 decoded tokens, all concatenated.
std::vector<float> run(LlamaModel& m) {
  const int64_t V = m.vocab_size();
  const auto ids = test::random_tokens(80, 5, V);
  std::vector<float> out;
  const float* lg = m.prefill(ids.data(), 70, 0);
  out.insert(out.end(), lg, lg + V);
  for (int64_t p = 70; p < 80; ++p) {
    lg = m.forward(ids[static_cast<size_t>(p)], p);
    out.insert(out.end(), lg, lg + V);
  }
  return out;
}

std::vector<const io::WeightRef*> matrices(const io::LlamaWeights& w) {
  std::vector<const io::WeightRef*> out;
  for (const auto& L : w.layers)
    for (const auto* m : {&L.wq, &L.wk, &L.wv, &L.wo, &L.w_gate, &L.w_down, &L.w_up}) out.push_back(m);
  out.push_back(&w.output);
  return out;
}

// Parameters: weight type, tied embedding, generic (non-VNNI) kernels (nothing is packed then).
class Release : public ::testing::TestWithParam<std::tuple<QType, bool, bool>> {
 protected:
  test::GenericIsaScope isa_{std::get<2>(GetParam())};
  QType type() const { return std::get<0>(GetParam()); }
  bool tied() const { return std::get<1>(GetParam()); }
};

TEST_P(Release, SoleOwnerFreesTheCopiedOriginalsAndDecodesTheSame) {
  const io::LlamaWeights kept = io::random_llama_weights(shape(), type(), 3, tied());
  LlamaModel shared(kept);  // `kept` still holds every buffer: nothing may be freed
  for (const auto* m : matrices(shared.weights())) EXPECT_NE(m->data, nullptr);
  EXPECT_NE(shared.weights().tok_embd.data, nullptr);
  const std::vector<float> want = run(shared);

  io::LlamaWeights w = io::random_llama_weights(shape(), type(), 3, tied());  // the same values
  std::vector<std::weak_ptr<const void>> owners(w.keep.begin(), w.keep.end());
  std::vector<bool> copied;  // per matrix of matrices(): the model copies it (in-memory: the packed kernels)
  for (const auto* m : matrices(w))
    copied.push_back(kern::packed_x8_available(m->type) && m->rows % kern::kPackRows == 0);
  LlamaModel own(std::move(w));
  int64_t expected_freed = 0;
  const auto ms = matrices(own.weights());
  for (size_t i = 0; i < ms.size(); ++i) {
    EXPECT_EQ(ms[i]->data == nullptr, copied[i]) << "matrix " << i;
    expected_freed += copied[i];
  }
  // The embedding: freed with a tied output's copy (read from it), kept when untied (never copied).
  EXPECT_EQ(own.weights().tok_embd.data == nullptr, tied() && copied.back());
  int64_t freed = 0;
  for (const auto& o : owners) freed += o.expired();
  EXPECT_EQ(freed, expected_freed);
  if (type() == QType::q8_0 || type() == QType::q4_0) {
    EXPECT_EQ(freed > 0, kern::packed_x8_available(type()));  // the case bench decode's presets hit
  }
  EXPECT_EQ(run(own), want);
}

INSTANTIATE_TEST_SUITE_P(Types, Release,
                         ::testing::Combine(::testing::Values(QType::f32, QType::f16, QType::q8_0, QType::q4_0),
                                            ::testing::Bool(), ::testing::Bool()),
                         [](const auto& i) {
                           return std::string(kernels::qtype_name(std::get<0>(i.param))) +
                                  (std::get<1>(i.param) ? "_tied" : "_untied") +
                                  (std::get<2>(i.param) ? "_generic" : "_native");
                         });

// serve's slots: decoders of a LoadedModel copy its weights (shared buffers), so the originals survive every
// decoder and later decoders (sharing the packed copy) still decode.
TEST(ReleaseShared, LoadedModelKeepsItsWeights) {
  LoadedModel loaded;
  loaded.kind = "llama";
  loaded.llama = io::random_llama_weights(shape(), QType::q4_0, 9);
  std::vector<float> first;
  {
    const auto a = loaded.decoder(96);
    const auto& la = dynamic_cast<const LlamaModel&>(*a);
    for (const auto* m : matrices(la.weights())) EXPECT_NE(m->data, nullptr);
    first = run(dynamic_cast<LlamaModel&>(*a));
  }
  for (const auto* m : matrices(loaded.llama)) EXPECT_NE(m->data, nullptr);
  const auto b = loaded.decoder(96);
  EXPECT_EQ(run(dynamic_cast<LlamaModel&>(*b)), first);
  LlamaModel fresh(loaded.llama);  // its own packed copy, from the surviving originals
  EXPECT_EQ(run(fresh), first);
}

}  // namespace
}  // namespace xfmr::infer
