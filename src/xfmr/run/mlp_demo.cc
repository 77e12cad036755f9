#include "xfmr/run/mlp_demo.h"

#include <cmath>

#include "xfmr/core/autograd.h"
#include "xfmr/core/rng.h"
#include "xfmr/nn/linear.h"
#include "xfmr/ops/activation.h"
#include "xfmr/ops/elementwise.h"
#include "xfmr/ops/loss.h"
#include "xfmr/ops/matmul.h"
#include "xfmr/train/clip.h"
#include "xfmr/train/optimizer.h"
#include "xfmr/train/schedule.h"

namespace xfmr {

namespace {

class TwoLayerMLP : public Module {
 public:
  TwoLayerMLP(int64_t in, int64_t hidden, Generator& gen)
      : fc1(in, hidden, true, gen, 1.0 / std::sqrt(static_cast<double>(in))),
        fc2(hidden, 1, true, gen, 1.0 / std::sqrt(static_cast<double>(hidden))) {
    register_module("fc1", fc1);
    register_module("fc2", fc2);
  }
  Tensor forward(const Tensor& x) const { return fc2.forward(gelu(fc1.forward(x))); }
  nn::Linear fc1, fc2;
};

// The target: y = sum_j c_j sin(x·u_j), a fixed smooth function of x ~ N(0, I).
struct Teacher {
  Tensor u;  // [in, 4]
  Tensor c;  // [4, 1]
  Teacher(int64_t in, Generator& gen) : u(randn({in, 4}, DType::f32, gen)), c(randn({4, 1}, DType::f32, gen)) {
    NoGradGuard ng;
    u = mul(u, 0.5);
  }
  Tensor operator()(const Tensor& x) const {
    NoGradGuard ng;
    Tensor h = matmul(x, u);  // [B, 4]
    Tensor s = Tensor::empty(h.shape());
    const float* hp = h.data<float>();
    float* sp = s.data<float>();
    for (int64_t i = 0; i < h.numel(); ++i) sp[i] = std::sin(hp[i]);
    return matmul(s, c);  // [B, 1]
  }
};

}  // namespace

MlpDemoResult run_mlp_demo(const MlpDemoOptions& opt, const std::function<void(int64_t, double)>& on_step) {
  XF_CHECK(opt.steps > 0 && opt.batch > 0 && opt.hidden > 0 && opt.in_features > 0,
           "demo: steps, batch, hidden and in_features must be positive");
  Generator init_gen(opt.seed), data_gen(opt.seed + 1), val_gen(opt.seed + 2);
  Teacher teacher(opt.in_features, init_gen);
  TwoLayerMLP model(opt.in_features, opt.hidden, init_gen);
  AdamW optim(model.named_parameters(), opt.lr, 0.9, 0.999, 1e-8, 0.01);
  const LrSchedule sched = LrSchedule::cosine(opt.lr, opt.steps / 10, opt.steps, opt.lr * 0.1);

  // A fixed validation set.
  const Tensor xv = randn({1024, opt.in_features}, DType::f32, val_gen);
  const Tensor yv = teacher(xv);
  MlpDemoResult res;
  {
    const std::vector<double> y = yv.to_vector();
    double m = 0, v = 0;
    for (double e : y) m += e;
    m /= static_cast<double>(y.size());
    for (double e : y) v += (e - m) * (e - m);
    res.target_variance = v / static_cast<double>(y.size());
  }
  auto val_loss = [&] {
    NoGradGuard ng;
    return mse_loss(model.forward(xv), yv).item();
  };

  Tensor x = Tensor::empty({opt.batch, opt.in_features});
  for (int64_t step = 1; step <= opt.steps; ++step) {
    normal_(x, 0.0, 1.0, data_gen);
    const Tensor y = teacher(x);
    optim.lr = sched.lr_at(step - 1);
    optim.zero_grad();
    Tensor loss = mse_loss(model.forward(x), y);
    loss.backward();
    clip_grad_norm(model.parameters(), 1.0);
    optim.step();
    const double l = loss.item();
    if (on_step) on_step(step, l);
    if (step == 1 || step % opt.eval_every == 0 || step == opt.steps)
      res.curve.push_back({step, l, val_loss(), optim.lr});
  }
  return res;
}

}  // namespace xfmr
