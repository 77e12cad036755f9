// Inference weight kernels (kernels/cpu/quant.h) against the scalar reference (kernels/ref/quant.h), and the
// quantizers against their closed-form error bounds.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "support/generic_isa.h"
#include "xfmr/core/dtype.h"
#include "xfmr/core/parallel.h"
#include "xfmr/kernels/cpu/quant.h"
#include "xfmr/kernels/ref/quant.h"

namespace xfmr::kern {
namespace {

using kernels::BlockQ4_0;
using kernels::BlockQ8_0;
using kernels::QType;

// Rows with varied block scales: normal values times a per-block magnitude from 1e-6 to 1e3, some zero
// blocks, some blocks of one repeated value, and some with one outlier.
std::vector<float> test_rows(int64_t rows, int64_t cols, uint64_t seed) {
  std::mt19937_64 g(seed);
  std::normal_distribution<float> n(0, 1);
  std::vector<float> x(static_cast<size_t>(rows * cols));
  for (int64_t b = 0; b < rows * cols; b += 32) {
    const int kind = static_cast<int>(g() % 8);
    const float mag = std::pow(10.0f, static_cast<float>(static_cast<int>(g() % 10)) - 6);
    for (int64_t i = b; i < std::min(b + 32, rows * cols); ++i)
      x[i] = kind == 0 ? 0.0f : kind == 1 ? mag : n(g) * mag;
    if (kind == 2) x[b] = 50 * mag;
  }
  return x;
}

TEST(QuantKernels, Q8RoundTripWithinHalfAStep) {
  const int64_t n = 32 * 200;
  const auto x = test_rows(1, n, 1);
  std::vector<BlockQ8_0> q(n / 32);
  kernels::ref::quantize_row_q8_0(x.data(), q.data(), n);
  for (int64_t b = 0; b < n / 32; ++b) {
    float amax = 0;
    for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(x[b * 32 + i]));
    const float d = f16_to_f32(q[b].d);
    // The scale is the smallest f16 >= max|x| / 127.
    EXPECT_GE(d * 127.0f, amax) << b;
    EXPECT_TRUE(amax == 0 || f16_to_f32(static_cast<uint16_t>(q[b].d - 1)) < amax / 127.0f) << b;
    for (int i = 0; i < 32; ++i) {
      const float v = x[b * 32 + i], back = kernels::ref::dequantize_elem(QType::q8_0, q.data(), b * 32 + i);
      // |x - q d| <= d/2: q is the nearest code under the stored d. x * (1/d) is rounded twice (the
      // reciprocal and the product), which can move a value within a few ulps of a half step across it: allow
      // 1e-6 d.
      EXPECT_LE(std::fabs(v - back), d * (0.5f + 1e-6f)) << b << " " << i;
    }
  }
}

TEST(QuantKernels, Q4RoundTripWithinHalfAStep) {
  const int64_t n = 32 * 200;
  const auto x = test_rows(1, n, 2);
  std::vector<BlockQ4_0> q(n / 32);
  kernels::ref::quantize_row_q4_0(x.data(), q.data(), n);
  for (int64_t b = 0; b < n / 32; ++b) {
    float m = 0;
    for (int i = 0; i < 32; ++i)
      if (std::fabs(x[b * 32 + i]) > std::fabs(m)) m = x[b * 32 + i];
    const float d = f16_to_f32(q[b].d);
    EXPECT_GE(std::fabs(d) * 8.0f, std::fabs(m))
        << b;  // the smallest f16 magnitude >= |m| / 8, sign opposite m
    EXPECT_TRUE(m == 0 || (d < 0) == (m > 0)) << b;
    for (int i = 0; i < 32; ++i) {
      const float v = x[b * 32 + i], back = kernels::ref::dequantize_elem(QType::q4_0, q.data(), b * 32 + i);
      // Codes cover x/d in [-8, 7]: within a half step everywhere except x/d in (7.5, 8] (the opposite sign
      // of the extreme element), which is clamped to 7 and errs by at most one step.
      const float bound = d == 0 ? 0.0f : (v / d <= 7.5f ? 0.5f : 1.0f) * std::fabs(d) * (1 + 1e-6f);
      EXPECT_LE(std::fabs(v - back), bound) << b << " " << i << " x/d " << v / d;
    }
  }
  // Nibble order: element i < 16 in the low nibble of byte i, element 16 + i in its high nibble.
  std::vector<float> r(32);
  for (int i = 0; i < 32; ++i) r[i] = static_cast<float>(i % 16) - 8.0f;  // d = 1 exactly (the -8 entries)
  r[20] = 7.0f;
  BlockQ4_0 blk;
  kernels::ref::quantize_row_q4_0(r.data(), &blk, 32);
  EXPECT_EQ(f16_to_f32(blk.d), 1.0f);
  EXPECT_EQ(blk.qs[3] & 0xF, 3);  // element 3: -5 -> code 3
  EXPECT_EQ(blk.qs[4] >> 4, 15);  // element 20: 7 -> code 15
}

// With the CPU's own kernels and with the plain-loop fallbacks an AVX2-only machine runs (XFMR_ISA=generic).
class QuantIsa : public ::testing::TestWithParam<bool> {
 protected:
  test::GenericIsaScope isa_{GetParam()};
};

TEST_P(QuantIsa, MatvecMatchesReference) {
  if (GetParam()) {
    EXPECT_FALSE(matvec_quantizes_activations(QType::q4_0));
    EXPECT_FALSE(matvec_quantizes_activations(QType::q8_0));
  }
  set_num_threads(2);
  const QType types[] = {QType::f32, QType::f16, QType::q8_0, QType::q4_0};
  const std::pair<int64_t, int64_t> shapes[] = {{1, 32},    {7, 64},    {33, 96},
                                                {300, 288}, {512, 768}, {64, 2048}};
  const std::pair<int64_t, int64_t> float_only[] = {{5, 1}, {3, 17}, {64, 172}, {9, 31}};
  std::mt19937_64 g(3);
  std::normal_distribution<float> n(0, 1);
  for (QType t : types) {
    std::vector<std::pair<int64_t, int64_t>> all(std::begin(shapes), std::end(shapes));
    if (t == QType::f32 || t == QType::f16)
      all.insert(all.end(), std::begin(float_only), std::end(float_only));
    for (auto [rows, cols] : all) {
      const auto w = test_rows(rows, cols, g());
      std::vector<float> x(static_cast<size_t>(cols));
      for (auto& v : x) v = n(g);
      std::vector<uint8_t> packed(static_cast<size_t>(rows * kernels::qtype_row_bytes(t, cols)));
      quantize_rows(t, w.data(), packed.data(), rows, cols);
      std::vector<float> y(static_cast<size_t>(rows)), yref(static_cast<size_t>(rows));
      matvec(t, packed.data(), x.data(), y.data(), rows, cols);
      const bool int_path = matvec_quantizes_activations(t);
      if (int_path) {
        kernels::ref::matvec_q8_activations<double>(t, packed.data(), x.data(), yref.data(), rows, cols);
        // The integer block dots are exact; only the f32 scale products (two roundings per block) and the sum
        // over blocks round: (blocks + 3) u Σ_b |d_w d_x dot_b|, which the elementwise magnitude bounds
        // above.
        std::vector<float> xd(static_cast<size_t>(cols));
        std::vector<BlockQ8_0> xq(static_cast<size_t>(cols / 32));
        kernels::ref::quantize_row_q8_0(x.data(), xq.data(), cols);
        kernels::ref::dequantize_row(QType::q8_0, xq.data(), xd.data(), cols);
        x = xd;  // the magnitudes below use the quantized x
      } else {
        kernels::ref::matvec<double>(t, packed.data(), x.data(), yref.data(), rows, cols);
      }
      for (int64_t r = 0; r < rows; ++r) {
        // Any-order f32 summation errs by at most (n + 1) u Σ|w x| (Higham, Accuracy and Stability, §4.2),
        // plus one rounding of the reference's result.
        double mag = 0;
        for (int64_t c = 0; c < cols; ++c)
          mag += std::fabs(
              kernels::ref::dequantize_elem(t, packed.data() + r * kernels::qtype_row_bytes(t, cols), c) *
              double(x[c]));
        const double bound = (cols + 2) * std::ldexp(1.0, -24) * mag + 1e-30;
        EXPECT_LE(std::fabs(double(y[r]) - yref[r]), bound)
            << kernels::qtype_name(t) << " " << rows << "x" << cols << " row " << r;
      }
      // dequantize_row agrees with the reference element access.
      std::vector<float> row(static_cast<size_t>(cols));
      dequantize_row(t, packed.data(), rows - 1, row.data(), cols);
      for (int64_t c = 0; c < cols; ++c)
        EXPECT_EQ(row[c], kernels::ref::dequantize_elem(
                              t, packed.data() + (rows - 1) * kernels::qtype_row_bytes(t, cols), c));
    }
  }
  set_num_threads(0);
}

INSTANTIATE_TEST_SUITE_P(Isa, QuantIsa, ::testing::Bool(),
                         [](const auto& i) { return std::string(i.param ? "generic" : "native"); });

// The integer path's only approximation is x's own q8_0 rounding: |y_int - W x| <= Σ_b (d_x,b / 2) Σ_i |w_bi|
// plus f32 summation error.
TEST(QuantKernels, IntegerPathErrorIsXsRounding) {
  for (QType t : {QType::q8_0, QType::q4_0}) {
    if (!matvec_quantizes_activations(t)) GTEST_SKIP() << "no AVX512-VNNI: block weights use the float path";
    const int64_t rows = 64, cols = 288;
    const auto w = test_rows(rows, cols, 7);
    std::mt19937_64 g(8);
    std::normal_distribution<float> n(0, 1);
    std::vector<float> x(cols);
    for (auto& v : x) v = n(g);
    std::vector<uint8_t> packed(static_cast<size_t>(rows * kernels::qtype_row_bytes(t, cols)));
    quantize_rows(t, w.data(), packed.data(), rows, cols);
    std::vector<float> y(rows), yf(rows);
    matvec(t, packed.data(), x.data(), y.data(), rows, cols);
    kernels::ref::matvec<double>(t, packed.data(), x.data(), yf.data(), rows, cols);
    std::vector<BlockQ8_0> xq(cols / 32);
    kernels::ref::quantize_row_q8_0(x.data(), xq.data(), cols);
    for (int64_t r = 0; r < rows; ++r) {
      double bound = 0, mag = 0;
      for (int64_t c = 0; c < cols; ++c) {
        const double wv = std::fabs(
            kernels::ref::dequantize_elem(t, packed.data() + r * kernels::qtype_row_bytes(t, cols), c));
        bound += wv * f16_to_f32(xq[c / 32].d) / 2;
        mag += wv * (std::fabs(x[c]) + f16_to_f32(xq[c / 32].d));
      }
      EXPECT_LE(std::fabs(double(y[r]) - yf[r]), bound + (cols + 3) * std::ldexp(1.0, -24) * mag) << r;
    }
  }
}

// Non-finite inputs (a diverged model, corrupt weights) quantize without undefined float-to-int conversions
// (checked under the debug preset's UBSan): NaN codes become 0.
TEST(QuantKernels, NonFiniteInputsAreDefined) {
  std::vector<float> x(64, 1.0f);
  x[3] = NAN;
  x[40] = INFINITY;
  x[41] = -INFINITY;
  std::vector<BlockQ8_0> q8(2);
  std::vector<BlockQ4_0> q4(2);
  kernels::ref::quantize_row_q8_0(x.data(), q8.data(), 64);
  kernels::ref::quantize_row_q4_0(x.data(), q4.data(), 64);
  EXPECT_EQ(q8[0].q[3], 0);
  EXPECT_EQ(q8[0].q[0], 127);
  std::vector<float> y(1);
  matvec(QType::q8_0, q8.data(), x.data(), y.data(), 1, 64);  // quantizes the non-finite x too
}

TEST(QuantKernels, F16RowsRoundToNearest) {
  const auto x = test_rows(1, 256, 4);
  std::vector<uint16_t> h(256);
  quantize_rows(QType::f16, x.data(), h.data(), 1, 256);
  for (int i = 0; i < 256; ++i) {
    if (std::fabs(x[i]) < 6.2e-5f) continue;  // f16 subnormals: absolute, not relative, precision
    EXPECT_LE(std::fabs(f16_to_f32(h[i]) - x[i]), std::fabs(x[i]) * std::ldexp(1.0f, -11)) << i;
  }
}

}  // namespace
}  // namespace xfmr::kern
