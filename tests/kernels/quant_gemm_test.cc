// The prefill product (kernels/cpu/quant_gemm.h) and the row-range matvec (matvec_rows) against the scalar
// reference (kernels/ref/quant.h): every weight type, shapes with row tails and tile remainders, row ranges
// that start and end anywhere.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "support/quant_data.h"
#include "xfmr/kernels/cpu/quant.h"
#include "xfmr/kernels/cpu/quant_gemm.h"
#include "xfmr/kernels/ref/quant.h"

namespace xfmr::kern {
namespace {

using kernels::QType;


// (cols + 2) u Σ|w x|: any-order f32 summation error (Higham, Accuracy and Stability, §4.2) plus a rounding.
double bound(QType t, const uint8_t* row, const float* x, int64_t cols) {
  double mag = 0;
  for (int64_t c = 0; c < cols; ++c) mag += std::fabs(kernels::ref::dequantize_elem(t, row, c) * double(x[c]));
  return (cols + 2) * std::ldexp(1.0, -24) * mag + 1e-30;
}

TEST(QuantGemm, MatmulRowsMatchesReference) {
  std::mt19937_64 g(5);
  std::normal_distribution<float> n(0, 1);
  for (QType t : {QType::f32, QType::f16, QType::q8_0, QType::q4_0})
    for (auto [rows, cols, tokens] : {std::tuple<int64_t, int64_t, int64_t>{1, 32, 1}, {70, 64, 3},
                                      {150, 96, 17}, {33, 288, 64}}) {
      const auto w = test::random_quantized_rows(t, rows, cols, g);
      std::vector<float> x(static_cast<size_t>(tokens * cols));
      for (auto& v : x) v = n(g);
      const int64_t ldy = rows + 5;  // outputs with a row stride wider than the rows
      std::vector<float> y(static_cast<size_t>(tokens * ldy), -7.0f), scratch(kGemmTileRows * cols);
      const int64_t r0 = rows / 5, r1 = rows - rows / 7;  // a sub-range: the rest must stay untouched
      matmul_rows(t, w.data(), cols, x.data(), tokens, y.data(), ldy, r0, r1, scratch.data());
      const int64_t rb = kernels::qtype_row_bytes(t, cols);
      for (int64_t i = 0; i < tokens; ++i) {
        std::vector<float> want(static_cast<size_t>(rows));
        kernels::ref::matvec<double>(t, w.data(), x.data() + i * cols, want.data(), rows, cols);
        for (int64_t r = 0; r < ldy; ++r) {
          const float got = y[i * ldy + r];
          if (r < r0 || r >= r1) {
            EXPECT_EQ(got, -7.0f) << "row " << r << " outside the range was written";
            continue;
          }
          EXPECT_LE(std::fabs(double(got) - want[r]), bound(t, w.data() + r * rb, x.data() + i * cols, cols))
              << kernels::qtype_name(t) << " " << rows << "x" << cols << " token " << i << " row " << r;
        }
      }
      // dequantize_rows equals the reference element access.
      std::vector<float> d(static_cast<size_t>(2 * cols));
      dequantize_rows(t, w.data(), cols, rows - 1, rows, d.data());
      for (int64_t c = 0; c < cols; ++c)
        EXPECT_EQ(d[c], kernels::ref::dequantize_elem(t, w.data() + (rows - 1) * rb, c));
    }
}

// matvec_rows over any split of the rows gives bit-identical values to one call over all rows (what makes
// decoding independent of the thread count).
TEST(QuantGemm, MatvecRowsIsIndependentOfTheSplit) {
  std::mt19937_64 g(6);
  std::normal_distribution<float> n(0, 1);
  for (QType t : {QType::f32, QType::f16, QType::q8_0, QType::q4_0}) {
    const int64_t rows = 77, cols = 96;
    const auto w = test::random_quantized_rows(t, rows, cols, g);
    std::vector<float> x(static_cast<size_t>(cols));
    for (auto& v : x) v = n(g);
    QuantizedActs xq;
    xq.reserve(cols);
    xq.set(x.data(), cols);
    std::vector<float> all(static_cast<size_t>(rows)), parts(static_cast<size_t>(rows));
    matvec_rows(t, w.data(), cols, x.data(), &xq, all.data(), 0, rows);
    for (int64_t a = 0; a < rows;) {
      const int64_t b = std::min(rows, a + 1 + static_cast<int64_t>(g() % 9));
      matvec_rows(t, w.data(), cols, x.data(), &xq, parts.data(), a, b);
      a = b;
    }
    EXPECT_EQ(all, parts) << kernels::qtype_name(t);
    // ... and equals matvec (the whole-matrix entry point).
    std::vector<float> mv(static_cast<size_t>(rows));
    matvec(t, w.data(), x.data(), mv.data(), rows, cols);
    EXPECT_EQ(all, mv) << kernels::qtype_name(t);
  }
}

// Quantizing an activation block by block (set_blocks, as decoding threads do) equals quantizing it at once.
TEST(QuantGemm, QuantizedActsBlockwiseEqualsWhole) {
  std::mt19937_64 g(7);
  std::normal_distribution<float> n(0, 1);
  const int64_t cols = 32 * 9;
  std::vector<float> x(static_cast<size_t>(cols));
  for (auto& v : x) v = n(g);
  QuantizedActs a, b;
  a.reserve(cols);
  b.reserve(cols);
  a.set(x.data(), cols);
  b.set_blocks(x.data(), 4, 9);
  b.set_blocks(x.data(), 0, 4);
  for (int64_t k = 0; k < 9; ++k) {
    EXPECT_EQ(a.scales()[k], b.scales()[k]);
    for (int i = 0; i < 32; ++i) EXPECT_EQ(a.blocks()[k].q[i], b.blocks()[k].q[i]);
    for (int j = 0; j < 8; ++j) EXPECT_EQ(a.lane_sums8()[8 * k + j], b.lane_sums8()[8 * k + j]);
  }
}

}  // namespace
}  // namespace xfmr::kern
