// Finite-difference gradient checks (the first oracle of DESIGN.md): every op's backward is compared with
// central differences in f64.
//
//   auto x = test::random_input({3, 4});            // f64, requires grad
//   test::expect_gradcheck([&](auto& in) { return softmax(in[0], -1); }, {x});
//
// The scalar checked is L = sum(f(inputs) * R) with a fixed random R, so one backward pass gives all
// input gradients. Relative error = max|analytic - numeric| / max(1, max|numeric|) must be < tol (1e-6).
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "xfmr/core/autograd.h"
#include "xfmr/core/rng.h"
#include "xfmr/core/strided.h"
#include "xfmr/ops/view.h"

namespace xfmr::test {

using OpFn = std::function<Tensor(std::vector<Tensor>&)>;

// A leaf in f64 with N(0,1) entries (seeded), optionally pushed away from 0 by at least `min_abs` so kinks
// (relu, abs, max) are not straddled by the finite-difference step.
inline Tensor random_input(const Shape& shape, uint64_t seed = 1, double min_abs = 0.0, DType dt = DType::f64) {
  Generator g(seed);
  Tensor t = randn(shape, DType::f64, g);
  if (min_abs > 0) {
    double* p = t.data<double>();
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = (p[i] >= 0 ? 1 : -1) * (std::fabs(p[i]) + min_abs);
  }
  if (dt != DType::f64) t = t.converted(dt);
  t.set_requires_grad(true);
  return t;
}

// A non-contiguous leaf with the given logical shape: the transpose of a contiguous [.., b, a] tensor.
inline Tensor random_transposed_input(const Shape& shape, uint64_t seed = 1, double min_abs = 0.0) {
  XF_CHECK(shape.size() >= 2, "random_transposed_input needs rank >= 2");
  Shape s = shape;
  std::swap(s[s.size() - 1], s[s.size() - 2]);
  Tensor base = random_input(s, seed, min_abs);
  Tensor t = transpose(base.detach(), -1, -2);  // leaf view: no history, non-contiguous
  t.set_requires_grad(true);
  return t;
}

// max |a-b| / max(1, max |b|)
inline double rel_error(const std::vector<double>& a, const std::vector<double>& b) {
  double num = 0, den = 1;
  for (size_t i = 0; i < a.size(); ++i) {
    num = std::max(num, std::fabs(a[i] - b[i]));
    den = std::max(den, std::fabs(b[i]));
  }
  return num / den;
}

struct GradcheckResult {
  double max_rel_error = 0;
  std::string detail;
};

inline GradcheckResult gradcheck(const OpFn& f, std::vector<Tensor> inputs, double eps = 1e-6) {
  GradcheckResult res;
  // Analytic gradients.
  for (auto& t : inputs)
    if (t.requires_grad()) t.set_grad(Tensor());
  Tensor out = f(inputs);
  Generator g(12345);
  Tensor r = randn(out.shape(), out.dtype(), g);
  out.backward(r);
  const std::vector<double> rv = r.to_vector();
  auto loss = [&](std::vector<Tensor>& in) {
    NoGradGuard ng;
    const std::vector<double> o = f(in).to_vector();
    double s = 0;
    for (size_t i = 0; i < o.size(); ++i) s += o[i] * rv[i];
    return s;
  };
  for (size_t k = 0; k < inputs.size(); ++k) {
    Tensor& x = inputs[k];
    if (!x.requires_grad()) continue;
    std::vector<double> analytic = x.grad().defined() ? x.grad().to_vector() : std::vector<double>(x.numel(), 0.0);
    std::vector<double> numeric(static_cast<size_t>(x.numel()));
    // Perturb element i of x through a strided walk (x may be a non-contiguous view).
    std::vector<int64_t> offsets;
    for_each_offset<1>(x.shape(), {x.strides()}, {0}, [&](int64_t o) { offsets.push_back(o); });
    double* p = static_cast<double*>(x.raw_data());
    for (size_t i = 0; i < offsets.size(); ++i) {
      const double orig = p[offsets[i]];
      p[offsets[i]] = orig + eps;
      const double lp = loss(inputs);
      p[offsets[i]] = orig - eps;
      const double lm = loss(inputs);
      p[offsets[i]] = orig;
      numeric[i] = (lp - lm) / (2 * eps);
    }
    const double e = rel_error(analytic, numeric);
    if (e > res.max_rel_error) {
      res.max_rel_error = e;
      res.detail = "input " + std::to_string(k) + " of shape " + x.shape().str();
    }
  }
  return res;
}

inline void expect_gradcheck(const OpFn& f, std::vector<Tensor> inputs, double tol = 1e-6, double eps = 1e-6) {
  const GradcheckResult r = gradcheck(f, std::move(inputs), eps);
  EXPECT_LT(r.max_rel_error, tol) << "gradient mismatch at " << r.detail;
}

}  // namespace xfmr::test
