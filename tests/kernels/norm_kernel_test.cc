// kernels/cpu/norm.h (lane-wise row statistics in T) against the scalar double-accumulating reference
// kernels/ref/norm.h: forward y / mean / rstd and backward dx / dw / db partial sums, LayerNorm and RMSNorm,
// row lengths that exercise the 16-lane body and every tail, inputs with a large common offset (the case where
// a one-pass variance would cancel), in f32 and f64.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
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

}  // namespace

// f32: float lane sums vs double sums; errors are a few float ulps of the row scale.
TEST(NormKernels, CpuMatchesReferenceF32) { compare_norm_kernels<float>(2e-6); }
TEST(NormKernels, CpuMatchesReferenceF64) { compare_norm_kernels<double>(1e-13); }
