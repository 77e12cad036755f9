// An attention-free baseline for in-context regression: an LSTM (nn/lstm.h) reads the same interleaved prompt
// as the transformer (x_1, y_1, ..., x_n, y_n; tokens mapped to R^hidden by a linear read-in, no positions: the
// recurrence carries order) and a linear read-out at the x positions predicts y. Garg et al. 2022 (§5, "LSTM")
// report that such a model learns linear regression in context much worse than a transformer of similar size.
#pragma once
#include <string>
#include <vector>

#include "xfmr/core/rng.h"
#include "xfmr/nn/linear.h"
#include "xfmr/nn/lstm.h"

namespace xfmr::models {

struct IclLstmConfig {
  int64_t d = 5;
  int64_t hidden = 64;
  int64_t n_layer = 2;
  double read_in_init_std = 0.5;
  void validate() const;
};

class IclLstm : public Module {
 public:
  IclLstm(const IclLstmConfig& cfg, Generator& gen, DType dtype = DType::f32);
  // zs: [B, 2n, d] -> predictions at the x positions [B, n]
  Tensor forward(const Tensor& zs) const;
  // For probes: the read-in ("embed") and each LSTM layer's hidden states ("layer1", ...), each [B, 2n, hidden].
  std::vector<Tensor> hidden_states(const Tensor& zs, std::vector<std::string>* names = nullptr) const;

 private:
  void check_prompt(const Tensor& zs) const;
  IclLstmConfig cfg_;
  nn::Linear read_in_;
  nn::Lstm lstm_;
  nn::Linear read_out_;
};

}  // namespace xfmr::models
