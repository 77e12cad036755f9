// Optimizers against torch.optim (tests/reference/torch_optim.py): the same initial parameters, the same five
// gradients and learning rates, parameters compared after every step. f64: rel err < 1e-10; f32: < 1e-5.
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "support/errors.h"
#include "support/python_oracle.h"
#include "xfmr/core/check.h"
#include "xfmr/core/rng.h"
#include "xfmr/nn/module.h"
#include "xfmr/ops/view.h"
#include "xfmr/train/optimizer.h"

using xfmr::test::error_of;

using namespace xfmr;
using nlohmann::json;

namespace {

constexpr int kSteps = 5;

using MakeOpt = std::function<std::unique_ptr<Optimizer>(std::vector<NamedParameter>, double lr)>;

struct ParamSpec {
  std::string name;
  Shape shape;
  DType dtype;
  bool decay;
};

struct OptCase {
  std::string name, torch_optimizer;
  json hparams;
  MakeOpt make;
  std::vector<NamedParameter> params;  // initial values (the C++ run updates copies)
  std::vector<double> lrs;
  std::vector<std::vector<Tensor>> grads;  // [step][param]; undefined = no grad that step
};

class OptimBatch {
 public:
  // `skip` lists (step, param) pairs that get no gradient.
  void add(std::string name, std::string torch_optimizer, json hparams, MakeOpt make, double lr,
           const std::vector<ParamSpec>& specs, std::vector<std::pair<int, int>> skip = {}) {
    OptCase c{std::move(name), std::move(torch_optimizer), std::move(hparams), std::move(make), {}, {}, {}};
    for (const ParamSpec& s : specs)
      c.params.push_back({s.name, randn(s.shape, DType::f64, gen_).converted(s.dtype), s.decay});
    const double lr_scale[kSteps] = {1.0, 0.5, 0.8, 1.2,
                                     0.3};  // the lr changes between steps, as a schedule does
    for (int s = 0; s < kSteps; ++s) {
      c.lrs.push_back(lr * lr_scale[s]);
      std::vector<Tensor> gs;
      for (size_t i = 0; i < specs.size(); ++i) {
        bool skipped = false;
        for (auto [ss, pi] : skip) skipped |= (ss == s && pi == static_cast<int>(i));
        gs.push_back(skipped ? Tensor() : randn(specs[i].shape, DType::f64, gen_).converted(specs[i].dtype));
      }
      c.grads.push_back(std::move(gs));
    }
    cases_.push_back(std::move(c));
  }

  void run() {
    json req;
    req["cases"] = json::array();
    for (const OptCase& c : cases_) {
      json jc;
      jc["name"] = c.name;
      jc["kind"] = "optim";
      jc["optimizer"] = c.torch_optimizer;
      jc["hparams"] = c.hparams;
      jc["lrs"] = c.lrs;
      jc["params"] = json::array();
      for (const auto& p : c.params) {
        json jp = test::tensor_to_json(p.tensor);
        jp["name"] = p.name;
        jp["decay"] = p.decay;
        jc["params"].push_back(jp);
      }
      jc["grads"] = json::array();
      for (const auto& step : c.grads) {
        json js = json::array();
        for (const Tensor& g : step) js.push_back(g.defined() ? test::tensor_to_json(g) : json(nullptr));
        jc["grads"].push_back(js);
      }
      req["cases"].push_back(jc);
    }
    const json res = test::call_python_oracle("torch_optim.py", req);
    ASSERT_FALSE(res.is_null());
    for (const OptCase& c : cases_) check_case(c, res);
  }

 private:
  static void check_case(const OptCase& c, const json& res) {
    SCOPED_TRACE("optimizer case '" + c.name + "'");
    ASSERT_TRUE(res.contains(c.name)) << "python returned no result";
    const json& r = res[c.name];
    ASSERT_FALSE(r.contains("error")) << "python error: " << r["error"].get<std::string>();
    // Fresh leaves holding the initial values; the optimizer updates them in place.
    std::vector<NamedParameter> params;
    for (const auto& p : c.params) {
      Tensor t = p.tensor.contiguous_copy();
      t.set_requires_grad(true);
      params.push_back({p.name, t, p.decay});
    }
    std::unique_ptr<Optimizer> opt = c.make(params, c.lrs[0]);
    for (int s = 0; s < kSteps; ++s) {
      opt->lr = c.lrs[s];
      for (size_t i = 0; i < params.size(); ++i) params[i].tensor.set_grad(c.grads[s][i]);
      opt->step();
      for (size_t i = 0; i < params.size(); ++i) {
        const double tol = params[i].tensor.dtype() == DType::f64 ? 1e-10 : 1e-5;
        const std::vector<double> want = r["params"][s][i].get<std::vector<double>>();
        const double err = test::max_rel_error(params[i].tensor.to_vector(), want);
        EXPECT_LT(err, tol) << "step " << s << ", parameter '" << params[i].name << "' ("
                            << dtype_name(params[i].tensor.dtype()) << ")";
        max_err_[params[i].tensor.dtype() == DType::f64] =
            std::max(max_err_[params[i].tensor.dtype() == DType::f64], err);
      }
    }
    EXPECT_EQ(opt->step_count(), kSteps);
  }

  Generator gen_{1234};
  std::vector<OptCase> cases_;

 public:
  static inline double max_err_[2] = {0, 0};  // [f32, f64], printed for the report
};

std::vector<ParamSpec> specs(DType dt) {
  return {
      {"w", {3, 4}, dt, true}, {"b", {4}, dt, false}, {"w3", {2, 3, 5}, dt, true}, {"ln", {5}, dt, false}};
}

MakeOpt sgd(double momentum, double dampening, bool nesterov, double wd) {
  return [=](std::vector<NamedParameter> p, double lr) {
    return std::make_unique<SGD>(std::move(p), lr, momentum, dampening, nesterov, wd);
  };
}
MakeOpt adam(double b1, double b2, double eps, double wd) {
  return [=](std::vector<NamedParameter> p, double lr) {
    return std::make_unique<Adam>(std::move(p), lr, b1, b2, eps, wd);
  };
}
MakeOpt adamw(double b1, double b2, double eps, double wd) {
  return [=](std::vector<NamedParameter> p, double lr) {
    return std::make_unique<AdamW>(std::move(p), lr, b1, b2, eps, wd);
  };
}
json sgd_hp(double momentum, double dampening, bool nesterov, double wd) {
  return {{"momentum", momentum}, {"dampening", dampening}, {"nesterov", nesterov}, {"weight_decay", wd}};
}
json adam_hp(double b1, double b2, double eps, double wd) {
  return {{"betas", {b1, b2}}, {"eps", eps}, {"weight_decay", wd}};
}


}  // namespace

TEST(OptimizerParity, TorchSgdAdamAdamW) {
  OptimBatch b;
  for (DType dt : {DType::f64, DType::f32}) {
    const std::string sfx = std::string("_") + dtype_name(dt);
    b.add("sgd_plain" + sfx, "SGD", sgd_hp(0, 0, false, 0), sgd(0, 0, false, 0), 0.1, specs(dt));
    b.add("sgd_wd" + sfx, "SGD", sgd_hp(0, 0, false, 0.05), sgd(0, 0, false, 0.05), 0.1, specs(dt));
    b.add("sgd_momentum_damp_wd" + sfx, "SGD", sgd_hp(0.9, 0.1, false, 0.01), sgd(0.9, 0.1, false, 0.01),
          0.05, specs(dt));
    b.add("sgd_nesterov_wd" + sfx, "SGD", sgd_hp(0.9, 0, true, 0.05), sgd(0.9, 0, true, 0.05), 0.05,
          specs(dt));
    b.add("adam" + sfx, "Adam", adam_hp(0.9, 0.999, 1e-8, 0), adam(0.9, 0.999, 1e-8, 0), 1e-2, specs(dt));
    b.add("adam_wd" + sfx, "Adam", adam_hp(0.8, 0.99, 1e-6, 0.1), adam(0.8, 0.99, 1e-6, 0.1), 1e-2,
          specs(dt));
    b.add("adamw" + sfx, "AdamW", adam_hp(0.9, 0.95, 1e-8, 0.1), adamw(0.9, 0.95, 1e-8, 0.1), 1e-2,
          specs(dt));
    b.add("adamw_default_wd" + sfx, "AdamW", adam_hp(0.9, 0.999, 1e-8, 0.01), adamw(0.9, 0.999, 1e-8, 0.01),
          3e-2, specs(dt));
    // Parameters without a gradient on some steps are skipped (their per-parameter step count lags, which
    // changes their bias correction and SGD's "first step" buffer initialisation).
    const std::vector<std::pair<int, int>> skip = {{0, 1}, {2, 0}, {2, 3}, {3, 3}};
    b.add("sgd_momentum_skip" + sfx, "SGD", sgd_hp(0.9, 0.2, false, 0.01), sgd(0.9, 0.2, false, 0.01), 0.05,
          specs(dt), skip);
    b.add("adam_skip" + sfx, "Adam", adam_hp(0.9, 0.999, 1e-8, 0.05), adam(0.9, 0.999, 1e-8, 0.05), 1e-2,
          specs(dt), skip);
    b.add("adamw_skip" + sfx, "AdamW", adam_hp(0.9, 0.99, 1e-8, 0.2), adamw(0.9, 0.99, 1e-8, 0.2), 1e-2,
          specs(dt), skip);
  }
  // Mixed dtypes in one optimizer, and tensors large enough for the multi-threaded path (> 32768 elements).
  const std::vector<ParamSpec> mixed = {{"big32", {300, 150}, DType::f32, true},
                                        {"big64", {40000}, DType::f64, true},
                                        {"bias32", {150}, DType::f32, false}};
  b.add("adamw_mixed_big", "AdamW", adam_hp(0.9, 0.95, 1e-8, 0.1), adamw(0.9, 0.95, 1e-8, 0.1), 1e-3, mixed);
  b.add("adam_mixed_big", "Adam", adam_hp(0.9, 0.95, 1e-8, 0.1), adam(0.9, 0.95, 1e-8, 0.1), 1e-3, mixed);
  b.add("sgd_nesterov_mixed_big", "SGD", sgd_hp(0.95, 0, true, 0.1), sgd(0.95, 0, true, 0.1), 1e-2, mixed);
  b.run();
  std::printf("[optimizer parity] max rel err vs torch: f32 %.3g, f64 %.3g\n", OptimBatch::max_err_[0],
              OptimBatch::max_err_[1]);
}

// With zero gradients Adam's update is exactly 0, so AdamW only applies p *= 1 - lr*wd — and only to
// decay = true parameters (a closed form for the decoupled decay and the decay flags from the module).
TEST(Optimizer, AdamWDecoupledDecayFollowsModuleFlags) {
  struct Lin : Module {
    Tensor weight, bias;
    Lin() {
      weight = register_parameter("weight", Tensor::full({2, 3}, 2.0, DType::f64));
      bias = register_parameter("bias", Tensor::full({3}, 2.0, DType::f64), false);
    }
  } m;
  AdamW opt(m.named_parameters(), 0.1, 0.9, 0.999, 1e-8, 0.5);
  for (auto& p : m.named_parameters()) p.tensor.set_grad(Tensor::zeros(p.tensor.shape(), DType::f64));
  for (int s = 0; s < 3; ++s) opt.step();
  for (double v : m.weight.to_vector()) EXPECT_DOUBLE_EQ(v, 2.0 * std::pow(1 - 0.1 * 0.5, 3));
  for (double v : m.bias.to_vector()) EXPECT_EQ(v, 2.0);
}

TEST(Optimizer, StateIsNamedAndShared) {
  Tensor w = Tensor::ones({2, 3});
  Tensor b = Tensor::ones({3}, DType::f64);
  w.set_requires_grad(true);
  b.set_requires_grad(true);
  AdamW opt({{"w", w, true}, {"b", b, false}}, 0.1);
  std::vector<std::string> names;
  for (const auto& s : opt.state()) names.push_back(s.name);
  EXPECT_EQ(names, (std::vector<std::string>{"step.w", "step.b", "exp_avg.w", "exp_avg.b", "exp_avg_sq.w",
                                             "exp_avg_sq.b"}));
  EXPECT_EQ(opt.state()[2].tensor.shape(), w.shape());
  EXPECT_EQ(opt.state()[3].tensor.dtype(), DType::f64);
  w.set_grad(Tensor::full({2, 3}, 2.0));
  opt.step();
  opt.step();
  b.set_grad(Tensor::full({3}, 1.0, DType::f64));
  opt.step();
  EXPECT_EQ(opt.step_count(), 3);
  EXPECT_EQ(opt.state()[0].tensor.to_int_vector()[0], 3);
  EXPECT_EQ(opt.state()[1].tensor.to_int_vector()[0], 1);
  // exp_avg after three steps of a constant gradient 2: 2 * (1 - 0.9^3).
  EXPECT_NEAR(opt.state()[2].tensor.to_vector()[0], 2 * (1 - std::pow(0.9, 3)), 1e-6);
  // Writing into a state tensor (as a checkpoint loader does) changes the optimizer's buffer.
  Tensor(opt.state()[3].tensor).fill_(7.0);
  b.set_grad(Tensor::zeros({3}, DType::f64));
  opt.step();
  EXPECT_NEAR(opt.state()[3].tensor.to_vector()[0], 0.9 * 7.0, 1e-12);

  SGD plain({{"w", w, true}}, 0.1);
  EXPECT_EQ(plain.state().size(), 1u);  // step.w only: no momentum buffer without momentum
  SGD mom({{"w", w, true}}, 0.1, 0.9);
  EXPECT_EQ(mom.state()[1].name, "momentum_buffer.w");
}

TEST(Optimizer, ZeroGrad) {
  Tensor w = Tensor::ones({4});
  w.set_requires_grad(true);
  w.set_grad(Tensor::full({4}, 3.0));
  Tensor u = Tensor::ones({2});
  u.set_requires_grad(true);  // no grad at all: zero_grad leaves it undefined
  SGD opt({{"w", w, true}, {"u", u, true}}, 0.1);
  const void* buf = w.grad().raw_data();
  opt.zero_grad();
  EXPECT_EQ(w.grad().raw_data(), buf);
  for (double v : w.grad().to_vector()) EXPECT_EQ(v, 0.0);
  EXPECT_FALSE(u.grad().defined());
}

TEST(Optimizer, BadSettingsAndInputs) {
  Tensor w = Tensor::ones({2, 2});
  w.set_requires_grad(true);
  auto P = [&] { return std::vector<NamedParameter>{{"w", w, true}}; };
  EXPECT_NE(error_of([&] { SGD(P(), 0.1, 0, 0, true); }).find("SGD: nesterov"), std::string::npos);
  EXPECT_NE(error_of([&] { SGD(P(), 0.1, 0.9, 0.1, true); }).find("SGD: nesterov"), std::string::npos);
  EXPECT_NE(error_of([&] { SGD(P(), -1.0); }).find("SGD: lr"), std::string::npos);
  EXPECT_NE(error_of([&] { SGD(P(), 0.1, -0.5); }).find("momentum"), std::string::npos);
  EXPECT_NE(error_of([&] { Adam(P(), 0.1, 1.0); }).find("Adam: beta1"), std::string::npos);
  EXPECT_NE(error_of([&] { AdamW(P(), 0.1, 0.9, -0.1); }).find("AdamW: beta2"), std::string::npos);
  EXPECT_NE(error_of([&] { AdamW(P(), 0.1, 0.9, 0.99, -1.0); }).find("AdamW: eps"), std::string::npos);
  EXPECT_NE(error_of([&] { Adam(P(), 0.1, 0.9, 0.99, 1e-8, -0.1); }).find("weight_decay"), std::string::npos);
  EXPECT_NE(error_of([&] {
              AdamW({{"w", w, true}, {"w2", w, true}}, 0.1);
            }).find("listed twice"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              SGD({{"h", Tensor::ones({2}, DType::bf16), true}}, 0.1);
            }).find("'h' has dtype bf16"),
            std::string::npos);
  Tensor base = Tensor::ones({3, 2});
  Tensor tview = base.as_strided({2, 3}, {1, 2}, 0);
  EXPECT_NE(error_of([&] { SGD({{"t", tview, true}}, 0.1); }).find("not contiguous"), std::string::npos);
  // A gradient that does not match its parameter is reported at step() with both shapes.
  AdamW opt(P(), 0.1);
  w.set_grad(Tensor::ones({4}));
  const std::string e = error_of([&] { opt.step(); });
  EXPECT_NE(e.find("AdamW: gradient of 'w'"), std::string::npos) << e;
  EXPECT_NE(e.find("[4]"), std::string::npos) << e;
  w.set_grad(Tensor::ones({2, 2}, DType::f64));
  EXPECT_NE(error_of([&] { opt.step(); }).find("f64"), std::string::npos);
}

// Checkpoint round trip through state(): copy the state out after 3 steps, load it into a fresh optimizer
// over fresh copies of the parameters, run 3 more steps on both: the results must be bit-identical.
TEST(Optimizer, ResumeFromStateIsExact) {
  auto run = [](auto make) {
    Generator gen(99);
    std::vector<NamedParameter> a, b;
    for (auto [name, n, decay] : {std::tuple{"w", 12, true}, std::tuple{"b", 5, false}}) {
      Tensor t = randn({n}, DType::f32, gen);
      t.set_requires_grad(true);
      a.push_back({name, t, decay});
    }
    std::vector<std::vector<Tensor>> grads(6);
    for (auto& step : grads)
      for (auto& p : a) step.push_back(randn(p.tensor.shape(), DType::f32, gen));
    std::unique_ptr<Optimizer> oa = make(a);
    for (int s = 0; s < 3; ++s) {
      for (size_t i = 0; i < a.size(); ++i) a[i].tensor.set_grad(grads[s][i]);
      oa->step();
    }
    // "Save": copies of the parameters and of every state tensor. "Load": a new optimizer, then copy_ back.
    for (auto& p : a) {
      Tensor t = p.tensor.contiguous_copy();
      t.set_requires_grad(true);
      b.push_back({p.name, t, p.decay});
    }
    std::unique_ptr<Optimizer> ob = make(b);
    ASSERT_EQ(ob->state().size(), oa->state().size());
    for (size_t k = 0; k < oa->state().size(); ++k) {
      ASSERT_EQ(ob->state()[k].name, oa->state()[k].name);
      Tensor(ob->state()[k].tensor).copy_(oa->state()[k].tensor.contiguous_copy());
    }
    ob->set_step_count(oa->step_count());
    for (int s = 3; s < 6; ++s) {
      for (size_t i = 0; i < a.size(); ++i) {
        a[i].tensor.set_grad(grads[s][i]);
        b[i].tensor.set_grad(grads[s][i]);
      }
      oa->step();
      ob->step();
    }
    EXPECT_EQ(ob->step_count(), 6);
    for (size_t i = 0; i < a.size(); ++i)
      EXPECT_EQ(a[i].tensor.to_vector(), b[i].tensor.to_vector()) << a[i].name;
  };
  run([](std::vector<NamedParameter> p) {
    return std::make_unique<AdamW>(std::move(p), 1e-2, 0.9, 0.95, 1e-8, 0.1);
  });
  run([](std::vector<NamedParameter> p) {
    return std::make_unique<Adam>(std::move(p), 1e-2, 0.9, 0.95, 1e-8, 0.1);
  });
  run([](std::vector<NamedParameter> p) {
    return std::make_unique<SGD>(std::move(p), 1e-2, 0.9, 0.1, false, 0.1);
  });
}

// Gradients produced by the autograd engine (not set by hand) flow into the optimizer: with d(sum)/dp = 1
// every step, Adam's bias-corrected moments are exactly m_hat = v_hat = 1, so each AdamW step is p <- p * (1
// - lr*wd) - lr / (1 + eps) for decayed parameters and p <- p - lr / (1 + eps) for the others.
TEST(Optimizer, StepsOnAutogradGradients) {
  struct Lin : Module {
    Tensor weight, bias;
    Lin() {
      weight = register_parameter("weight", Tensor::full({2, 3}, 1.5, DType::f64));
      bias = register_parameter("bias", Tensor::full({3}, -0.5, DType::f64), false);
    }
  } m;
  const double lr = 0.01, wd = 0.1, eps = 1e-8;
  AdamW opt(m.named_parameters(), lr, 0.9, 0.999, eps, wd);
  double w = 1.5, b = -0.5;
  for (int s = 0; s < 3; ++s) {
    opt.zero_grad();
    sum_to(reshape(m.weight, {6}), {1}).backward();
    sum_to(m.bias, {1}).backward();
    for (double g : m.weight.grad().to_vector()) ASSERT_EQ(g, 1.0);
    opt.step();
    w = w * (1 - lr * wd) - lr / (1 + eps);
    b = b - lr / (1 + eps);
    for (double v : m.weight.to_vector()) EXPECT_NEAR(v, w, 1e-15);
    for (double v : m.bias.to_vector()) EXPECT_NEAR(v, b, 1e-15);
  }
  EXPECT_FALSE(m.weight.grad_fn()) << "the update must not record autograd history";
}
