// The 8-row interleaved q4_0 / q8_0 layouts (kernels/cpu/quant_packed.h) against the scalar reference
// (kernels/ref/quant.h): repacking loses nothing (dequantized values equal the original's element by element),
// the packed matrix-vector product equals ref::matvec_q8_activations up to f32 rounding, the prefill product
// equals the matrix-vector product bit for bit for every token count (full and partial token tiles), any split
// into 8-row-aligned ranges gives bit-identical rows, and bad shapes and types are refused. Odd block counts
// (3, 9, 25) and single-group matrices included.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "support/generic_isa.h"
#include "support/quant_data.h"
#include "xfmr/core/check.h"
#include "xfmr/kernels/cpu/quant.h"
#include "xfmr/kernels/cpu/quant_packed.h"
#include "xfmr/kernels/ref/quant.h"

namespace xfmr::kern {
namespace {

using kernels::QType;


std::vector<uint8_t> packed_copy(QType t, const std::vector<uint8_t>& w, int64_t rows, int64_t cols) {
  std::vector<uint8_t> p(w.size());
  pack_x8(t, w.data(), rows, cols, p.data());
  return p;
}

QuantizedActs quantized(const float* x, int64_t cols) {
  QuantizedActs q;
  q.reserve(cols);
  q.set(x, cols);
  return q;
}

const std::pair<int64_t, int64_t> kShapes[] = {{8, 32}, {16, 96}, {40, 288}, {24, 800}, {64, 2048}, {8, 64}};

// Each test runs twice: with the CPU's own kernels (AVX-512 where it has them) and with the plain-loop
// fallbacks an AVX2-only machine runs (kernels/cpu/cpu_features.h).
class Packed : public ::testing::TestWithParam<std::tuple<QType, bool>> {
 protected:
  test::GenericIsaScope isa_{std::get<1>(GetParam())};
  QType type() const { return std::get<0>(GetParam()); }
};

TEST_P(Packed, RepackKeepsEveryValue) {
  const QType t = type();
  std::mt19937_64 g(11);
  for (auto [rows, cols] : kShapes) {
    const auto w = test::random_quantized_rows(t, rows, cols, g);
    const auto p = packed_copy(t, w, rows, cols);
    std::vector<float> d(static_cast<size_t>(rows * cols));
    dequantize_rows_x8(t, p.data(), cols, 0, rows, d.data());
    const int64_t rb = kernels::qtype_row_bytes(t, cols);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c)
        ASSERT_EQ(d[r * cols + c], kernels::ref::dequantize_elem(t, w.data() + r * rb, c))
            << rows << "x" << cols << " at " << r << "," << c;
    if (rows >= 16) {  // a range starting at a later group, ending mid-group
      std::vector<float> part(static_cast<size_t>(5 * cols));
      dequantize_rows_x8(t, p.data(), cols, 8, 13, part.data());
      for (int64_t i = 0; i < 5 * cols; ++i) ASSERT_EQ(part[i], d[8 * cols + i]);
      dequantize_rows_x8(t, p.data(), cols, 13, 14, part.data());  // one row inside a group (embedding lookups)
      for (int64_t i = 0; i < cols; ++i) ASSERT_EQ(part[i], d[13 * cols + i]);
    }
  }
}

TEST_P(Packed, MatvecMatchesReference) {
  const QType t = type();
  std::mt19937_64 g(12);
  std::normal_distribution<float> n(0, 1);
  for (auto [rows, cols] : kShapes) {
    const auto w = test::random_quantized_rows(t, rows, cols, g);
    const auto p = packed_copy(t, w, rows, cols);
    std::vector<float> x(static_cast<size_t>(cols));
    for (auto& v : x) v = n(g);
    const QuantizedActs xq = quantized(x.data(), cols);
    std::vector<float> y(static_cast<size_t>(rows), -7.0f), yref(static_cast<size_t>(rows));
    matvec_rows_x8(t, p.data(), cols, xq, y.data(), 0, rows);
    kernels::ref::matvec_q8_activations<double>(t, w.data(), x.data(), yref.data(), rows, cols);
    // Integer block dots are exact; the f32 scale products and the sum over blocks round: (cols + 2) u Σ|w x_q|
    // bounds it (as for quant_test.cc's integer path).
    std::vector<float> xd(static_cast<size_t>(cols));
    kernels::ref::dequantize_row(QType::q8_0, xq.blocks(), xd.data(), cols);
    const int64_t rb = kernels::qtype_row_bytes(t, cols);
    for (int64_t r = 0; r < rows; ++r) {
      double mag = 0;
      for (int64_t c = 0; c < cols; ++c)
        mag += std::fabs(kernels::ref::dequantize_elem(t, w.data() + r * rb, c) * double(xd[c]));
      EXPECT_LE(std::fabs(double(y[r]) - yref[r]), (cols + 2) * std::ldexp(1.0, -24) * mag + 1e-30)
          << kernels::qtype_name(t) << " " << rows << "x" << cols << " row " << r;
    }
  }
}

TEST_P(Packed, MatmulEqualsMatvecForEveryToken) {
  const QType t = type();
  std::mt19937_64 g(14);
  std::normal_distribution<float> nd(0, 1);
  const int64_t rows = 40, cols = 288, ldy = rows + 3;
  const auto w = test::random_quantized_rows(t, rows, cols, g);
  const auto p = packed_copy(t, w, rows, cols);
  for (int64_t n : {1, 3, 8, 13, 64}) {
    std::vector<QuantizedActs> xq;
    std::vector<float> x(static_cast<size_t>(cols));
    for (int64_t i = 0; i < n; ++i) {
      for (auto& v : x) v = nd(g);
      xq.push_back(quantized(x.data(), cols));
    }
    const int64_t r0 = 8, r1 = 37;  // a later group start, a partial last group; other rows stay untouched
    std::vector<float> y(static_cast<size_t>(n * ldy), -7.0f);
    matmul_rows_x8(t, p.data(), cols, xq.data(), n, y.data(), ldy, r0, r1);
    for (int64_t i = 0; i < n; ++i) {
      std::vector<float> want(static_cast<size_t>(rows));
      matvec_rows_x8(t, p.data(), cols, xq[static_cast<size_t>(i)], want.data(), 0, rows);
      for (int64_t r = 0; r < ldy; ++r)
        ASSERT_EQ(y[i * ldy + r], r >= r0 && r < r1 ? want[r] : -7.0f)
            << kernels::qtype_name(t) << " n " << n << " token " << i << " row " << r;
    }
  }
}

TEST_P(Packed, MatvecIsIndependentOfTheSplit) {
  const QType t = type();
  std::mt19937_64 g(13);
  std::normal_distribution<float> n(0, 1);
  const int64_t rows = 72, cols = 288;
  const auto w = test::random_quantized_rows(t, rows, cols, g);
  const auto p = packed_copy(t, w, rows, cols);
  std::vector<float> x(static_cast<size_t>(cols));
  for (auto& v : x) v = n(g);
  const QuantizedActs xq = quantized(x.data(), cols);
  std::vector<float> all(static_cast<size_t>(rows)), parts(static_cast<size_t>(rows), -7.0f);
  matvec_rows_x8(t, p.data(), cols, xq, all.data(), 0, rows);
  for (int64_t a = 0; a < rows;) {
    const int64_t b = std::min(rows, a + 8 * (1 + static_cast<int64_t>(g() % 3)));
    matvec_rows_x8(t, p.data(), cols, xq, parts.data(), a, b);
    a = b;
  }
  EXPECT_EQ(all, parts);
  std::vector<float> head(static_cast<size_t>(rows), -7.0f);  // a range ending mid-group writes only its rows
  matvec_rows_x8(t, p.data(), cols, xq, head.data(), 0, 13);
  for (int64_t r = 0; r < rows; ++r) EXPECT_EQ(head[r], r < 13 ? all[r] : -7.0f) << r;
}

INSTANTIATE_TEST_SUITE_P(Types, Packed,
                         ::testing::Combine(::testing::Values(QType::q4_0, QType::q8_0), ::testing::Bool()),
                         [](const auto& i) {
                           return std::string(kernels::qtype_name(std::get<0>(i.param))) +
                                  (std::get<1>(i.param) ? "_generic" : "_native");
                         });

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

// QuantizedActs::set (vectorised where AVX-512 is) gives ref::quantize_row_q8_0's codes and scales bit for
// bit: random blocks, exact halves (ties go to even), NaN (code 0, ignored by the scale), zeros.
TEST(PackedX8, QuantizedActsEqualTheReferenceQuantization) {
  std::mt19937_64 g(15);
  std::normal_distribution<float> n(0, 3);
  const int64_t cols = 32 * 7;
  std::vector<float> x(static_cast<size_t>(cols));
  for (auto& v : x) v = n(g);
  // Block 1: max 127 so d = 1 and x / d = x: halves round to even.
  const float ties[] = {127.0f, 0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 126.5f, -126.5f, 3.49f, -127.0f};
  for (size_t i = 0; i < std::size(ties); ++i) x[32 + i] = ties[i];
  x[64 + 5] = NAN;                                    // block 2: a NaN among normal values
  std::fill(x.begin() + 96, x.begin() + 128, 0.0f);  // block 3: all zero
  const QuantizedActs q = quantized(x.data(), cols);
  std::vector<kernels::BlockQ8_0> want(static_cast<size_t>(cols / 32));
  kernels::ref::quantize_row_q8_0(x.data(), want.data(), cols);
  for (int64_t b = 0; b < cols / 32; ++b) {
    EXPECT_EQ(q.blocks()[b].d, want[static_cast<size_t>(b)].d) << "block " << b;
    for (int i = 0; i < 32; ++i) {
      EXPECT_EQ(q.blocks()[b].q[i], want[static_cast<size_t>(b)].q[i]) << "block " << b << " code " << i;
      EXPECT_EQ(q.codes()[b * 32 + i], want[static_cast<size_t>(b)].q[i]);
    }
  }
  EXPECT_EQ(q.blocks()[1].q[2], 2);   // 1.5 -> 2
  EXPECT_EQ(q.blocks()[1].q[3], 2);   // 2.5 -> 2
  EXPECT_EQ(q.blocks()[2].q[5], 0);   // NaN -> 0
}

TEST(PackedX8, BadShapesAndTypesAreRefused) {
  std::vector<uint8_t> w(static_cast<size_t>(12 * 34)), out(w.size());
  const std::string rows = error_of([&] { pack_x8(QType::q4_0, w.data(), 12, 32, out.data()); });
  EXPECT_NE(rows.find("pack_x8"), std::string::npos) << rows;
  EXPECT_NE(rows.find("[12, 32]"), std::string::npos) << rows;
  const std::string type = error_of([&] { pack_x8(QType::f16, w.data(), 8, 32, out.data()); });
  EXPECT_NE(type.find("pack_x8"), std::string::npos) << type;
  EXPECT_NE(type.find("f16"), std::string::npos) << type;
  QuantizedActs xq;
  xq.reserve(32);
  float y[8];
  const std::string start = error_of([&] { matvec_rows_x8(QType::q4_0, out.data(), 32, xq, y, 3, 8); });
  EXPECT_NE(start.find("matvec_rows_x8"), std::string::npos) << start;
}

}  // namespace
}  // namespace xfmr::kern
