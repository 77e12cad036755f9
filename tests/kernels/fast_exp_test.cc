#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "xfmr/kernels/cpu/fast_exp.h"

using xfmr::kernels::fast_exp;

// The vectorisable exp used by the flash-attention kernel against libm's expf: within 4 ulp on the range it
// is used for, exactly 0 below the underflow threshold (including -inf, i.e. masked scores).
TEST(FastExp, MatchesLibmWithin4Ulp) {
  double worst = 0;
  float worst_x = 0;
  for (float x = -87.0f; x < 88.0f; x += 1.0e-3f + 1.0e-5f * std::fabs(x)) {
    const float a = fast_exp(x), b = std::exp(x);
    const double ulp = std::fabs(static_cast<double>(a) - b) / (std::nextafter(b, INFINITY) - b);
    if (ulp > worst) worst = ulp, worst_x = x;
  }
  EXPECT_LE(worst, 4.0) << "at x = " << worst_x;
  EXPECT_EQ(fast_exp(0.0f), 1.0f);
  EXPECT_EQ(fast_exp(-std::numeric_limits<float>::infinity()), 0.0f);
  EXPECT_EQ(fast_exp(-100.0f), 0.0f);
  EXPECT_EQ(fast_exp(-3.0), std::exp(-3.0));  // f64 keeps libm
}
