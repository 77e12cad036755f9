// exp(x) for float in a form the compiler vectorises (glibc's expf is a scalar call without -ffast-math, and
// attention spends a large share of its time in it). Classic range reduction (Cody & Waite 1980; Muller,
// "Elementary Functions", ch. 11): x = n ln2 + r with |r| <= ln2/2, exp(r) by its degree-6 Taylor polynomial
// (truncation error r^7/7! < 1.2e-7 relative), and 2^n built directly in the exponent bits.
// Accuracy: within 4 ulp of expf on [-87, 88]; returns exactly 0 for x < -87.3 (including -inf) and is not meant
// for x > 88 (attention only exponentiates scores minus their running max, i.e. x <= ~0).
#pragma once
#include <bit>
#include <cmath>
#include <cstdint>

namespace xfmr::kernels {

inline float fast_exp(float x) {
  const bool underflow = x < -87.3f;  // also catches -inf
  x = x < -87.3f ? -87.3f : x;  // plain selects: std::fmin/fmax are libm calls (NaN rules) and block vectorising
  x = x > 88.0f ? 88.0f : x;
  // n = round(x / ln2) via the 1.5 * 2^23 shifter: adding it leaves n in the low mantissa bits.
  constexpr float kShift = 12582912.0f;
  const float t = x * 1.44269504088896341f + kShift;
  const float n = t - kShift;
  const uint32_t ni = std::bit_cast<uint32_t>(t) - std::bit_cast<uint32_t>(kShift);  // n mod 2^32 (NaN: garbage)
  // r = x - n ln2 in two steps (ln2 split into a part exact in float and a correction) to keep r accurate.
  const float r = (x - n * 0.693145751953125f) - n * 1.42860682030941723e-6f;
  float p = 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const float scale = std::bit_cast<float>((ni + 127u) << 23);  // 2^n; n + 127 is in [1, 254] after the clamp
  return underflow ? 0.0f : p * scale;
}

// f64 is the checking dtype: keep the libm result.
inline double fast_exp(double x) { return std::exp(x); }

}  // namespace xfmr::kernels
