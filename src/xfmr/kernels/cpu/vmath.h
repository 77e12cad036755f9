// Vectorisable float math for elementwise loops (internal).
//
// libm's expf/tanhf/erff are scalar calls, so a loop over them runs at ~3-20 ns per element. The float
// versions below are branch-free inline code (selects instead of branches, bit tricks instead of ldexp) that
// GCC vectorises inside the plain loops of kernels/cpu/loops.h. The double versions forward to libm: f64 is
// for gradient checks, where exactness matters more than speed.
//
// Accuracy (f32, checked against libm in double by tests/ops/activation_test.cc):
//   exp   ~2 ulp, inf above ln(FLT_MAX), denormal results down to -103, then 0; NaN propagates;
//   tanh  ~3e-7 relative error (odd polynomial for |x| < 0.625, 1 - 2 / (exp(2|x|) + 1) beyond);
//   erf   absolute error <= ~2.5e-7 (series near 0; Abramowitz & Stegun 1964, formula 7.1.26 beyond);
//   normal_cdf_pdf  Phi(x) absolute error <= 1.8e-7, phi(x) relative error <= 3.5e-7 for |x| <= 4 (beyond,
//                   the rounding of x^2 / 2 dominates; absolute <= 4.3e-8); one exp for both, see there.
#pragma once
#include <bit>
#include <cmath>
#include <cstdint>

namespace xfmr::vmath {

// e^r for x = n ln2 + r with |r| <= ln2 / 2 (xc: x already clamped), n returned: Cody-Waite reduction and a
// degree-7 polynomial, shared by exp and exp_nonpos below.
inline float exp_reduced(float xc, float& n) {
  // n = round(x / ln2) by the add-magic trick (exact without -ffast-math, which we do not use).
  const float magic = 12582912.0f;  // 1.5 * 2^23
  n = (xc * 1.44269504088896341f + magic) - magic;
  // r = x - n ln2, with ln2 split in a high part exact in float and a low correction (Cody-Waite).
  const float r = (xc - n * 0.693359375f) + n * 2.12194440e-4f;
  // Minimax coefficients for (e^r - 1 - r) / r^2 on [-ln2/2, ln2/2] (as in the Cephes expf).
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  return p * r * r + r + 1.0f;
}

// e^x: x = n ln2 + r with |r| <= ln2 / 2, e^r by a degree-7 polynomial, 2^n by building the exponent bits.
inline float exp(float x) {
  const float xc = x < -103.0f ? -103.0f : (x > 88.72283f ? 88.72283f : x);
  float n;
  const float er = exp_reduced(xc, n);
  // 2^n as two normal powers of two, so n in [-149, 128] works (denormal results come out of the last
  // product).
  const int32_t ni = static_cast<int32_t>(n);
  const int32_t n1 = ni >> 1, n2 = ni - n1;
  const float s1 = std::bit_cast<float>(static_cast<int32_t>((n1 + 127) << 23));
  const float s2 = std::bit_cast<float>(static_cast<int32_t>((n2 + 127) << 23));
  float y = er * s1 * s2;
  y = x > 88.72283905f ? INFINITY : y;
  y = x < -103.0f ? 0.0f : y;
  return x != x ? x : y;
}
inline double exp(double x) {
  return std::exp(x);
}

// e^x for x in [-87, 88], which the caller guarantees (by clamping): the reduction and polynomial of exp with
// one power of two (n in [-126, 127] is a normal float), without exp's overflow, denormal and NaN selects.
inline float exp_in_range(float x) {
  float n;
  const float er = exp_reduced(x, n);
  const float s = std::bit_cast<float>(static_cast<int32_t>((static_cast<int32_t>(n) + 127) << 23));
  return er * s;
}

// e^x for x <= 0 only (Gaussian factors such as e^{-x^2/2}): vmath::exp without the overflow and denormal
// paths. Results below FLT_MIN (x < -87) are flushed to 0 (absolute error < 1.2e-38); NaN propagates. Same
// reduction and polynomial as exp above, so the same ~2 ulp.
inline float exp_nonpos(float x) {
  const float y = exp_in_range(x < -87.0f ? -87.0f : x);
  return x < -87.0f ? 0.0f : y;
}

// ln x for a positive normal float x (callers guarantee it: 0, denormals, inf and NaN are not handled), within
// ~2 ulp of the rounded value; plain arithmetic, so a loop of it vectorises. x = 2^e m with m in [√½, √2), and
// ln m = 2 atanh(u) = 2 (u + u³/3 + u⁵/5 + ...), u = (m - 1) / (m + 1), |u| <= 0.1716: the terms through u¹¹
// leave a truncation error below 2e-10 relative.
inline float log_positive(float x) {
  const int32_t bits = std::bit_cast<int32_t>(x);
  const int32_t e = (bits - 0x3f3504f3) >> 23;  // 0x3f3504f3 = √½: m = x / 2^e lands in [√½, √2)
  const float m = std::bit_cast<float>(bits - (e << 23));
  const float u = (m - 1.0f) / (m + 1.0f), u2 = u * u;
  float p = 1.0f / 11.0f;
  p = p * u2 + 1.0f / 9.0f;
  p = p * u2 + 1.0f / 7.0f;
  p = p * u2 + 1.0f / 5.0f;
  p = p * u2 + 1.0f / 3.0f;
  const float ef = static_cast<float>(e);
  // e ln2 with ln2 split as in exp_reduced: the high part has 9 significant bits, so e times it is exact.
  return ef * 0.693359375f + (2.0f * u + (2.0f * u * u2 * p + ef * -2.12194440e-4f));
}

inline float tanh(float x) {
  const float ax = x < 0 ? -x : x;
  // Small |x|: odd minimax polynomial (Cephes tanhf coefficients), full relative accuracy near 0.
  const float z = x * x;
  float p = -5.70498872745e-3f;
  p = p * z + 2.06390887954e-2f;
  p = p * z - 5.37397155531e-2f;
  p = p * z + 1.33314422036e-1f;
  p = p * z - 3.33332819422e-1f;
  const float small = p * z * x + x;
  // Larger |x|: 1 - 2 / (e^{2|x|} + 1), which saturates cleanly to 1 (e^{2|x|} = inf gives exactly 1).
  const float big = 1.0f - 2.0f / (vmath::exp(2.0f * ax) + 1.0f);
  const float signed_big = x < 0 ? -big : big;
  const float y = ax < 0.625f ? small : signed_big;
  return x != x ? x : y;
}
inline double tanh(double x) {
  return std::tanh(x);
}

// GPT-2's tanh approximation of GELU ("gelu_new", Hendrycks & Gimpel 2016, section 2),
// y = 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3), and its slope dy/dx. Computed in the equal form
// y = x σ(t), t = 2u, σ(t) = 1 / (1 + e^{-t}), with dy/dx = σ + x σ (1 - σ) t' and 1 - σ = e^{-t} σ: one exp
// and one division for both values, and no small-|x| branch (1 + tanh(u) = 2σ(t) needs no cancellation; for
// x -> -inf this form keeps the relative accuracy that 1 + tanh(u) -> 0 loses). Beyond |t| = 87 the result
// is saturated exactly: e^{-t} = 0 (σ = 1, y = x, slope 1) for t >= 87 and σ = 0 (y = -0, slope 0) for
// t <= -88, so the tails are the limits and not x times a tiny rounding; x^2 is capped at 1e4 in t and t'
// (|x| > 100 is saturated anyway), so a huge finite x does not make inf * 0. NaN propagates. The value agrees
// with the tanh form to ~2 ulp (tests/ops/activation_test.cc); f64 uses the tanh form through libm.
inline void gelu_tanh_value_slope(float x, float& y, float& dy) {
  constexpr float c1 = 2.0f * 0.7978845608028654f, c3 = 2.0f * 0.7978845608028654f * 0.044715f;
  const float x2 = x * x;
  const float x2c = x2 < 1e4f ? x2 : 1e4f;
  const float t = x * (c1 + c3 * x2c);
  const float a = -t < -87.0f ? -87.0f : (-t > 88.0f ? 88.0f : -t);
  const float e = a <= -87.0f ? 0.0f : exp_in_range(a);
  const float sg = a >= 88.0f ? 0.0f : 1.0f / (1.0f + e);
  y = x * sg;
  const float dt = c1 + 3.0f * c3 * x2c;
  dy = sg + (y * e) * (sg * dt);
}
inline void gelu_tanh_value_slope(double x, double& y, double& dy) {
  const double inner = 0.7978845608028654 * (x + 0.044715 * x * x * x);
  const double t = std::tanh(inner);
  const double dinner = 0.7978845608028654 * (1.0 + 3 * 0.044715 * x * x);
  y = 0.5 * x * (1.0 + t);
  dy = 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * dinner;
}
// The value alone, the same arithmetic (the slope is dead code and dropped).
template <class T>
inline T gelu_tanh(T x) {
  T y, dy;
  gelu_tanh_value_slope(x, y, dy);
  return y;
}

// erf: for |x| < 0.9 its Maclaurin series 2/sqrt(pi) sum_n (-1)^n x^(2n+1) / (n! (2n+1)) up to n = 9 (the
// alternating tail is below 2e-9 there); beyond, A&S 7.1.26: 1 - t (a1 + t (a2 + ...)) e^{-x^2}, t = 1 / (1 +
// p|x|), whose 1 - (...) would cancel badly near 0. Odd extension for x < 0.
inline float erf(float x) {
  const float ax = x < 0 ? -x : x;
  const float z = x * x;
  float s = -1.0f / 3265920.0f;  // n = 9: 1 / (9! * 19), then down to n = 0
  s = s * z + 1.0f / 685440.0f;
  s = s * z - 1.0f / 75600.0f;
  s = s * z + 1.0f / 9360.0f;
  s = s * z - 1.0f / 1320.0f;
  s = s * z + 1.0f / 216.0f;
  s = s * z - 1.0f / 42.0f;
  s = s * z + 1.0f / 10.0f;
  s = s * z - 1.0f / 3.0f;
  s = s * z + 1.0f;
  const float series = 1.12837916709551257f * s * x;
  const float t = 1.0f / (1.0f + 0.3275911f * ax);
  float q = 1.061405429f;
  q = q * t - 1.453152027f;
  q = q * t + 1.421413741f;
  q = q * t - 0.284496736f;
  q = q * t + 0.254829592f;
  const float tail = 1.0f - q * t * vmath::exp(-z);
  const float y = ax < 0.9f ? series : (x < 0 ? -tail : tail);
  return x != x ? x : y;
}
inline double erf(double x) {
  return std::erf(x);
}

// The standard normal CDF Phi(x) and density phi(x) = e^{-x^2/2} / sqrt(2 pi), sharing one exp (GELU and its
// derivative x Phi + ... need both). Phi(-|x|) = erfc(z) / 2 with z = |x| / sqrt(2), and erfc(z) = t P(t)
// e^{-z^2}, t = 1 / (1 + p z): the form of Abramowitz & Stegun 1964, formula 7.1.26, with a degree-6 P(t)
// instead of 4 (coefficients fitted here for p = 0.47, minimax over z >= 0: 5e-9 absolute error before
// rounding), so the error is float rounding only. Phi(|x|) = 1 - Phi(-|x|) has no cancellation (Phi >= 1/2).
// No branch between |x| ranges, so the loop calling it vectorises; NaN propagates; Phi(+-inf) = 1, 0.
inline void normal_cdf_pdf(float x, float& cdf, float& pdf) {
  const float e = exp_nonpos(-0.5f * x * x);
  const float t = 1.0f / (1.0f + 0.33234018715f * std::fabs(x));  // p / sqrt(2) = 0.47 / sqrt(2)
  // The fitted P(t) / 2 (the 1/2 of Phi = erfc / 2 folded in), from the t^6 coefficient down.
  float q = 0.5f * 0.08548055589199066f;
  q = q * t + 0.5f * -0.4060095250606537f;
  q = q * t + 0.5f * 0.5783151388168335f;
  q = q * t + 0.5f * -0.09463140368461609f;
  q = q * t + 0.5f * 0.3172733783721924f;
  q = q * t + 0.5f * 0.25405919551849365f;
  q = q * t + 0.5f * 0.2655126452445984f;
  const float lower = q * t * e;  // Phi(-|x|)
  cdf = x < 0 ? lower : 1.0f - lower;
  pdf = 0.3989422804014327f * e;
}
inline void normal_cdf_pdf(double x, double& cdf, double& pdf) {
  cdf = 0.5 * (1.0 + std::erf(x * 0.7071067811865476));
  pdf = 0.3989422804014327 * std::exp(-0.5 * x * x);
}

}  // namespace xfmr::vmath
