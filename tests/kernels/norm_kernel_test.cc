// kernels/cpu/norm.h (lane-wise row statistics in T) against the scalar double-accumulating reference
// kernels/ref/norm.h: forward y / mean / rstd and backward dx / dw / db partial sums, LayerNorm and RMSNorm,
// row lengths that exercise the 16-lane body and every tail, inputs with a large common offset (the case where
// a one-pass variance would cancel), in f32 and f64.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <type_traits>
#include <vector>

#include "xfmr/core/rng.h"
#include "xfmr/kernels/cpu/norm.h"
#include "xfmr/kernels/ref/norm.h"

using namespace xfmr;

namespace {

template <class T>
std::vector<T> random_vec(int64_t n, Generator& g, double scale = 1.0, double offset = 0.0) {
  std::vector<T> v(static_cast<size_t>(n));
  for (auto& x : v) x = static_cast<T>(offset + scale * g.next_normal());
  return v;
}

// max |a - b| / max(1, max |b|)
template <class T, class U>
double max_err(const std::vector<T>& a, const std::vector<U>& b) {
  double num = 0, den = 1;
  for (size_t i = 0; i < a.size(); ++i) {
    num = std::max(num, std::fabs(static_cast<double>(a[i]) - static_cast<double>(b[i])));
    den = std::max(den, std::fabs(static_cast<double>(b[i])));
  }
  return num / den;
}

template <class T>
void compare_norm_kernels(double tol) {
  Generator gen(23);
  for (int64_t C : {1, 2, 7, 15, 16, 17, 31, 64, 100, 257, 768}) {
    for (bool center : {true, false}) {
      for (double offset : {0.0, 30.0}) {
        SCOPED_TRACE("C = " + std::to_string(C) + (center ? " layer_norm" : " rms_norm") + " offset " +
                     std::to_string(offset));
        const int64_t rows = 5;
        const std::vector<T> x = random_vec<T>(rows * C, gen, 2.0, offset), w = random_vec<T>(C, gen),
                             b = random_vec<T>(C, gen), g = random_vec<T>(rows * C, gen);
        std::vector<T> y(x.size()), yr(x.size()), dx(x.size()), dxr(x.size());
        std::vector<T> mean(rows), rstd(rows), meanr(rows), rstdr(rows);
        std::vector<double> bw(C, 0.0), bb(C, 0.0), bwr(C, 0.0), bbr(C, 0.0);
        for (int64_t r = 0; r < rows; ++r) {
          const T* xr = x.data() + r * C;
          kernels::cpu::norm_row_forward(xr, w.data(), b.data(), y.data() + r * C, C, 1e-5, center, mean[r],
                                         rstd[r]);
          kernels::ref::norm_row_forward(xr, w.data(), b.data(), yr.data() + r * C, C, 1e-5, center, meanr[r],
                                         rstdr[r]);
          // Both backwards from the reference statistics, so only the kernels differ.
          kernels::cpu::norm_row_backward(xr, g.data() + r * C, w.data(), meanr[r], rstdr[r], C, center,
                                          dx.data() + r * C, bw.data(), bb.data());
          kernels::ref::norm_row_backward(xr, g.data() + r * C, w.data(), meanr[r], rstdr[r], C, center,
                                          dxr.data() + r * C, bwr.data(), bbr.data());
        }
        EXPECT_LT(max_err(y, yr), tol);
        EXPECT_LT(max_err(mean, meanr), tol);
        EXPECT_LT(max_err(rstd, rstdr), tol);
        EXPECT_LT(max_err(dx, dxr), tol);
        EXPECT_EQ(bw, bwr);  // same per-element products, same double accumulation
        EXPECT_EQ(bb, bbr);
        // Optional outputs: dx alone, dw alone.
        std::vector<T> dx2(x.size());
        std::vector<double> bw2(C, 0.0);
        for (int64_t r = 0; r < rows; ++r) {
          kernels::cpu::norm_row_backward(x.data() + r * C, g.data() + r * C, w.data(), meanr[r], rstdr[r], C,
                                          center, dx2.data() + r * C, nullptr, nullptr);
          kernels::cpu::norm_row_backward(x.data() + r * C, g.data() + r * C, w.data(), meanr[r], rstdr[r], C,
                                          center, static_cast<T*>(nullptr), bw2.data(), nullptr);
        }
        EXPECT_EQ(dx2, dx);
        EXPECT_EQ(bw2, bw);
      }
    }
  }
}

// The multi-row kernels (norm_rows_*: rows in groups, lane totals of 16 rows at once with AVX-512) against the
// row kernels they batch: row counts with whole groups and a remainder, C with and without the 16-lane tail,
// every optional backward output. f32 (the grouped path): bit for bit, which
// also keeps the results independent of how threads split the rows. f64 calls the row kernels row by row, but
// GCC's fma contraction may differ between two inlined copies of the same loop: to 1e-15.
template <class T>
void expect_same(const std::vector<T>& a, const std::vector<T>& b, const char* what) {
  if constexpr (std::is_same_v<T, float>) {
    EXPECT_EQ(a, b) << what;
  } else {
    EXPECT_LT(max_err(a, b), 1e-15) << what;
  }
}

template <class T>
void expect_rows_match_row_kernels(int64_t rows, int64_t C, bool center, double offset, Generator& gen) {
  SCOPED_TRACE("rows = " + std::to_string(rows) + " C = " + std::to_string(C) +
               (center ? " layer_norm" : " rms_norm") + " offset " + std::to_string(offset));
  const std::vector<T> x = random_vec<T>(rows * C, gen, 2.0, offset), w = random_vec<T>(C, gen),
                       b = random_vec<T>(C, gen), g = random_vec<T>(rows * C, gen);
  std::vector<T> y(x.size()), y1(x.size()), mean(rows), rstd(rows), mean1(rows), rstd1(rows);
  kernels::cpu::norm_rows_forward<T>(x.data(), w.data(), b.data(), y.data(), rows, C, 1e-5, center,
                                         mean.data(), rstd.data());
  for (int64_t r = 0; r < rows; ++r)
    kernels::cpu::norm_row_forward(x.data() + r * C, w.data(), b.data(), y1.data() + r * C, C, 1e-5, center,
                                   mean1[r], rstd1[r]);
  expect_same(y, y1, "y");
  expect_same(mean, mean1, "mean");
  expect_same(rstd, rstd1, "rstd");
  for (int outputs = 1; outputs < 8; ++outputs) {  // bit 0: dx, 1: bw, 2: bb
    std::vector<T> dx(x.size()), dx1(x.size());
    std::vector<double> bw(C, 0.5), bb(C, -0.25), bw1(bw), bb1(bb);  // nonzero: the sums accumulate into them
    T* pdx = outputs & 1 ? dx.data() : nullptr;
    T* pdx1 = outputs & 1 ? dx1.data() : nullptr;
    double* pbw = outputs & 2 ? bw.data() : nullptr;
    double* pbw1 = outputs & 2 ? bw1.data() : nullptr;
    double* pbb = outputs & 4 ? bb.data() : nullptr;
    double* pbb1 = outputs & 4 ? bb1.data() : nullptr;
    kernels::cpu::norm_rows_backward<T>(x.data(), g.data(), w.data(), mean.data(), rstd.data(), rows, C,
                                            center, pdx, pbw, pbb);
    for (int64_t r = 0; r < rows; ++r)
      kernels::cpu::norm_row_backward(x.data() + r * C, g.data() + r * C, w.data(), mean[r], rstd[r], C, center,
                                      pdx1 ? pdx1 + r * C : nullptr, pbw1, pbb1);
    SCOPED_TRACE("outputs " + std::to_string(outputs));
    expect_same(dx, dx1, "dx");
    if constexpr (std::is_same_v<T, float>) {
      EXPECT_EQ(bw, bw1);
      EXPECT_EQ(bb, bb1);
    } else {
      expect_same(bw, bw1, "bw");
      expect_same(bb, bb1, "bb");
    }
  }
}

template <class T>
void rows_match_row_kernels() {
  Generator gen(29);
  for (int64_t rows : {1, 15, 16, 37, 64}) {
    for (int64_t C : {1, 7, 16, 17, 48, 64, 100, 256}) {
      for (bool center : {true, false}) {
        for (double offset : {0.0, 30.0}) {
          expect_rows_match_row_kernels<T>(rows, C, center, offset, gen);
        }
      }
    }
  }
}

}  // namespace

TEST(NormKernels, RowsMatchRowKernelsF32) { rows_match_row_kernels<float>(); }
TEST(NormKernels, RowsMatchRowKernelsF64) { rows_match_row_kernels<double>(); }

// f32: float lane sums vs double sums; errors are a few float ulps of the row scale.
TEST(NormKernels, CpuMatchesReferenceF32) { compare_norm_kernels<float>(2e-6); }
TEST(NormKernels, CpuMatchesReferenceF64) { compare_norm_kernels<double>(1e-13); }
