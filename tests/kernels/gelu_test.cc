// kernels::gelu_tanh (kernels/cpu/gelu.h): the AVX-512 path against the plain loop (vmath's scalar form) over a
// dense sweep, the bf16 slope against f32_to_bf16 of the f32 slope, every tail length, in place, and the
// saturated tails and NaN on both paths.
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

// Distance in units in the last place (same sign; 0 and -0 equal).
int64_t ulps(float a, float b) {
  if (a == b) return 0;
  int32_t ia, ib;
  std::memcpy(&ia, &a, 4);
  std::memcpy(&ib, &b, 4);
  if ((ia < 0) != (ib < 0)) return INT64_MAX;
  return std::llabs(static_cast<int64_t>(ia) - static_cast<int64_t>(ib));
}

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

TEST(GeluTanhKernel, NativeAgreesWithPlainLoop) {
  if (!kernels::cpu_has_avx512_vnni()) GTEST_SKIP() << "no AVX-512 path on this CPU: the plain loop is the only one";
  const std::vector<float> x = sweep();
  const Out plain = run(x, true), fast = run(x, false);
  int64_t worst_y = 0, worst_dy = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    // Below 1e-30 in magnitude the tail is a tiny multiple of e^{-t}: compare absolutely there.
    if (std::fabs(plain.y[i]) > 1e-30f) worst_y = std::max(worst_y, ulps(fast.y[i], plain.y[i]));
    else EXPECT_LE(std::fabs(fast.y[i] - plain.y[i]), 1e-35f) << x[i];
    if (std::fabs(plain.dy[i]) > 1e-30f) worst_dy = std::max(worst_dy, ulps(fast.dy[i], plain.dy[i]));
    else EXPECT_LE(std::fabs(fast.dy[i] - plain.dy[i]), 1e-35f) << x[i];
  }
  EXPECT_LE(worst_y, 2);
  EXPECT_LE(worst_dy, 2);
  RecordProperty("worst_value_ulps", static_cast<int>(worst_y));
  RecordProperty("worst_slope_ulps", static_cast<int>(worst_dy));
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
