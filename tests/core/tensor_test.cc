#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "xfmr/core/autograd.h"
#include "xfmr/core/parallel.h"
#include "xfmr/core/rng.h"
#include "xfmr/core/tensor.h"
#include "xfmr/ops/view.h"

using namespace xfmr;

TEST(Tensor, FactoriesAndMetadata) {
  Tensor t = Tensor::full({2, 3}, 1.5);
  EXPECT_EQ(t.numel(), 6);
  EXPECT_EQ(t.dim(), 2);
  EXPECT_EQ(t.size(-1), 3);
  EXPECT_TRUE(t.is_contiguous());
  EXPECT_EQ(t.strides(), (Strides{3, 1}));
  for (double v : t.to_vector()) EXPECT_EQ(v, 1.5);
  EXPECT_EQ(Tensor::scalar(4.0).item(), 4.0);
  EXPECT_THROW(Tensor::ones({2, 2}).item(), Error);
}

TEST(Tensor, ViewsShareStorage) {
  std::vector<double> v = {0, 1, 2, 3, 4, 5};
  Tensor t = Tensor::from_vector(v, {2, 3}, DType::f64);
  Tensor tt = transpose(t, 0, 1);
  EXPECT_EQ(tt.shape(), (Shape{3, 2}));
  EXPECT_FALSE(tt.is_contiguous());
  EXPECT_TRUE(tt.shares_storage(t));
  EXPECT_EQ(tt.at({2, 1}), 5.0);
  Tensor c = contiguous(tt);
  EXPECT_TRUE(c.is_contiguous());
  EXPECT_EQ(c.to_vector(), (std::vector<double>{0, 3, 1, 4, 2, 5}));
  Tensor s = slice(t, 1, 1, 3);
  EXPECT_EQ(s.to_vector(), (std::vector<double>{1, 2, 4, 5}));
  Tensor e = expand(unsqueeze(Tensor::from_vector(std::vector<double>{1, 2}, {2}, DType::f64), 0), {3, 2});
  EXPECT_EQ(e.to_vector(), (std::vector<double>{1, 2, 1, 2, 1, 2}));
  EXPECT_EQ(e.stride(0), 0);
  Tensor r = reshape(t, {3, -1});
  EXPECT_EQ(r.shape(), (Shape{3, 2}));
  EXPECT_TRUE(r.shares_storage(t));
  EXPECT_THROW(view(tt, {6}), Error);  // needs a copy
  EXPECT_FALSE(reshape(tt, {6}).shares_storage(t));
  EXPECT_EQ(select(t, 0, -1).to_vector(), (std::vector<double>{3, 4, 5}));
}

TEST(Tensor, ReducedPrecisionRoundTrip) {
  std::vector<float> v = {0.0f, 1.0f, -2.5f, 3.14159f, 65504.0f, 1e-7f, -1e30f};
  Tensor t = Tensor::from_vector(v, {7});
  Tensor b = t.converted(DType::bf16).converted(DType::f32);
  Tensor h = t.converted(DType::f16).converted(DType::f32);
  for (size_t i = 0; i < v.size(); ++i) EXPECT_NEAR(b.at({int64_t(i)}), v[i], std::fabs(v[i]) * 4e-3 + 1e-38);
  EXPECT_EQ(h.at({4}), 65504.0);
  EXPECT_NEAR(h.at({3}), 3.14159, 2e-3);
  EXPECT_TRUE(std::isinf(h.at({6})));
  EXPECT_NEAR(h.at({5}), 1.19209e-07, 1e-9);  // f16 subnormal
  EXPECT_EQ(f16_to_f32(f32_to_f16(1.0f + 1.0f / 2048)), 1.0f);  // tie rounds to even
  EXPECT_EQ(bf16_to_f32(f32_to_bf16(1.0f)), 1.0f);
}

TEST(Tensor, BadInput) {
  EXPECT_THROW(Tensor::empty({-1, 2}), Error);
  EXPECT_THROW(reshape(Tensor::ones({2, 3}), {4, 2}), Error);
  EXPECT_THROW(transpose(Tensor::ones({2, 3}), 0, 2), Error);
  EXPECT_THROW(expand(Tensor::ones({2, 3}), {4, 3}), Error);
  EXPECT_THROW(Tensor::ones({2}).data<double>(), Error);
  try {
    reshape(Tensor::ones({2, 3}), {4, 2});
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("[2, 3]"), std::string::npos) << e.what();
  }
}

TEST(Autograd, AccumulatesAndFreesGraph) {
  Tensor x = Tensor::ones({2, 3}, DType::f64).set_requires_grad();
  Tensor y = sum_to(expand(x, {4, 2, 3}), {1, 3});  // each element of x used 4*2/2... summed
  y.backward(Tensor::ones({1, 3}, DType::f64));
  for (double v : x.grad().to_vector()) EXPECT_EQ(v, 4.0);
  EXPECT_THROW(y.backward(Tensor::ones({1, 3}, DType::f64)), Error);  // graph freed
  Tensor y2 = sum_to(expand(x, {4, 2, 3}), {1, 3});
  y2.backward(Tensor::ones({1, 3}, DType::f64));
  for (double v : x.grad().to_vector()) EXPECT_EQ(v, 8.0);  // accumulated
  x.zero_grad();
  for (double v : x.grad().to_vector()) EXPECT_EQ(v, 0.0);
}

TEST(Autograd, NoGradAndDetach) {
  Tensor x = Tensor::ones({3}, DType::f64).set_requires_grad();
  {
    NoGradGuard ng;
    Tensor y = expand(x, {2, 3});
    EXPECT_FALSE(y.requires_grad());
    EXPECT_THROW(y.backward(Tensor::ones({2, 3}, DType::f64)), Error);
  }
  EXPECT_FALSE(x.detach().requires_grad());
  EXPECT_TRUE(x.detach().shares_storage(x));
  EXPECT_THROW(expand(x, {2, 3}).backward(), Error);  // implicit grad needs one element
  Tensor plain = Tensor::ones({1});
  EXPECT_THROW(plain.backward(), Error);  // no graph
}

TEST(Rng, DeterministicAndThreadIndependent) {
  Generator a(42), b(42);
  Tensor x = randn({1000}, DType::f32, a);
  Tensor y = randn({1000}, DType::f32, b);
  EXPECT_EQ(x.to_vector(), y.to_vector());
  Tensor z = randn({1000}, DType::f32, a);  // the stream advanced
  EXPECT_NE(x.to_vector(), z.to_vector());
  // Moments of a large draw.
  Tensor big = randn({200000}, DType::f64, a);
  double m = 0, v = 0;
  for (double e : big.to_vector()) m += e;
  m /= big.numel();
  for (double e : big.to_vector()) v += (e - m) * (e - m);
  v /= big.numel();
  EXPECT_NEAR(m, 0.0, 0.01);
  EXPECT_NEAR(v, 1.0, 0.01);
  Tensor u = rand({100000}, DType::f32, a);
  for (double e : u.to_vector()) ASSERT_TRUE(e >= 0.0 && e < 1.0);
  Tensor p = randperm(50, a);
  std::vector<int64_t> pv = p.to_int_vector();
  std::sort(pv.begin(), pv.end());
  for (int64_t i = 0; i < 50; ++i) EXPECT_EQ(pv[i], i);
  Tensor ri = randint(3, 7, {1000}, DType::i64, a);
  for (int64_t e : ri.to_int_vector()) ASSERT_TRUE(e >= 3 && e < 7);
}

// Draws that take several elements from one Philox block (f32 normal and f64 uniform: 2, f32 uniform and
// bernoulli: 4) are the same for any thread count and any split of the work (odd lengths past the parallel
// grain, so chunk boundaries fall inside a block), and f32 uniform / bernoulli are exactly their definition:
// element i takes word i % 4 of block offset + i / 4.
TEST(Rng, BlockSharedDrawsMatchDefinitionAtAnyThreadCount) {
  const int64_t n = 300001;
  const int saved = num_threads();
  std::vector<std::vector<double>> runs;
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    Generator g(9);
    std::vector<double> all;
    for (const Tensor& t : {randn({n}, DType::f32, g), rand({n}, DType::f32, g), rand({n}, DType::f64, g)})
      for (double v : t.to_vector()) all.push_back(v);
    Tensor bern = Tensor::empty({n}, DType::f32);
    bernoulli_(bern, 0.3, g);
    for (double v : bern.to_vector()) all.push_back(v);
    runs.push_back(all);
  }
  set_num_threads(saved);
  EXPECT_EQ(runs[0], runs[1]);
  Generator g(9), h(9);
  const Tensor u = rand({n}, DType::f32, g);
  Tensor b = Tensor::empty({n}, DType::f32);
  bernoulli_(b, 0.3, g);
  const uint64_t ub = h.advance((n + 3) / 4), bb = h.advance((n + 3) / 4);
  for (int64_t i = 0; i < n; i += 997) {
    const uint32_t wu = h.block(ub + static_cast<uint64_t>(i / 4))[static_cast<size_t>(i % 4)];
    const uint32_t wb = h.block(bb + static_cast<uint64_t>(i / 4))[static_cast<size_t>(i % 4)];
    EXPECT_EQ(u.at({i}), static_cast<double>(static_cast<float>(wu >> 8) * 0x1.0p-24f)) << i;
    EXPECT_EQ(b.at({i}), static_cast<double>(wb) * 0x1.0p-32 < 0.3 ? 1.0 : 0.0) << i;
  }
  // A strided target gets the values a contiguous one would.
  Generator c(5), d(5);
  Tensor strided = transpose(Tensor::empty({7, 9}), 0, 1);
  normal_(strided, 0.0, 1.0, c);
  EXPECT_EQ(strided.to_vector(), randn({9, 7}, DType::f32, d).to_vector());
}

TEST(Rng, PhiloxKnownAnswer) {
  // Known-answer test vectors from the Random123 distribution (kat_vectors, philox4x32_10).
  auto r = philox4x32({0, 0, 0, 0}, {0, 0});
  EXPECT_EQ(r[0], 0x6627e8d5u);
  EXPECT_EQ(r[1], 0xe169c58du);
  EXPECT_EQ(r[2], 0xbc57ac4cu);
  EXPECT_EQ(r[3], 0x9b00dbd8u);
  auto s = philox4x32({0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}, {0xffffffffu, 0xffffffffu});
  EXPECT_EQ(s[0], 0x408f276du);
  EXPECT_EQ(s[1], 0x41c83b0eu);
  EXPECT_EQ(s[2], 0xa20bc7c6u);
  EXPECT_EQ(s[3], 0x6d5451fdu);
}
