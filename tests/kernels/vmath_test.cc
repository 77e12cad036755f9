// vmath functions that have no other direct test (exp, tanh, erf and normal_cdf_pdf are checked in
// tests/ops/activation_test.cc).
#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>

#include "xfmr/kernels/cpu/vmath.h"

using namespace xfmr;

// log_positive over every binade of the normal floats, densely near 1 (where ln x is small and relative error
// is hardest) and on the softmax sums the attention kernels take it of ([1, 64]).
TEST(Vmath, LogPositiveAccuracy) {
  double worst_ulp = 0;
  auto check = [&](float x) {
    const double want = std::log(static_cast<double>(x));
    const float got = vmath::log_positive(x);
    const double ulp = std::nextafter(static_cast<float>(want), INFINITY) - static_cast<float>(want);
    const double err = std::fabs(static_cast<double>(got) - want) / std::fabs(ulp);
    if (err > worst_ulp) worst_ulp = err;
  };
  for (float x = FLT_MIN; x < FLT_MAX / 1.001f; x *= 1.0009765f) check(x);
  for (float x = 0.5f; x < 2.0f; x += 1.1e-6f) check(x);
  for (float x = 1.0f; x < 64.0f; x += 3.7e-5f) check(x);
  check(FLT_MAX);
  EXPECT_LT(worst_ulp, 2.0);
  EXPECT_EQ(vmath::log_positive(1.0f), 0.0f);
}
