#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>

#include "support/gradcheck.h"
#include "support/input_shaping.h"
#include "support/torch_parity.h"
#include "xfmr/kernels/cpu/vmath.h"
#include "xfmr/ops/activation.h"
#include "xfmr/ops/elementwise.h"

using namespace xfmr;
using test::expect_gradcheck;

namespace {
Tensor leaf(const Shape& s, uint64_t seed, bool transposed, double min_abs = 0.0) {
  return transposed ? test::random_transposed_input(s, seed, min_abs) : test::random_input(s, seed, min_abs);
}
// n evenly spaced values in [lo, hi] (f64 unless told).
Tensor linspace(double lo, double hi, int64_t n, DType dt = DType::f64) {
  std::vector<double> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    v[static_cast<size_t>(i)] = lo + (hi - lo) * static_cast<double>(i) / static_cast<double>(n - 1);
  return Tensor::from_vector(v, {n}, dt);
}
}  // namespace

TEST(ActivationGrad, AllOps) {
  for (bool t : {false, true}) {
    SCOPED_TRACE(t ? "transposed" : "contiguous");
    expect_gradcheck([](auto& in) { return relu(in[0]); }, {leaf({3, 5}, 1, t, 0.05)});
    expect_gradcheck([](auto& in) { return gelu(in[0]); }, {leaf({3, 5}, 2, t)});
    expect_gradcheck([](auto& in) { return gelu(in[0], GeluApprox::tanh); }, {leaf({3, 5}, 3, t)});
    expect_gradcheck([](auto& in) { return silu(in[0]); }, {leaf({3, 5}, 4, t)});
    expect_gradcheck([](auto& in) { return sigmoid(in[0]); }, {leaf({3, 5}, 5, t)});
    expect_gradcheck([](auto& in) { return tanh(in[0]); }, {leaf({3, 5}, 6, t)});
    expect_gradcheck([](auto& in) { return softplus(in[0]); }, {leaf({3, 5}, 7, t)});
    // beta = 2, threshold 1.5: the linear branch starts at x = 0.75 (the function jumps by log1p(e^-1.5)/2
    // there).
    Tensor x = leaf({4, 6}, 8, t);
    test::avoid_points(x, {0.75}, 0.05);
    expect_gradcheck([](auto& in) { return softplus(in[0], 2.0, 1.5); }, {x});
  }
  // Wide inputs reach the saturated tails.
  Tensor wide = leaf({40}, 9, false);
  test::modify_elements(wide, [](double& v) { v *= 6; });
  expect_gradcheck(
      [](auto& in) {
        return gelu(in[0]) + gelu(in[0], GeluApprox::tanh) + silu(in[0]) + sigmoid(in[0]) + tanh(in[0]);
      },
      {wide});
}

TEST(Activation, ForwardValues) {
  Tensor x = Tensor::from_vector(std::vector<double>{-2, -0.0, 0.0, 1, std::nan("")}, {5}, DType::f64);
  const std::vector<double> r = relu(x).to_vector();
  EXPECT_EQ(r[0], 0.0);
  EXPECT_EQ(r[3], 1.0);
  EXPECT_TRUE(std::isnan(r[4]));  // NaN propagates, as torch.relu
  // Closed forms at 1: Phi(1) = 0.841344746..., sigmoid(1) = 0.731058578...
  Tensor one = Tensor::scalar(1.0, DType::f64);
  EXPECT_NEAR(gelu(one).item(), 0.8413447460685429, 1e-15);
  EXPECT_NEAR(sigmoid(one).item(), 0.7310585786300049, 1e-15);
  EXPECT_NEAR(silu(one).item(), 0.7310585786300049, 1e-15);
  EXPECT_NEAR(softplus(one).item(), std::log1p(std::exp(1.0)), 1e-15);
  // No overflow far out in the tails.
  Tensor big = Tensor::from_vector(std::vector<double>{-1000, 1000}, {2}, DType::f32);
  EXPECT_EQ(sigmoid(big).to_vector(), (std::vector<double>{0, 1}));
  EXPECT_EQ(silu(big).to_vector(), (std::vector<double>{-0.0, 1000}));
  EXPECT_EQ(softplus(big).to_vector(), (std::vector<double>{0, 1000}));
  EXPECT_EQ(gelu(big).to_vector(), (std::vector<double>{-0.0, 1000}));
  EXPECT_EQ(gelu(big, GeluApprox::tanh).to_vector(), (std::vector<double>{-0.0, 1000}));
}

// The two GELU variants differ, and by exactly what torch's differ by: both are matched to torch in f64 at
// 1e-12, and the gap is the documented size of the tanh approximation error (max 4.73e-4 near |x| = 2.7;
// Hendrycks & Gimpel 2016).
TEST(Activation, GeluTanhDiffersFromExactLikeTorch) {
  Tensor x = linspace(-6, 6, 241);
  const std::vector<double> exact = gelu(x).to_vector(), approx = gelu(x, GeluApprox::tanh).to_vector();
  double gap = 0;
  for (size_t i = 0; i < exact.size(); ++i) gap = std::max(gap, std::fabs(exact[i] - approx[i]));
  EXPECT_GT(gap, 1e-4);
  EXPECT_LT(gap, 1e-3);
  test::ParityBatch b;
  for (const char* approx_name : {"none", "tanh"}) {
    const GeluApprox a = std::string(approx_name) == "tanh" ? GeluApprox::tanh : GeluApprox::none;
    Tensor xs = linspace(-6, 6, 241);
    xs.set_requires_grad(true);
    b.add(std::string("gelu_f64_") + approx_name, "act_gelu", {{"approximate", approx_name}}, {xs},
          [a](auto& in) { return gelu(in[0], a); });
  }
  b.run(1e-12);
}

// softplus switches to the identity where beta * x > threshold, in forward and backward, as torch does.
TEST(Activation, SoftplusThresholdLikeTorch) {
  // beta = 2, threshold = 20: x = 10.5 (bx = 21) is returned exactly; x = 2 (bx = 4) is not.
  Tensor x =
      Tensor::from_vector(std::vector<double>{10.5, 2.0, 30.0}, {3}, DType::f32).set_requires_grad(true);
  Tensor y = softplus(x, 2.0, 20.0);
  EXPECT_EQ(y.at({0}), x.at({0}));
  EXPECT_EQ(y.at({2}), x.at({2}));
  EXPECT_NEAR(y.at({1}), std::log1p(std::exp(4.0)) / 2, 1e-6);
  y.backward(Tensor::ones({3}));
  EXPECT_EQ(x.grad().at({0}), 1.0);
  EXPECT_LT(x.grad().at({1}), 1.0);
  // A low threshold makes the jump visible: softplus(x=0.6, beta=1, threshold=0.5) = 0.6, not log1p(e^0.6).
  EXPECT_NEAR(softplus(Tensor::scalar(0.6, DType::f64), 1.0, 0.5).item(), 0.6, 0);
  test::ParityBatch b;
  b.add("softplus_thr_default", "act_softplus", {}, {b.randn({5, 8}, DType::f32, 15.0)},
        [](auto& in) { return softplus(in[0]); });
  b.add("softplus_thr_beta", "act_softplus", {{"beta", 3.0}, {"threshold", 5.0}},
        {b.randn({5, 8}, DType::f32, 4.0)}, [](auto& in) { return softplus(in[0], 3.0, 5.0); });
  b.add("softplus_thr_low", "act_softplus", {{"beta", 0.5}, {"threshold", 0.25}}, {b.randn({5, 8})},
        [](auto& in) { return softplus(in[0], 0.5, 0.25); });
  b.run();
}

TEST(ActivationParity, Torch) {
  test::ParityBatch b;
  b.add("relu", "act_relu", {}, {b.randn({4, 9})}, [](auto& in) { return relu(in[0]); });
  b.add("gelu", "act_gelu", {}, {b.randn({4, 9}, DType::f32, 3.0)}, [](auto& in) { return gelu(in[0]); });
  b.add("gelu_tanh", "act_gelu", {{"approximate", "tanh"}}, {b.randn({4, 9}, DType::f32, 3.0)},
        [](auto& in) { return gelu(in[0], GeluApprox::tanh); });
  b.add("silu", "act_silu", {}, {b.randn({4, 9}, DType::f32, 3.0)}, [](auto& in) { return silu(in[0]); });
  b.add("sigmoid", "act_sigmoid", {}, {b.randn({4, 9}, DType::f32, 3.0)},
        [](auto& in) { return sigmoid(in[0]); });
  b.add("tanh", "act_tanh", {}, {b.randn({4, 9}, DType::f32, 2.0)}, [](auto& in) { return tanh(in[0]); });
  b.add("softplus", "act_softplus", {{"beta", 1.5}}, {b.randn({4, 9}, DType::f32, 3.0)},
        [](auto& in) { return softplus(in[0], 1.5); });
  // Large enough to take the multi-threaded loops.
  b.add("gelu_big", "act_gelu", {}, {b.randn({96, 512})}, [](auto& in) { return gelu(in[0]); });
  b.run();
}

TEST(ActivationErrors, BadInput) {
  Tensor i64 = Tensor::zeros({3}, DType::i64);
  const std::pair<const char*, std::function<void()>> cases[] = {
      {"relu", [&] { relu(i64); }},       {"gelu", [&] { gelu(i64); }}, {"silu", [&] { silu(i64); }},
      {"sigmoid", [&] { sigmoid(i64); }}, {"tanh", [&] { tanh(i64); }}, {"softplus", [&] { softplus(i64); }},
      {"gelu", [&] { gelu(Tensor()); }},
  };
  for (auto& [name, f] : cases) {
    try {
      f();
      ADD_FAILURE() << name << ": no error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
    }
  }
}

// The vectorised f32 math used by exp and the activations, against libm in double over a dense sweep.
TEST(ActivationKernels, VmathAccuracy) {
  double exp_rel = 0, tanh_rel = 0, erf_abs = 0;
  for (float x = -87.0f; x < 88.7f; x += 0.00071f) {
    const double e = std::exp(static_cast<double>(x));
    exp_rel = std::max(exp_rel, std::fabs(vmath::exp(x) - e) / e);
  }
  for (float x = -10.0f; x < 10.0f; x += 0.000037f) {
    const double t = std::tanh(static_cast<double>(x));
    if (t != 0) tanh_rel = std::max(tanh_rel, std::fabs(vmath::tanh(x) - t) / std::fabs(t));
    erf_abs = std::max(erf_abs, std::fabs(vmath::erf(x) - std::erf(static_cast<double>(x))));
  }
  EXPECT_LT(exp_rel, 2.5e-7);  // ~2 ulp
  EXPECT_LT(tanh_rel, 3e-7);
  EXPECT_LT(erf_abs, 3e-7);
  // Special values.
  EXPECT_EQ(vmath::exp(89.0f), INFINITY);
  EXPECT_EQ(vmath::exp(-104.0f), 0.0f);
  EXPECT_GT(vmath::exp(-100.0f), 0.0f);  // denormal results are kept down to -103
  EXPECT_TRUE(std::isnan(vmath::exp(NAN)));
  EXPECT_EQ(vmath::exp(-INFINITY), 0.0f);
  EXPECT_EQ(vmath::tanh(INFINITY), 1.0f);
  EXPECT_EQ(vmath::tanh(-INFINITY), -1.0f);
  EXPECT_EQ(vmath::tanh(1e-20f), 1e-20f);
  EXPECT_TRUE(std::isnan(vmath::tanh(NAN)));
  EXPECT_EQ(vmath::erf(INFINITY), 1.0f);
  EXPECT_EQ(vmath::erf(-INFINITY), -1.0f);
  EXPECT_TRUE(std::isnan(vmath::erf(NAN)));
}

// GPT-2's tanh GELU in f32 (vmath::gelu_tanh_value_slope, the sigmoid form x σ(2u)) against the same function
// in long double over a dense sweep. Measured (GCC 12 -O3 -march=native): value within 1.4e-7 · max(1, |y|),
// slope within 1.8e-7 · max(1, |slope|); relative value error 1.8e-6 for x > -5 and 9e-6 down to x = -9.2,
// where y ~ 1e-35 and the rounding of u itself dominates (the tanh form 0.5 x (1 + tanh u) in f32 has no
// correct digit there). The tails saturate to the limits exactly.
TEST(ActivationKernels, GeluTanhAccuracy) {
  double value_scaled = 0, slope_scaled = 0, value_rel = 0;
  for (float x = -12.0f; x < 12.0f; x += 0.00013f) {
    const long double X = x, u = 0.7978845608028654L * (X + 0.044715L * X * X * X);
    const long double sg = 1.0L / (1.0L + std::exp(-2.0L * u));
    const double y_ref = static_cast<double>(X * sg);
    const double s_ref = static_cast<double>(sg + X * sg * (1 - sg) * 2 * 0.7978845608028654L * (1 + 3 * 0.044715L * X * X));
    float y, s;
    vmath::gelu_tanh_value_slope(x, y, s);
    value_scaled = std::max(value_scaled, std::fabs(y - y_ref) / std::max(1.0, std::fabs(y_ref)));
    slope_scaled = std::max(slope_scaled, std::fabs(s - s_ref) / std::max(1.0, std::fabs(s_ref)));
    if (x > -9.2f) value_rel = std::max(value_rel, std::fabs(y - y_ref) / std::fabs(y_ref == 0 ? 1.0 : y_ref));
    ASSERT_EQ(vmath::gelu_tanh(x), y) << x;  // the value-only form has the same bits
  }
  EXPECT_LT(value_scaled, 2.5e-7);
  EXPECT_LT(slope_scaled, 3e-7);
  EXPECT_LT(value_rel, 2e-5);
  float y, s;
  for (float x : {-1e30f, -1000.0f, -60.0f}) {
    vmath::gelu_tanh_value_slope(x, y, s);
    EXPECT_EQ(y, 0.0f) << x;
    EXPECT_TRUE(std::signbit(y)) << x;
    EXPECT_EQ(s, 0.0f) << x;
  }
  for (float x : {60.0f, 1000.0f, 1e30f}) {
    vmath::gelu_tanh_value_slope(x, y, s);
    EXPECT_EQ(y, x);
    EXPECT_EQ(s, 1.0f) << x;
  }
  vmath::gelu_tanh_value_slope(0.0f, y, s);
  EXPECT_EQ(y, 0.0f);
  EXPECT_EQ(s, 0.5f);
  vmath::gelu_tanh_value_slope(NAN, y, s);
  EXPECT_TRUE(std::isnan(y));
  EXPECT_TRUE(std::isnan(s));
}

// The fused Phi / phi of the exact GELU (one exp for both), against libm in double over a dense sweep:
// measured max errors (x in [-14, 14], GCC 12 -O3 -march=native): Phi absolute 1.74e-7 (the former
// 0.5 (1 + vmath::erf(x / sqrt 2)): 1.46e-7), phi relative 3.5e-7 for |x| <= 4 and absolute 4.3e-8, GELU
// x Phi(x) 1.0e-7 relative to max(1, |x|), its slope Phi + x phi 1.7e-7 absolute.
TEST(ActivationKernels, NormalCdfPdfAccuracy) {
  double cdf_abs = 0, pdf_rel = 0, pdf_abs = 0, gelu_abs = 0, slope_abs = 0;
  for (float x = -14.0f; x < 14.0f; x += 0.000043f) {
    const double xd = x;
    const double cdf = 0.5 * std::erfc(-xd / std::sqrt(2.0));
    const double pdf = std::exp(-0.5 * xd * xd) / std::sqrt(2.0 * M_PI);
    float c, p;
    vmath::normal_cdf_pdf(x, c, p);
    cdf_abs = std::max(cdf_abs, std::fabs(c - cdf));
    pdf_rel = std::max(pdf_rel, std::fabs(p - pdf) / pdf * (std::fabs(x) <= 4.0f ? 1.0 : 0.0));
    pdf_abs = std::max(pdf_abs, std::fabs(p - pdf));
    gelu_abs = std::max(gelu_abs, std::fabs(x * c - xd * cdf) / std::max(1.0, std::fabs(xd)));
    slope_abs = std::max(slope_abs, std::fabs((c + x * p) - (cdf + xd * pdf)));
  }
  EXPECT_LT(cdf_abs, 2e-7);
  EXPECT_LT(pdf_rel, 4e-7);  // |x| <= 4; beyond, the float rounding of x^2 / 2 dominates (phi abs below)
  EXPECT_LT(pdf_abs, 5e-8);
  EXPECT_LT(gelu_abs, 2e-7);  // relative to max(1, |x|)
  EXPECT_LT(slope_abs, 3e-7);
  float c, p;
  vmath::normal_cdf_pdf(INFINITY, c, p);
  EXPECT_EQ(c, 1.0f);
  EXPECT_EQ(p, 0.0f);
  vmath::normal_cdf_pdf(-INFINITY, c, p);
  EXPECT_EQ(c, 0.0f);
  EXPECT_EQ(p, 0.0f);
  vmath::normal_cdf_pdf(NAN, c, p);
  EXPECT_TRUE(std::isnan(c) && std::isnan(p));
  EXPECT_EQ(vmath::exp_nonpos(0.0f), 1.0f);
  EXPECT_EQ(vmath::exp_nonpos(-88.0f), 0.0f);
  EXPECT_TRUE(std::isnan(vmath::exp_nonpos(NAN)));
  double e_rel = 0;
  for (float x = -87.0f; x <= 0.0f; x += 0.00031f) {
    const double e = std::exp(static_cast<double>(x));
    e_rel = std::max(e_rel, std::fabs(vmath::exp_nonpos(x) - e) / e);
  }
  EXPECT_LT(e_rel, 2.5e-7);
}
