// kernels::gelu_tanh (kernels/cpu/gelu.h): the AVX-512 path and the plain loop (vmath's scalar form) against
// long double over a dense sweep, the bf16 slope against f32_to_bf16 of the f32 slope, every tail length, in
// place, and the saturated tails and NaN on both paths.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <cstdlib>
#include <vector>

#include "support/generic_isa.h"
#include "xfmr/core/dtype.h"
#include "xfmr/kernels/cpu/cpu_features.h"
#include "xfmr/kernels/cpu/gelu.h"
#include "xfmr/kernels/cpu/gemm_bf16.h"
#include "xfmr/kernels/cpu/vmath.h"

using namespace xfmr;

namespace {

std::vector<float> sweep() {
  std::vector<float> x;
  for (float v = -12.0f; v < 12.0f; v += 0.000731f) x.push_back(v);
  for (float v : {0.0f, -0.0f, 1e-30f, -1e-30f, 100.0f, -100.0f, 1e30f, -1e30f, 87.0f, -9.3f}) x.push_back(v);
  return x;
}

struct Out {
  std::vector<float> y, dy;
  std::vector<uint16_t> dy16;
};

Out run(const std::vector<float>& x, bool generic) {
  test::GenericIsaScope scope(generic);
  Out o{std::vector<float>(x.size()), std::vector<float>(x.size()), std::vector<uint16_t>(x.size())};
  kernels::gelu_tanh(x.data(), o.y.data(), o.dy.data(), static_cast<int64_t>(x.size()));
  std::vector<float> y2(x.size());
  kernels::gelu_tanh(x.data(), y2.data(), o.dy16.data(), static_cast<int64_t>(x.size()));
  EXPECT_EQ(std::memcmp(y2.data(), o.y.data(), x.size() * sizeof(float)), 0)
      << "the value does not depend on the slope's storage";
  return o;
}

}  // namespace

// Both paths (the AVX-512 one and the plain loop over vmath's scalar form) against the same function in long
// double, with vmath's documented bounds (tests/ops/activation_test.cc, ActivationKernels.GeluTanhAccuracy). They
// are not compared with each other bit for bit: which products and sums the compiler fuses in the scalar form
// differs between builds (GCC 12 -O3 -march=native gives the AVX-512 path's bits; in the -O1 debug build 2% of
// the values differ, the value by up to 129 ulp at x ~ -8.9 where t = 2u ~ -70 amplifies any rounding into
// e^{-t}, the slope by up to ~2000 ulp next to its zero at x ~ -0.75, an absolute 1e-11).
TEST(GeluTanhKernel, BothPathsMeetTheAccuracyBounds) {
  const std::vector<float> x = sweep();
  for (bool generic : {true, false}) {
    if (!generic && !kernels::cpu_has_avx512_vnni()) continue;  // only the plain loop on this CPU
    SCOPED_TRACE(generic ? "plain loop" : "native");
    const Out o = run(x, generic);
    double value_scaled = 0, slope_scaled = 0, value_rel = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      if (std::fabs(x[i]) > 12.0f) continue;  // the saturated tails: SaturatedTailsAndNaN
      const long double X = x[i], u = 0.7978845608028654L * (X + 0.044715L * X * X * X);
      const long double sg = 1.0L / (1.0L + std::exp(-2.0L * u));
      const double y_ref = static_cast<double>(X * sg);
      const double s_ref =
          static_cast<double>(sg + X * sg * (1 - sg) * 2 * 0.7978845608028654L * (1 + 3 * 0.044715L * X * X));
      value_scaled = std::max(value_scaled, std::fabs(o.y[i] - y_ref) / std::max(1.0, std::fabs(y_ref)));
      slope_scaled = std::max(slope_scaled, std::fabs(o.dy[i] - s_ref) / std::max(1.0, std::fabs(s_ref)));
      if (x[i] > -9.2f && y_ref != 0)
        value_rel = std::max(value_rel, std::fabs(o.y[i] - y_ref) / std::fabs(y_ref));
    }
    EXPECT_LT(value_scaled, 2.5e-7);
    EXPECT_LT(slope_scaled, 3e-7);
    EXPECT_LT(value_rel, 2e-5);
  }
}

TEST(GeluTanhKernel, Bf16SlopeIsTheRoundedF32Slope) {
  const std::vector<float> x = sweep();
  for (bool generic : {true, false}) {
    SCOPED_TRACE(generic ? "plain loop" : "native");
    const Out o = run(x, generic);
    for (size_t i = 0; i < x.size(); ++i) {
      if (std::fabs(o.dy[i]) < 1.2e-38f) {  // the hardware conversion flushes denormal slopes (gelu.cc)
        EXPECT_EQ(bf16_to_f32(o.dy16[i]), 0.0f) << x[i];
        continue;
      }
      ASSERT_EQ(o.dy16[i], f32_to_bf16(o.dy[i])) << x[i];
    }
  }
}

TEST(GeluTanhKernel, EveryLengthAndInPlace) {
  std::vector<float> x(53);
  for (size_t i = 0; i < x.size(); ++i) x[i] = -3.0f + 0.11f * static_cast<float>(i);
  for (bool generic : {true, false}) {
    test::GenericIsaScope scope(generic);
    std::vector<float> full(x.size()), full_dy(x.size());
    kernels::gelu_tanh(x.data(), full.data(), full_dy.data(), static_cast<int64_t>(x.size()));
    for (int64_t n = 0; n <= 53; ++n) {
      std::vector<float> y(x.size() + 1, 7.0f), dy(x.size() + 1, 7.0f);
      kernels::gelu_tanh(x.data(), y.data(), dy.data(), n);
      for (int64_t i = 0; i < n; ++i) {
        ASSERT_EQ(y[static_cast<size_t>(i)], full[static_cast<size_t>(i)]) << n << " " << i;
        ASSERT_EQ(dy[static_cast<size_t>(i)], full_dy[static_cast<size_t>(i)]) << n << " " << i;
      }
      ASSERT_EQ(y[static_cast<size_t>(n)], 7.0f) << "wrote past n = " << n;
      ASSERT_EQ(dy[static_cast<size_t>(n)], 7.0f) << "wrote past n = " << n;
    }
    std::vector<float> inplace = x;
    kernels::gelu_tanh(inplace.data(), inplace.data(), static_cast<float*>(nullptr), 53);
    EXPECT_EQ(inplace, full);
  }
}

TEST(GeluTanhKernel, SaturatedTailsAndNaN) {
  const std::vector<float> x = {-1e30f, -1000.0f, -60.0f, 60.0f, 1000.0f, 1e30f, NAN};
  for (bool generic : {true, false}) {
    SCOPED_TRACE(generic ? "plain loop" : "native");
    const Out o = run(x, generic);
    for (size_t i = 0; i < 3; ++i) {
      EXPECT_EQ(o.y[i], 0.0f) << x[i];
      EXPECT_TRUE(std::signbit(o.y[i])) << x[i];
      EXPECT_EQ(o.dy[i], 0.0f) << x[i];
    }
    for (size_t i = 3; i < 6; ++i) {
      EXPECT_EQ(o.y[i], x[i]);
      EXPECT_EQ(o.dy[i], 1.0f) << x[i];
    }
    EXPECT_TRUE(std::isnan(o.y[6]));
    EXPECT_TRUE(std::isnan(o.dy[6]));
    EXPECT_TRUE(std::isnan(bf16_to_f32(o.dy16[6])));
  }
}
