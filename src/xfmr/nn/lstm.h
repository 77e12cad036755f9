// Long short-term memory (Hochreiter & Schmidhuber 1997, with the forget gate of Gers et al. 2000), in PyTorch's
// formulation and parameter layout (torch.nn.LSTM, batch_first = True), so weights and results line up one to one:
//   i = σ(W_ii x_t + b_ii + W_hi h_{t−1} + b_hi)      f = σ(W_if x_t + b_if + W_hf h_{t−1} + b_hf)
//   g = tanh(W_ig x_t + b_ig + W_hg h_{t−1} + b_hg)   o = σ(W_io x_t + b_io + W_ho h_{t−1} + b_ho)
//   c_t = f ⊙ c_{t−1} + i ⊙ g,   h_t = o ⊙ tanh(c_t),   h_0 = c_0 = 0.
// Layer l > 0 reads layer l − 1's h sequence. Built from differentiable ops (linear, slice, sigmoid, tanh,
// stack), so autograd handles the backward pass (backpropagation through time); no fused kernel.
//
// Parameters per layer l (torch names): weight_ih_l<l> [4H, in], weight_hh_l<l> [4H, H], bias_ih_l<l> [4H],
// bias_hh_l<l> [4H], gate blocks in the order i, f, g, o. Initialised U(−1/√H, 1/√H) as torch does.
#pragma once
#include <cstdint>
#include <vector>

#include "xfmr/core/rng.h"
#include "xfmr/nn/module.h"

namespace xfmr::nn {

class Lstm : public Module {
 public:
  Lstm(int64_t input_size, int64_t hidden_size, int64_t num_layers, Generator& gen, DType dtype = DType::f32);
  // x: [B, T, input_size] -> the last layer's hidden states [B, T, hidden_size]
  Tensor forward(const Tensor& x) const;
  // Every layer's hidden states, first layer first: num_layers tensors [B, T, hidden_size].
  std::vector<Tensor> forward_layers(const Tensor& x) const;

  int64_t input_size() const { return input_; }
  int64_t hidden_size() const { return hidden_; }
  int64_t num_layers() const { return static_cast<int64_t>(w_ih_.size()); }

 private:
  // The layers in order; each layer's output goes to *layer_outs when it is given.
  Tensor run(const Tensor& x, std::vector<Tensor>* layer_outs) const;

  int64_t input_, hidden_;
  std::vector<Tensor> w_ih_, w_hh_, b_ih_, b_hh_;
  // The per-step hidden states of the layer being run, kept between calls (emptied after each layer) so that a
  // steady-state training step does not allocate a vector per layer.
  mutable std::vector<Tensor> steps_;
};

}  // namespace xfmr::nn
