#include "xfmr/tasks/icl_linear.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "xfmr/core/rng.h"

using namespace xfmr;

TEST(IclLinear, Shapes) {
  Generator g(1);
  IclBatch b = sample_icl_linear(4, 7, 3, 3, 0.0, g);
  EXPECT_EQ(b.xs.shape(), (Shape{4, 7, 3}));
  EXPECT_EQ(b.ys.shape(), (Shape{4, 7}));
  EXPECT_EQ(b.w.shape(), (Shape{4, 3}));
  EXPECT_EQ(b.xs.dtype(), DType::f32);
  EXPECT_EQ(b.ys.dtype(), DType::f32);
  EXPECT_EQ(b.w.dtype(), DType::f32);
  IclBatch c = sample_icl_linear(2, IclLinearConfig{}, g);
  EXPECT_EQ(c.xs.shape(), (Shape{2, 11, 5}));
}

TEST(IclLinear, DeterministicPerSeed) {
  Generator g1(42), g2(42), g3(43);
  IclBatch a = sample_icl_linear(3, 5, 4, 4, 0.5, g1);
  IclBatch b = sample_icl_linear(3, 5, 4, 4, 0.5, g2);
  IclBatch c = sample_icl_linear(3, 5, 4, 4, 0.5, g3);
  EXPECT_EQ(a.xs.to_vector(), b.xs.to_vector());
  EXPECT_EQ(a.ys.to_vector(), b.ys.to_vector());
  EXPECT_EQ(a.w.to_vector(), b.w.to_vector());
  EXPECT_NE(a.xs.to_vector(), c.xs.to_vector());
  // The generator advances: the next batch differs from the first.
  IclBatch a2 = sample_icl_linear(3, 5, 4, 4, 0.5, g1);
  EXPECT_NE(a.xs.to_vector(), a2.xs.to_vector());
  // The same state gives the same x and w for any noise level and the same active coordinates for any
  // active_dims (the full tensors are always drawn).
  Generator h1(7), h2(7);
  IclBatch full = sample_icl_linear(2, 6, 5, 5, 0.0, h1);
  IclBatch part = sample_icl_linear(2, 6, 5, 2, 1.0, h2);
  for (int64_t p = 0; p < 2; ++p)
    for (int64_t i = 0; i < 6; ++i)
      for (int64_t j = 0; j < 2; ++j) EXPECT_EQ(full.xs.at({p, i, j}), part.xs.at({p, i, j}));
}

TEST(IclLinear, ZeroBeyondActiveDimsAndExactLabels) {
  Generator g(3);
  const int64_t B = 8, n = 9, d = 6, active = 4;
  IclBatch b = sample_icl_linear(B, n, d, active, 0.0, g);
  for (int64_t p = 0; p < B; ++p) {
    for (int64_t j = 0; j < d; ++j) {
      if (j >= active) {
        EXPECT_EQ(b.w.at({p, j}), 0.0);
      } else {
        EXPECT_NE(b.w.at({p, j}), 0.0);
      }
    }
    for (int64_t i = 0; i < n; ++i) {
      double s = 0.0;
      for (int64_t j = 0; j < d; ++j) {
        if (j >= active) {
          EXPECT_EQ(b.xs.at({p, i, j}), 0.0);
        }
        s += b.w.at({p, j}) * b.xs.at({p, i, j});
      }
      // Noiseless: y is w·x summed in double and rounded once to f32.
      EXPECT_EQ(b.ys.at({p, i}), static_cast<double>(static_cast<float>(s)));
    }
  }
  IclBatch z = sample_icl_linear(2, 3, 4, 0, 0.0, g);  // no active dims: all zero
  for (double v : z.ys.to_vector()) EXPECT_EQ(v, 0.0);
}

TEST(IclLinear, SampleMoments) {
  Generator g(11);
  const int64_t B = 4000, n = 10, d = 5;
  const double sigma = 0.5;
  IclBatch b = sample_icl_linear(B, n, d, d, sigma, g);
  auto moments = [](const std::vector<double>& v, double& mean, double& var) {
    mean = 0.0;
    for (double x : v) mean += x;
    mean /= static_cast<double>(v.size());
    var = 0.0;
    for (double x : v) var += (x - mean) * (x - mean);
    var /= static_cast<double>(v.size() - 1);
  };
  double m, v;
  const std::vector<double> xs = b.xs.to_vector(), w = b.w.to_vector(), ys = b.ys.to_vector();
  moments(xs, m, v);  // N = 200000: SE of the mean 0.0022, of the variance ~0.0032
  EXPECT_NEAR(m, 0.0, 0.01);
  EXPECT_NEAR(v, 1.0, 0.015);
  moments(w, m, v);  // N = 20000
  EXPECT_NEAR(m, 0.0, 0.03);
  EXPECT_NEAR(v, 1.0, 0.05);
  // Noise residuals y − w·x ~ N(0, σ²) (up to f32 rounding of y).
  std::vector<double> res;
  for (int64_t p = 0; p < B; ++p)
    for (int64_t i = 0; i < n; ++i) {
      double s = 0.0;
      for (int64_t j = 0; j < d; ++j) s += w[p * d + j] * xs[(p * n + i) * d + j];
      res.push_back(ys[p * n + i] - s);
    }
  moments(res, m, v);  // N = 40000
  EXPECT_NEAR(m, 0.0, 0.01);
  EXPECT_NEAR(v, sigma * sigma, 0.01);
  // Var(y) = E‖w‖²·1 + σ² = d + σ².
  moments(ys, m, v);
  EXPECT_NEAR(v, d + sigma * sigma, 0.25);
}

TEST(IclLinear, InterleavePrompt) {
  Generator g(5);
  const int64_t B = 2, n = 4, d = 3;
  IclBatch b = sample_icl_linear(B, n, d, d, 0.1, g);
  Tensor z = interleave_prompt(b);
  EXPECT_EQ(z.shape(), (Shape{B, 2 * n, d}));
  EXPECT_EQ(z.dtype(), DType::f32);
  for (int64_t p = 0; p < B; ++p)
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t j = 0; j < d; ++j) EXPECT_EQ(z.at({p, 2 * i, j}), b.xs.at({p, i, j}));
      EXPECT_EQ(z.at({p, 2 * i + 1, 0}), b.ys.at({p, i}));
      for (int64_t j = 1; j < d; ++j) EXPECT_EQ(z.at({p, 2 * i + 1, j}), 0.0);
    }
  // d = 1: the y row is just (y).
  IclBatch one = sample_icl_linear(1, 2, 1, 1, 0.0, g);
  EXPECT_EQ(interleave_prompt(one).to_vector(),
            (std::vector<double>{one.xs.at({0, 0, 0}), one.ys.at({0, 0}), one.xs.at({0, 1, 0}), one.ys.at({0, 1})}));
}

TEST(IclLinear, CurriculumSchedule) {
  // Garg et al.: d = 20, 41 points: 5 dims / 11 points, +1 / +2 every 2000 steps, full size at step 30000.
  Curriculum c = Curriculum::garg_default(20, 41, 2000);
  EXPECT_EQ(c.at(0), (std::pair<int64_t, int64_t>{5, 11}));
  EXPECT_EQ(c.at(1999), (std::pair<int64_t, int64_t>{5, 11}));
  EXPECT_EQ(c.at(2000), (std::pair<int64_t, int64_t>{6, 13}));
  EXPECT_EQ(c.at(4001), (std::pair<int64_t, int64_t>{7, 15}));
  EXPECT_EQ(c.at(29999), (std::pair<int64_t, int64_t>{19, 39}));
  EXPECT_EQ(c.at(30000), (std::pair<int64_t, int64_t>{20, 41}));
  EXPECT_EQ(c.at(500000), (std::pair<int64_t, int64_t>{20, 41}));
  EXPECT_EQ(c.at(INT64_MAX), (std::pair<int64_t, int64_t>{20, 41}));
  // Points reach their end (with an overshooting increment capped) independently of dims.
  Curriculum u{2, 4, 1, 3, 8, 2, 10};
  EXPECT_EQ(u.at(9), (std::pair<int64_t, int64_t>{2, 3}));
  EXPECT_EQ(u.at(10), (std::pair<int64_t, int64_t>{3, 5}));
  EXPECT_EQ(u.at(20), (std::pair<int64_t, int64_t>{4, 7}));
  EXPECT_EQ(u.at(30), (std::pair<int64_t, int64_t>{4, 8}));
  // Small problems: start clamps to the end.
  Curriculum s = Curriculum::garg_default(3, 7, 100);
  EXPECT_EQ(s.at(0), (std::pair<int64_t, int64_t>{3, 7}));
  EXPECT_EQ(Curriculum::fixed(5, 11).at(123456), (std::pair<int64_t, int64_t>{5, 11}));
  Curriculum d5 = Curriculum::garg_default(5, 11);
  EXPECT_EQ(d5.at(0), (std::pair<int64_t, int64_t>{5, 11}));
}

TEST(IclLinear, BadInput) {
  Generator g(0);
  auto expect_msg = [](auto&& f, const std::string& what) {
    try {
      f();
      ADD_FAILURE() << "no throw for " << what;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  };
  expect_msg([&] { sample_icl_linear(2, 3, 4, 5, 0.0, g); }, "sample_icl_linear");
  expect_msg([&] { sample_icl_linear(0, 3, 4, 4, 0.0, g); }, "sample_icl_linear");
  expect_msg([&] { sample_icl_linear(2, 3, 4, 4, -1.0, g); }, "sample_icl_linear");
  expect_msg([&] { Curriculum::garg_default(0, 3, 10); }, "garg_default");
  expect_msg([&] { Curriculum{1, 2, 1, 1, 2, 1, 0}.at(3); }, "Curriculum::at");
  IclBatch b = sample_icl_linear(2, 3, 4, 4, 0.0, g);
  b.ys = Tensor::zeros({2, 4});
  expect_msg([&] { interleave_prompt(b); }, "interleave_prompt");
}

// The sampler draws xs, w and the noise with randn in this order, and leaves the generator where three randn calls
// would: odd and even element counts (each Philox block gives two f32 normals).
TEST(IclLinear, DrawsAreRandnBitForBit) {
  for (int64_t B : {1, 3, 64}) {
    for (int64_t n : {1, 4, 11}) {
      for (int64_t d : {1, 5}) {
        SCOPED_TRACE("B = " + std::to_string(B) + " n = " + std::to_string(n) + " d = " + std::to_string(d));
        Generator g(11), h(11);
        IclBatch b = sample_icl_linear(B, n, d, d, 0.25, g);
        const Tensor xs = randn({B, n, d}, DType::f32, h), w = randn({B, d}, DType::f32, h),
                     noise = randn({B, n}, DType::f32, h);
        EXPECT_EQ(b.xs.to_vector(), xs.to_vector());
        EXPECT_EQ(b.w.to_vector(), w.to_vector());
        EXPECT_EQ(g.offset(), h.offset());
        // The labels use the same noise draws: y - <w, x> is 0.25 * noise (to float rounding of the sum).
        for (int64_t p = 0; p < B; ++p) {
          for (int64_t i = 0; i < n; ++i) {
            double s = 0.0;
            for (int64_t j = 0; j < d; ++j) s += w.at({p, j}) * xs.at({p, i, j});
            EXPECT_EQ(b.ys.at({p, i}), static_cast<double>(static_cast<float>(s + 0.25 * noise.at({p, i}))));
          }
        }
      }
    }
  }
}
