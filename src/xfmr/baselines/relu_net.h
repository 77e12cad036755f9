// A 2-layer ReLU network trained on the prompt, the baseline of Garg et al. 2022 for 2-layer ReLU-network
// prompts (§4, Fig. 6: a network of the target's shape trained by gradient descent on the in-context examples):
//   f(x) = Σ_{i<hidden} a_i relu(w_i·x + b_i) + c,
// fitted to the context by `steps` full-batch Adam steps (Kingma & Ba 2015; β = (0.9, 0.999), ε = 1e-8) on the
// mean squared error (1/k) Σ (f(x_j) − y_j)², gradients by hand. Initialisation is the same for every prompt
// (Generator(seed)): w_i ~ N(0, 1/d), a_i ~ N(0, 1/hidden), b = c = 0, so the predictor is a deterministic
// function of the context. Empty context -> 0.
#pragma once
#include <cstdint>
#include <vector>

#include "xfmr/baselines/context.h"

namespace xfmr {

struct ReluNetOptions {
  int64_t hidden = 100;
  int64_t steps = 500;
  double lr = 0.01;
  uint64_t seed = 0;
};

class ReluNet {
 public:
  explicit ReluNet(const ReluNetOptions& opt = {});
  // Trains on x [k, d], y [k]; returns the final training mean squared error.
  double fit(const double* x, const double* y, int64_t k, int64_t d);
  double predict(const double* x) const;  // x: [d]
  double operator()(const IclContext& ctx, const double* x_query);

 private:
  void init(int64_t d);
  ReluNetOptions opt_;
  int64_t d_ = 0;
  // Parameters, packed as [w (hidden·d), b (hidden), a (hidden), c (1)], with Adam moments and gradients.
  std::vector<double> p_, g_, m_, v_, h_;
};

}  // namespace xfmr
