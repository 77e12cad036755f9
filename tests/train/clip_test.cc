// clip_grad_norm against torch.nn.utils.clip_grad_norm_ (tests/reference/torch_optim.py) and a closed form.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "support/errors.h"
#include "support/python_oracle.h"
#include "xfmr/core/check.h"
#include "xfmr/core/parallel.h"
#include "xfmr/core/rng.h"
#include "xfmr/train/clip.h"

using xfmr::test::error_of;

using namespace xfmr;
using nlohmann::json;

namespace {

// Leaves of the given shapes with N(0, scale^2) gradients; shapes with a 0 first extent get no gradient.
std::vector<Tensor> params_with_grads(const std::vector<Shape>& shapes, DType dt, double scale,
                                      uint64_t seed) {
  Generator g(seed);
  std::vector<Tensor> ps;
  for (const Shape& s : shapes) {
    Tensor p = Tensor::zeros(s, dt);
    p.set_requires_grad(true);
    if (s[0] != 0) {
      Tensor gr = randn(s, DType::f64, g);
      double* d = gr.data<double>();
      for (int64_t i = 0; i < gr.numel(); ++i) d[i] *= scale;
      p.set_grad(gr.converted(dt));
    }
    ps.push_back(p);
  }
  return ps;
}


}  // namespace

TEST(ClipGradNorm, ClosedForm) {
  Tensor a = Tensor::zeros({2});
  Tensor b = Tensor::zeros({1}, DType::f64);
  Tensor c = Tensor::zeros({3});  // no grad: ignored
  for (Tensor* t : {&a, &b, &c}) t->set_requires_grad(true);
  a.set_grad(Tensor::from_vector(std::vector<double>{3.0, 0.0}, {2}));
  b.set_grad(Tensor::from_vector(std::vector<double>{4.0}, {1}, DType::f64));
  const std::vector<Tensor> ps = {a, b, c};
  EXPECT_DOUBLE_EQ(grad_norm(ps), 5.0);
  // max_norm above the norm: untouched (coef = 10 / (5 + 1e-6) >= 1).
  EXPECT_DOUBLE_EQ(clip_grad_norm(ps, 10.0), 5.0);
  EXPECT_EQ(a.grad().to_vector()[0], 3.0f);
  // Clip to 1: every grad scaled by 1 / (5 + 1e-6).
  EXPECT_DOUBLE_EQ(clip_grad_norm(ps, 1.0), 5.0);
  const double coef = 1.0 / (5.0 + 1e-6);
  EXPECT_NEAR(a.grad().to_vector()[0], 3.0 * coef, 1e-7);
  EXPECT_NEAR(b.grad().to_vector()[0], 4.0 * coef, 1e-15);
  EXPECT_NEAR(grad_norm(ps), 1.0, 1e-6);
  EXPECT_FALSE(c.grad().defined());
  EXPECT_EQ(grad_norm({c}), 0.0);
}

TEST(ClipGradNorm, NonFiniteLeavesGradsAlone) {
  Tensor a = Tensor::zeros({3});
  a.set_requires_grad(true);
  a.set_grad(
      Tensor::from_vector(std::vector<double>{1.0, std::numeric_limits<double>::infinity(), 2.0}, {3}));
  EXPECT_TRUE(std::isinf(clip_grad_norm({a}, 1.0)));
  EXPECT_EQ(a.grad().to_vector()[0], 1.0);
  a.set_grad(Tensor::from_vector(std::vector<double>{1.0, NAN, 2.0}, {3}));
  EXPECT_TRUE(std::isnan(clip_grad_norm({a}, 1.0)));
  EXPECT_EQ(a.grad().to_vector()[2], 2.0);
}

// The norm is bit-identical for any thread count (fixed block boundaries), including the threaded path.
TEST(ClipGradNorm, DeterministicAcrossThreadCounts) {
  const auto ps = params_with_grads({{1000, 333}, {77}}, DType::f32, 1.0, 3);
  const int saved = num_threads();
  set_num_threads(1);
  const double n1 = grad_norm(ps);
  set_num_threads(2);
  const double n2 = grad_norm(ps);
  set_num_threads(3);
  const double n3 = grad_norm(ps);
  set_num_threads(saved);
  EXPECT_EQ(n1, n2);
  EXPECT_EQ(n1, n3);
}

TEST(ClipGradNorm, TorchParity) {
  struct Case {
    std::string name;
    std::vector<Tensor> params;
    double max_norm;
  };
  std::vector<Case> cases = {
      {"clip_f64", params_with_grads({{3, 4}, {0}, {5}, {2, 3, 2}}, DType::f64, 1.0, 11), 1.0},
      {"noclip_f64", params_with_grads({{3, 4}, {5}}, DType::f64, 0.01, 12), 1.0},
      {"clip_f32", params_with_grads({{3, 4}, {5}, {0}, {7}}, DType::f32, 2.0, 13), 0.5},
      {"clip_f32_big", params_with_grads({{300, 200}, {40000}, {10}}, DType::f32, 1.0, 14), 3.0},
  };
  json req;
  req["cases"] = json::array();
  for (const Case& c : cases) {
    json jc = {{"name", c.name}, {"kind", "clip"}, {"max_norm", c.max_norm}, {"grads", json::array()}};
    for (const Tensor& p : c.params)
      jc["grads"].push_back(p.grad().defined() ? test::tensor_to_json(p.grad()) : json());
    req["cases"].push_back(jc);
  }
  const json res = test::call_python_oracle("torch_optim.py", req);
  ASSERT_FALSE(res.is_null());
  for (Case& c : cases) {
    SCOPED_TRACE("clip case '" + c.name + "'");
    const json& r = res[c.name];
    ASSERT_FALSE(r.contains("error")) << r["error"].get<std::string>();
    const bool f64 = c.params[0].dtype() == DType::f64;
    const double tol = f64 ? 1e-10 : 1e-5;
    const double norm = clip_grad_norm(c.params, c.max_norm);
    const double want = r["norm"].get<double>();
    EXPECT_LT(std::fabs(norm - want) / want, tol) << "norm " << norm << " vs torch " << want;
    for (size_t i = 0; i < c.params.size(); ++i) {
      if (r["grads"][i].is_null()) {
        EXPECT_FALSE(c.params[i].grad().defined());
        continue;
      }
      const double err =
          test::max_rel_error(c.params[i].grad().to_vector(), r["grads"][i].get<std::vector<double>>());
      EXPECT_LT(err, tol) << "grad " << i;
    }
  }
}

TEST(ClipGradNorm, BadInputs) {
  auto ps = params_with_grads({{2}}, DType::f32, 1.0, 1);
  EXPECT_NE(error_of([&] { clip_grad_norm(ps, -1.0); }).find("clip_grad_norm: max_norm"), std::string::npos);
  EXPECT_NE(error_of([&] { clip_grad_norm(ps, NAN); }).find("clip_grad_norm: max_norm"), std::string::npos);
  EXPECT_NE(error_of([&] { clip_grad_norm({Tensor()}, 1.0); }).find("parameter 0 is undefined"),
            std::string::npos);
  Tensor p = Tensor::zeros({2, 3});
  p.set_requires_grad(true);
  p.set_grad(Tensor::ones({3, 2}).as_strided({2, 3}, {1, 2}, 0));
  EXPECT_NE(error_of([&] {
              grad_norm({p});
            }).find("grad_norm: gradient of parameter 0 (shape [2, 3]) is not contiguous"),
            std::string::npos);
}
