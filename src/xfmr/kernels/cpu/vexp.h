// exp that the compiler vectorises (std::exp is a libm call, so loops over it stay scalar without -ffast-math).
// float: Cody–Waite range reduction exp(x) = 2^n·exp(r), n = round(x·log2 e), r = x - n·ln 2 (ln 2 split in two
// parts so r is exact), then Cephes' degree-6 polynomial for exp(r) on |r| <= ln2/2; 2^n is built in the exponent
// bits. Rounding uses the 1.5·2^23 trick instead of floor(), which GCC only vectorises with -fno-trapping-math.
// Max relative error ~1e-7 (about 1.5 ulp) on [-87, 88]; returns 0 below -87 (the true value is < 1.7e-38, and
// -inf, e.g. a masked logit, gives exactly 0), saturates at exp(88) above 88 (callers here only pass x <= 0),
// NaN for NaN. The softmax family only evaluates
// x - max <= 0. double: std::exp (the f64 path is for gradient checks, where accuracy matters, not speed).
// Reference: std::exp (tests/ops/softmax_test.cc compares the two).
#pragma once
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

namespace xfmr::kern {

inline float exp_fast(float x) {
  // Branch-free (selects and masks only), so every loop that calls it vectorises.
  float xc = x < -87.0f ? -87.0f : x;
  xc = xc > 88.0f ? 88.0f : xc;
  const float t = xc * 1.44269504088896341f + 12582912.0f;  // 1.5·2^23: the low mantissa bits hold round(x·log2 e)
  const float n = t - 12582912.0f;
  const uint32_t ni = std::bit_cast<uint32_t>(t) - 0x4B400000u;  // n mod 2^32 (unsigned: wraps, no UB)
  const float r = xc - n * 0.693359375f + n * 2.12194440e-4f;  // ln 2 = 0.693359375 - 2.12194440e-4
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const float scale = std::bit_cast<float>((ni + 127u) << 23);  // 2^n for n in [-126, 127]
  // Below -87 the result is 0 (mask), NaN stays NaN (x != x keeps the NaN p): x >= -87 is false for both.
  const float keep = (x >= -87.0f) ? 1.0f : 0.0f;
  const float y = p * scale * keep;
  return x != x ? x : y;
}

inline double exp_fast(double x) { return std::exp(x); }

}  // namespace xfmr::kern
