// Batched prefill and the one-team-per-token threading of infer::LlamaModel:
//  - decoding gives bit-identical logits for 1, 2 and 3 threads (rows split in fixed ranges, each row computed
//    by the same operations), and prefill agrees across thread counts to f32 rounding;
//  - prefill (blocks of 64 tokens through matrix products, causal attention inside the block) gives the
//    logits of the float64 no-cache reference, for f32 / f16 / q8_0 / q4_0 weights, over several blocks and
//    after a cache already holding positions; and the token-at-a-time path's where both use f32 activations;
//  - decoding after a prefill continues the same sequence (greedy ids as with forward() alone), and on
//    stories260K the prefilled logits match llama2.c's golden float64 logits.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <tuple>

#include "infer/stories_data.h"
#include "support/generic_isa.h"
#include "support/random_tokens.h"
#include "xfmr/core/parallel.h"
#include "xfmr/infer/llama.h"
#include "xfmr/infer/load_model.h"
#include "xfmr/infer/sampler.h"
#include "xfmr/io/llama_weights.h"
#include "xfmr/kernels/cpu/quant.h"

namespace xfmr::infer {
namespace {

using kernels::QType;

// Large enough (about 2.5M multiply-adds a token) that the model uses a team of 3 threads; kv heads < heads.
io::LlamaConfig shape() {
  io::LlamaConfig c;
  c.dim = 256, c.hidden_dim = 512, c.n_layers = 3, c.n_heads = 8, c.n_kv_heads = 4, c.vocab_size = 2048;
  c.seq_len = 200;
  return c;
}

struct ThreadsGuard {
  int saved = num_threads();
  ~ThreadsGuard() { set_num_threads(saved); }
};

double max_abs(const float* a, int64_t n) {
  double m = 0;
  for (int64_t i = 0; i < n; ++i) m = std::max(m, std::fabs(double(a[i])));
  return m;
}

double max_diff(const float* a, const float* b, int64_t n) {
  double m = 0;
  for (int64_t i = 0; i < n; ++i) m = std::max(m, std::fabs(double(a[i]) - double(b[i])));
  return m;
}

// Each test runs with the CPU's own kernels (AVX-512 where it has them) and with the plain-loop fallbacks an
// AVX2-only machine runs (kernels/cpu/cpu_features.h; the weights are then kept row-major, not packed).
class PerType : public ::testing::TestWithParam<std::tuple<QType, bool>> {
 protected:
  test::GenericIsaScope isa_{std::get<1>(GetParam())};
  QType type() const { return std::get<0>(GetParam()); }
};

TEST_P(PerType, DecodeLogitsAreIdenticalForEveryThreadCount) {
  ThreadsGuard guard;
  const io::LlamaWeights w = io::random_llama_weights(shape(), type(), 7);
  const auto ids = test::random_tokens(40, 1, shape().vocab_size);
  std::vector<std::vector<float>> runs;
  for (int nt : {1, 2, 3}) {
    set_num_threads(nt);
    LlamaModel m(w);
    std::vector<float> all;
    for (int64_t p = 0; p < 40; ++p) {
      const float* lg = m.forward(ids[static_cast<size_t>(p)], p);
      all.insert(all.end(), lg, lg + shape().vocab_size);
    }
    runs.push_back(all);
  }
  EXPECT_EQ(runs[0], runs[1]);
  EXPECT_EQ(runs[0], runs[2]);
}

// serve's slots are decoders of one LoadedModel: they share one packed copy of the weights (one arena, not one
// per slot), and each decodes exactly as a model with its own copy.
TEST_P(PerType, DecodersOfOneLoadedModelShareThePackedWeights) {
  LoadedModel loaded;
  loaded.kind = "llama";
  loaded.llama = io::random_llama_weights(shape(), type(), 17);
  const auto a = loaded.decoder(64), b = loaded.decoder(64);
  const auto& la = dynamic_cast<const LlamaModel&>(*a);
  const auto& lb = dynamic_cast<const LlamaModel&>(*b);
  ASSERT_NE(la.packed(), nullptr);
  EXPECT_EQ(la.packed().get(), lb.packed().get());
  LlamaModel own(loaded.llama, 64);
  EXPECT_NE(own.packed().get(), la.packed().get());
  const auto ids = test::random_tokens(20, 3, shape().vocab_size);
  const float* lo = own.prefill(ids.data(), 20, 0);
  const std::vector<float> want(lo, lo + shape().vocab_size);
  const float* l2 = b->prefill(ids.data(), 20, 0);
  EXPECT_EQ(std::vector<float>(l2, l2 + shape().vocab_size), want);
}

TEST_P(PerType, PrefillMatchesReferenceAcrossBlocksAndThreads) {
  ThreadsGuard guard;
  const io::LlamaConfig c = shape();
  const io::LlamaWeights w = io::random_llama_weights(c, type(), 11);
  const auto ids = test::random_tokens(170, 2, c.vocab_size);  // 150 = blocks of 64 + 64 + 22, then 20 more at pos 150
  LlamaReference ref(w);
  const std::vector<float> want150 = ref.logits(std::vector<int32_t>(ids.begin(), ids.begin() + 150));
  const std::vector<float> want170 = ref.logits(ids);
  const float* w150 = want150.data() + 149 * c.vocab_size;
  const float* w170 = want170.data() + 169 * c.vocab_size;
  const double scale = max_abs(w170, c.vocab_size);
  // The final logits come from the decode matvec, which for block weights quantizes its input to q8_0
  // (matvec_quantizes_activations): that one rounding (~0.3% of a logit) then bounds the agreement.
  const double tol = (kern::matvec_quantizes_activations(type()) ? 1e-2 : 1e-4) * scale;
  std::vector<float> first;
  for (int nt : {1, 2, 3}) {
    set_num_threads(nt);
    LlamaModel m(w);
    const float* lg = m.prefill(ids.data(), 150, 0);
    // f32 products of a few hundred terms in a different order than the float64 reference: 1e-4 relative to
    // the largest logit is ~100x the rounding, yet far below any real error (a wrong mask or RoPE position
    // moves logits by tens of percent).
    EXPECT_LT(max_diff(lg, w150, c.vocab_size), tol) << nt << " threads";
    if (first.empty()) first.assign(lg, lg + c.vocab_size);
    EXPECT_LT(max_diff(lg, first.data(), c.vocab_size), 1e-5 * scale) << nt << " threads vs 1";
    lg = m.prefill(ids.data() + 150, 20, 150);  // a block after cached positions
    EXPECT_LT(max_diff(lg, w170, c.vocab_size), tol) << nt << " threads";
  }
}

TEST_P(PerType, PrefillMatchesTokenAtATimeAndDecodingContinues) {
  const io::LlamaConfig c = shape();
  const io::LlamaWeights w = io::random_llama_weights(c, type(), 13);
  const auto ids = test::random_tokens(100, 3, c.vocab_size);
  LlamaModel a(w), b(w);
  const float* la = a.prefill(ids.data(), 100, 0);
  const std::vector<float> pre(la, la + c.vocab_size);
  const float* lb = nullptr;
  for (int64_t p = 0; p < 100; ++p) lb = b.forward(ids[static_cast<size_t>(p)], p);
  const double scale = max_abs(lb, c.vocab_size);
  // The token path quantizes activations to q8_0 for block weights (matvec_quantizes_activations), prefill
  // does not: then the two differ by that rounding (~1% of a logit), else only by f32 summation order.
  const bool q8x = kern::matvec_quantizes_activations(type());
  EXPECT_LT(max_diff(pre.data(), lb, c.vocab_size), (q8x ? 5e-2 : 1e-4) * scale);
  if (q8x) return;  // greedy ids may then differ legitimately
  // Greedy continuation from the two caches: the same ids.
  int32_t ta = Sampler::argmax(pre.data(), c.vocab_size), tb = Sampler::argmax(lb, c.vocab_size);
  for (int64_t p = 100; p < 140; ++p) {
    ASSERT_EQ(ta, tb) << "position " << p;
    ta = Sampler::argmax(a.forward(ta, p), c.vocab_size);
    tb = Sampler::argmax(b.forward(tb, p), c.vocab_size);
  }
}

INSTANTIATE_TEST_SUITE_P(Types, PerType,
                         ::testing::Combine(::testing::Values(QType::f32, QType::f16, QType::q8_0, QType::q4_0),
                                            ::testing::Bool()),
                         [](const auto& i) {
                           return std::string(kernels::qtype_name(std::get<0>(i.param))) +
                                  (std::get<1>(i.param) ? "_generic" : "_native");
                         });

TEST(StoriesPrefill, LogitsMatchGoldenAtEveryBlockEnd) {
  LlamaModel m(io::load_llama_weights(test::stories_bin()));
  const auto ids = test::stories_golden()["greedy_from_bos_200"]["token_ids"].get<std::vector<int32_t>>();
  const auto want = test::stories_logits();
  // Prefill 1..200 tokens in pieces of varied length (each a fresh sequence from position 0 or a
  // continuation): the logits after each piece equal the golden float64 logits at its last position.
  int64_t pos = 0;
  for (int64_t len : {1, 7, 64, 65, 3, 60}) {
    const float* lg = m.prefill(ids.data() + pos, len, pos);
    pos += len;
    EXPECT_LT(max_diff(lg, want.data() + (pos - 1) * 512, 512), 1e-4) << "after " << pos << " tokens";
  }
  EXPECT_EQ(pos, 200);
}

TEST(StoriesPrefill, BadInputIsAnError) {
  LlamaModel m(io::load_llama_weights(test::stories_bin()), 16);
  const std::vector<int32_t> ok(20, 5), bad = {5, 512};
  EXPECT_THROW(m.prefill(ok.data(), 0, 0), Error);
  EXPECT_THROW(m.prefill(ok.data(), 17, 0), Error);  // past the context
  EXPECT_THROW(m.prefill(ok.data(), 2, 15), Error);
  try {
    m.prefill(bad.data(), 2, 0);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("prefill"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace xfmr::infer
