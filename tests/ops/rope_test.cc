#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "support/gradcheck.h"
#include "support/strided_inputs.h"
#include "support/torch_parity.h"
#include "xfmr/ops/rope.h"

using namespace xfmr;
using test::expect_gradcheck;

TEST(RopeGrad, BothStyles) {
  for (RopeStyle st : {RopeStyle::half, RopeStyle::interleaved}) {
    SCOPED_TRACE(st == RopeStyle::half ? "half" : "interleaved");
    expect_gradcheck([&](auto& in) { return rope(in[0], 0, 10000.0, st); }, {test::random_input({2, 3, 5, 8})});
    expect_gradcheck([&](auto& in) { return rope(in[0], 7, 500000.0, st); }, {test::random_input({1, 2, 4, 6}, 2)});
    expect_gradcheck([&](auto& in) { return rope(in[0], 3, 10000.0, st); },
                     {test::random_transposed_input({2, 2, 5, 4}, 3)});  // non-contiguous
    expect_gradcheck([&](auto& in) { return rope(in[0], 0, 100.0, st); }, {test::random_input({5, 4}, 4)});  // [T, D]
  }
}

// The defining property (RoFormer §3.4.2): <rope(q)_m, rope(k)_n> depends on positions only through m - n.
TEST(Rope, DotProductDependsOnRelativePosition) {
  for (RopeStyle st : {RopeStyle::half, RopeStyle::interleaved}) {
    Tensor q = test::random_input({1, 1, 1, 16}, 1).detach(), k = test::random_input({1, 1, 1, 16}, 2).detach();
    auto dot = [&](int64_t m, int64_t n) {
      const auto a = rope(q, m, 10000.0, st).to_vector(), b = rope(k, n, 10000.0, st).to_vector();
      double s = 0;
      for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
      return s;
    };
    EXPECT_NEAR(dot(5, 2), dot(105, 102), 1e-10);
    EXPECT_NEAR(dot(0, 9), dot(40, 49), 1e-10);
    EXPECT_GT(std::fabs(dot(5, 2) - dot(5, 3)), 1e-6);  // and it does depend on m - n
  }
}

// The styles are the same rotation on permuted features: interleaved(x) = P^-1 half(P x), where P moves the
// pair (2i, 2i+1) to (i, i + D/2).
TEST(Rope, StylesAgreeUpToFeaturePermutation) {
  const int64_t T = 6, D = 10;
  Tensor x = test::random_input({1, T, D}, 5).detach();
  const auto xv = x.to_vector();
  std::vector<double> px(xv.size());
  for (int64_t t = 0; t < T; ++t)
    for (int64_t i = 0; i < D / 2; ++i) {
      px[t * D + i] = xv[t * D + 2 * i];
      px[t * D + i + D / 2] = xv[t * D + 2 * i + 1];
    }
  const auto inter = rope(x, 4, 10000.0, RopeStyle::interleaved).to_vector();
  const auto half = rope(Tensor::from_vector(std::span<const double>(px), {1, T, D}, DType::f64), 4, 10000.0,
                         RopeStyle::half).to_vector();
  for (int64_t t = 0; t < T; ++t)
    for (int64_t i = 0; i < D / 2; ++i) {
      EXPECT_NEAR(inter[t * D + 2 * i], half[t * D + i], 1e-14);
      EXPECT_NEAR(inter[t * D + 2 * i + 1], half[t * D + i + D / 2], 1e-14);
    }
}

TEST(Rope, OffsetMatchesSliceOfLongerSequence) {
  // Decoding row by row with pos_offset reproduces the full-sequence embedding.
  Tensor x = test::random_input({1, 2, 9, 8}, 6).detach();
  const Tensor full = rope(x, 0);
  const Tensor tail = rope(slice(x, 2, 6, 9), 6);
  EXPECT_LT(test::rel_error(slice(full, 2, 6, 9).to_vector(), tail.to_vector()), 1e-15);
}

TEST(RopeParity, Torch) {
  test::ParityBatch b;
  for (auto [name, st] : {std::pair<const char*, RopeStyle>{"half", RopeStyle::half}, {"interleaved", RopeStyle::interleaved}}) {
    const std::string s = name;
    b.add("rope_" + s, "rope_ref", {{"pos_offset", 0}, {"theta", 10000.0}, {"style", s}}, {b.randn({2, 3, 17, 8})},
          [st](auto& in) { return rope(in[0], 0, 10000.0, st); });
    b.add("rope_offset_" + s, "rope_ref", {{"pos_offset", 37}, {"theta", 500000.0}, {"style", s}},
          {b.randn({1, 2, 5, 64})}, [st](auto& in) { return rope(in[0], 37, 500000.0, st); });
  }
  b.run();
}

TEST(Rope, BadInput) {
  auto expect_error = [](auto f, const char* needle) { test::expect_error(f, {"rope", needle}); };
  expect_error([] { rope(Tensor::zeros({1, 2, 3, 5})); }, "[1, 2, 3, 5]");  // odd D
  expect_error([] { rope(Tensor::zeros({8})); }, "[8]");                    // rank 1
  expect_error([] { rope(Tensor::zeros({2, 4}, DType::i64)); }, "i64");
  expect_error([] { rope(Tensor::zeros({2, 4}), -1); }, "pos_offset");
  expect_error([] { rope(Tensor::zeros({2, 4}), 0, 0.0); }, "theta");
}
