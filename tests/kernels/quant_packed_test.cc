// The 8-row interleaved q4_0 layout (kernels/cpu/quant_packed.h) against the scalar reference
// (kernels/ref/quant.h): repacking loses nothing (dequantized values equal the original's element by element),
// the packed matrix-vector product equals ref::matvec_q8_activations up to f32 rounding, any split into
// 8-row-aligned ranges gives bit-identical rows, and bad shapes are refused. Odd block counts (3, 9, 25) and
// single-group matrices included.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "xfmr/core/check.h"
#include "xfmr/kernels/cpu/quant.h"
#include "xfmr/kernels/cpu/quant_packed.h"
#include "xfmr/kernels/ref/quant.h"

namespace xfmr::kern {
namespace {

using kernels::QType;

std::vector<uint8_t> random_q4(int64_t rows, int64_t cols, std::mt19937_64& g) {
  std::normal_distribution<float> n(0, 1);
  std::vector<float> w(static_cast<size_t>(rows * cols));
  for (auto& v : w) v = n(g);
  std::vector<uint8_t> p(static_cast<size_t>(rows * kernels::qtype_row_bytes(QType::q4_0, cols)));
  quantize_rows(QType::q4_0, w.data(), p.data(), rows, cols);
  return p;
}

const std::pair<int64_t, int64_t> kShapes[] = {{8, 32}, {16, 96}, {40, 288}, {24, 800}, {64, 2048}, {8, 64}};

TEST(QuantPacked, RepackKeepsEveryValue) {
  std::mt19937_64 g(11);
  for (auto [rows, cols] : kShapes) {
    const auto w = random_q4(rows, cols, g);
    std::vector<uint8_t> p(w.size());
    pack_q4_0x8(w.data(), rows, cols, p.data());
    std::vector<float> d(static_cast<size_t>(rows * cols));
    dequantize_rows_q4_0x8(p.data(), cols, 0, rows, d.data());
    const int64_t rb = kernels::qtype_row_bytes(QType::q4_0, cols);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c)
        ASSERT_EQ(d[r * cols + c], kernels::ref::dequantize_elem(QType::q4_0, w.data() + r * rb, c))
            << rows << "x" << cols << " at " << r << "," << c;
    // A range starting at a later group, ending mid-group.
    if (rows >= 16) {
      std::vector<float> part(static_cast<size_t>(5 * cols));
      dequantize_rows_q4_0x8(p.data(), cols, 8, 13, part.data());
      for (int64_t i = 0; i < 5 * cols; ++i) ASSERT_EQ(part[i], d[8 * cols + i]);
    }
  }
}

TEST(QuantPacked, MatvecMatchesReference) {
  if (!q4_0x8_available()) GTEST_SKIP() << "no AVX512-VNNI: the packed layout is not used";
  std::mt19937_64 g(12);
  std::normal_distribution<float> n(0, 1);
  for (auto [rows, cols] : kShapes) {
    const auto w = random_q4(rows, cols, g);
    std::vector<uint8_t> p(w.size());
    pack_q4_0x8(w.data(), rows, cols, p.data());
    std::vector<float> x(static_cast<size_t>(cols));
    for (auto& v : x) v = n(g);
    QuantizedActs xq;
    xq.reserve(cols);
    xq.set(x.data(), cols);
    std::vector<float> y(static_cast<size_t>(rows), -7.0f);
    std::vector<float> yref(static_cast<size_t>(rows));
    matvec_rows_q4_0x8(p.data(), cols, xq, y.data(), 0, rows);
    kernels::ref::matvec_q8_activations<double>(QType::q4_0, w.data(), x.data(), yref.data(), rows, cols);
    // Integer block dots are exact; the f32 scale products and the block sum round: (cols + 2) u Σ|w x_q|
    // bounds it (as in quant_test.cc's integer path).
    std::vector<float> xd(static_cast<size_t>(cols));
    kernels::ref::dequantize_row(QType::q8_0, xq.blocks(), xd.data(), cols);
    const int64_t rb = kernels::qtype_row_bytes(QType::q4_0, cols);
    for (int64_t r = 0; r < rows; ++r) {
      double mag = 0;
      for (int64_t c = 0; c < cols; ++c)
        mag += std::fabs(kernels::ref::dequantize_elem(QType::q4_0, w.data() + r * rb, c) * double(xd[c]));
      EXPECT_LE(std::fabs(double(y[r]) - yref[r]), (cols + 2) * std::ldexp(1.0, -24) * mag + 1e-30)
          << rows << "x" << cols << " row " << r;
    }
  }
}

TEST(QuantPacked, MatvecIsIndependentOfTheSplit) {
  std::mt19937_64 g(13);
  std::normal_distribution<float> n(0, 1);
  const int64_t rows = 72, cols = 288;
  const auto w = random_q4(rows, cols, g);
  std::vector<uint8_t> p(w.size());
  pack_q4_0x8(w.data(), rows, cols, p.data());
  std::vector<float> x(static_cast<size_t>(cols));
  for (auto& v : x) v = n(g);
  QuantizedActs xq;
  xq.reserve(cols);
  xq.set(x.data(), cols);
  std::vector<float> all(static_cast<size_t>(rows)), parts(static_cast<size_t>(rows), -7.0f);
  matvec_rows_q4_0x8(p.data(), cols, xq, all.data(), 0, rows);
  for (int64_t a = 0; a < rows;) {
    const int64_t b = std::min(rows, a + 8 * (1 + static_cast<int64_t>(g() % 3)));
    matvec_rows_q4_0x8(p.data(), cols, xq, parts.data(), a, b);
    a = b;
  }
  EXPECT_EQ(all, parts);
  // A range ending mid-group writes only its rows.
  std::vector<float> head(static_cast<size_t>(rows), -7.0f);
  matvec_rows_q4_0x8(p.data(), cols, xq, head.data(), 0, 13);
  for (int64_t r = 0; r < rows; ++r) EXPECT_EQ(head[r], r < 13 ? all[r] : -7.0f) << r;
}

TEST(QuantPacked, BadShapesAreRefused) {
  std::vector<uint8_t> w(static_cast<size_t>(12 * 18)), out(w.size());
  try {
    pack_q4_0x8(w.data(), 12, 32, out.data());
    FAIL() << "12 rows accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("pack_q4_0x8"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("[12, 32]"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace xfmr::kern
