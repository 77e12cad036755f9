// Live PyTorch parity (the second oracle of DESIGN.md). A test collects cases, then one call runs Debian's
// PyTorch (/usr/bin/python3 tests/reference/torch_oracle.py) on the same inputs and upstream gradient; the
// outputs and every input gradient must match within `tol` (max-norm relative error, see rel_error).
//
//   test::ParityBatch b;
//   b.add("softmax_lastdim", "softmax", {{"dim", -1}}, {b.randn({4, 7})},
//         [](auto& in) { return softmax(in[0], -1); });
//   b.run();   // f32: 1e-4
//
// The Python side of an op lives in tests/reference/torch_ops_<family>.py as OPS["softmax"] = fn(inputs, params).
#pragma once
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <unistd.h>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/gradcheck.h"
#include "support/python_oracle.h"

namespace xfmr::test {

class ParityBatch {
 public:
  explicit ParityBatch(uint64_t seed = 7) : gen_(seed) {}

  // Random float input (requires grad) of the given shape.
  Tensor randn(const Shape& shape, DType dt = DType::f32, double scale = 1.0) {
    Tensor t = xfmr::randn(shape, DType::f64, gen_);
    if (scale != 1.0) {
      double* p = t.data<double>();
      for (int64_t i = 0; i < t.numel(); ++i) p[i] *= scale;
    }
    t = t.converted(dt);
    t.set_requires_grad(true);
    return t;
  }
  // Random integer input in [lo, hi) (no grad).
  Tensor randint(int64_t lo, int64_t hi, const Shape& shape) { return xfmr::randint(lo, hi, shape, DType::i64, gen_); }

  void add(std::string name, std::string op, nlohmann::json params, std::vector<Tensor> inputs, OpFn cpp) {
    if (params.is_null()) params = nlohmann::json::object();  // `{}` reaches here as null
    cases_.push_back({std::move(name), std::move(op), std::move(params), std::move(inputs), std::move(cpp)});
  }

  void run(double tol = 1e-4) {
    nlohmann::json req;
    req["cases"] = nlohmann::json::array();
    std::vector<Tensor> outs, upstream;
    for (auto& c : cases_) {
      for (auto& t : c.inputs)
        if (t.requires_grad()) t.set_grad(Tensor());
      Tensor out = c.cpp(c.inputs);
      Tensor r = xfmr::randn(out.shape(), DType::f64, gen_).converted(out.dtype());
      if (out.requires_grad()) out.backward(r);
      outs.push_back(out);
      upstream.push_back(r);
      nlohmann::json jc;
      jc["name"] = c.name;
      jc["op"] = c.op;
      jc["params"] = c.params;
      jc["inputs"] = nlohmann::json::array();
      for (auto& t : c.inputs) jc["inputs"].push_back(to_json(t));
      jc["grad_out"] = to_json(r);
      req["cases"].push_back(jc);
    }
    const nlohmann::json res = call_python_oracle("torch_oracle.py", req);
    ASSERT_FALSE(res.is_null());
    for (size_t i = 0; i < cases_.size(); ++i) {
      auto& c = cases_[i];
      SCOPED_TRACE("parity case '" + c.name + "' (torch op '" + c.op + "')");
      ASSERT_TRUE(res.contains(c.name)) << "python returned no result";
      const auto& r = res[c.name];
      if (r.contains("error")) {
        ADD_FAILURE() << "python error: " << r["error"].get<std::string>();
        continue;
      }
      compare("output", outs[i], r["out"], tol);
      for (size_t k = 0; k < c.inputs.size(); ++k) {
        const auto& g = r["grads"][k];
        if (g.is_null() || !c.inputs[k].requires_grad()) continue;
        Tensor mine = c.inputs[k].grad();
        if (!mine.defined()) mine = Tensor::zeros(c.inputs[k].shape(), c.inputs[k].dtype());
        compare("grad of input " + std::to_string(k), mine, g, tol);
      }
    }
  }

 private:
  struct Case {
    std::string name, op;
    nlohmann::json params;
    std::vector<Tensor> inputs;
    OpFn cpp;
  };

  static nlohmann::json to_json(const Tensor& t) {
    nlohmann::json j;
    j["shape"] = std::vector<int64_t>(t.shape().begin(), t.shape().end());
    j["dtype"] = dtype_name(t.dtype());
    j["requires_grad"] = t.requires_grad();
    if (dtype_is_int(t.dtype()))
      j["data"] = t.to_int_vector();
    else
      j["data"] = encode(t.to_vector());
    return j;
  }

  // JSON has no inf/nan: they travel as the strings "inf", "-inf", "nan" (both directions).
  static nlohmann::json encode(const std::vector<double>& v) {
    nlohmann::json a = nlohmann::json::array();
    for (double x : v) {
      if (std::isfinite(x))
        a.push_back(x);
      else
        a.push_back(std::isnan(x) ? "nan" : (x > 0 ? "inf" : "-inf"));
    }
    return a;
  }
  static std::vector<double> decode(const nlohmann::json& a) {
    std::vector<double> v;
    v.reserve(a.size());
    for (const auto& x : a) {
      if (x.is_string()) {
        const std::string s = x.get<std::string>();
        v.push_back(s == "nan" ? NAN : (s == "inf" ? INFINITY : -INFINITY));
      } else {
        v.push_back(x.get<double>());
      }
    }
    return v;
  }

  static void compare(const std::string& what, const Tensor& mine, const nlohmann::json& ref, double tol) {
    std::vector<int64_t> shape = ref["shape"].get<std::vector<int64_t>>();
    ASSERT_EQ(Shape::from(shape.begin(), shape.end()), mine.shape()) << what << ": shape differs from torch";
    const std::vector<double> a = mine.to_vector();
    const std::vector<double> b = decode(ref["data"]);
    ASSERT_EQ(a.size(), b.size());
    double num = 0, den = 1e-30;
    size_t worst = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      if (!std::isfinite(b[i]) || !std::isfinite(a[i])) {  // non-finite values must match exactly
        EXPECT_TRUE((std::isnan(a[i]) && std::isnan(b[i])) || a[i] == b[i])
            << what << ": element " << i << ": xfmr " << a[i] << " vs torch " << b[i];
        continue;
      }
      if (std::fabs(a[i] - b[i]) > num) {
        num = std::fabs(a[i] - b[i]);
        worst = i;
      }
      den = std::max(den, std::fabs(b[i]));
    }
    const double rel = a.empty() ? 0.0 : num / den;
    EXPECT_LT(rel, tol) << what << ": relative error " << rel << " (worst element " << worst << ": xfmr "
                        << a[worst] << " vs torch " << b[worst] << ")";
  }

  Generator gen_;
  std::vector<Case> cases_;
};

}  // namespace xfmr::test
