// kernels/cpu/adam (std::experimental::simd) against the scalar reference kernels/ref/adam.h: several steps
// on lengths that exercise the vector body and every tail length, at unaligned addresses, in f32 and f64.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "xfmr/core/rng.h"
#include "xfmr/kernels/cpu/adam.h"
#include "xfmr/kernels/ref/adam.h"

using namespace xfmr;

namespace {

template <class T>
std::vector<T> random_vec(int64_t n, Generator& g, double scale = 1.0) {
  std::vector<T> v(static_cast<size_t>(n));
  for (auto& x : v) x = static_cast<T>(scale * g.next_normal());
  return v;
}

template <class T>
double max_rel(const std::vector<T>& a, const std::vector<T>& b) {
  double num = 0, den = 1e-300;
  for (size_t i = 0; i < a.size(); ++i) {
    num = std::max(num, std::fabs(static_cast<double>(a[i]) - static_cast<double>(b[i])));
    den = std::max(den, std::fabs(static_cast<double>(b[i])));
  }
  return num / den;
}

template <class T>
void compare_kernels(double tol) {
  Generator gen(17);
  for (int64_t n : {0, 1, 3, 7, 8, 15, 16, 17, 31, 33, 1000, 4099}) {
    for (int64_t misalign : {0, 1}) {
      SCOPED_TRACE("n = " + std::to_string(n) + ", misalign = " + std::to_string(misalign));
      const int64_t len = n + misalign;
      std::vector<T> p = random_vec<T>(len, gen), m(len, T(0)), v(len, T(0));
      std::vector<T> pr = p, mr = m, vr = v;
      for (int t = 1; t <= 4; ++t) {
        const std::vector<T> g = random_vec<T>(len, gen, 0.5);
        kernels::AdamCoeffs c;
        c.beta1 = 0.9;
        c.beta2 = 0.95;
        c.eps = 1e-8;
        c.step_size = 1e-2 / (1 - std::pow(0.9, t));
        c.bc2_sqrt = std::sqrt(1 - std::pow(0.95, t));
        c.shrink = t % 2 ? 1 - 1e-3 : 1.0;  // alternate AdamW-style and Adam-style coefficients
        c.l2 = t % 2 ? 0.0 : 0.1;
        kernels::cpu::adam_update(p.data() + misalign, g.data() + misalign, m.data() + misalign,
                                  v.data() + misalign, n, c);
        kernels::ref::adam_update(pr.data() + misalign, g.data() + misalign, mr.data() + misalign,
                                  vr.data() + misalign, n, c);
      }
      EXPECT_LE(max_rel(p, pr), tol);
      EXPECT_LE(max_rel(m, mr), tol);
      EXPECT_LE(max_rel(v, vr), tol);
    }
  }
}

}  // namespace

// Same operations in the same order; GCC contracts a*b + c into an FMA (-ffp-contract=fast, its C++ default)
// in the scalar loop but not in the simd one, so m and v may differ by an ulp per step. Tolerances: a few
// ulps.
TEST(AdamKernel, CpuMatchesRefF32) {
  compare_kernels<float>(1e-6);
}
TEST(AdamKernel, CpuMatchesRefF64) {
  compare_kernels<double>(1e-14);
}
