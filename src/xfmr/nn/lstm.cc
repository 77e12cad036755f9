#include "xfmr/nn/lstm.h"

#include <cmath>
#include <string>

#include "xfmr/core/check.h"
#include "xfmr/ops/activation.h"
#include "xfmr/ops/elementwise.h"
#include "xfmr/ops/index.h"
#include "xfmr/ops/matmul.h"
#include "xfmr/ops/view.h"

namespace xfmr::nn {

Lstm::Lstm(int64_t input_size, int64_t hidden_size, int64_t num_layers, Generator& gen, DType dtype)
    : input_(input_size), hidden_(hidden_size) {
  XF_CHECK(input_size > 0 && hidden_size > 0 && num_layers > 0,
           "Lstm: input_size, hidden_size and num_layers must be positive, got ", input_size, ", ", hidden_size,
           ", ", num_layers);
  const double bound = 1.0 / std::sqrt(static_cast<double>(hidden_size));
  auto param = [&](const std::string& name, const Shape& shape, bool decay) {
    Tensor t = Tensor::empty(shape, dtype);
    uniform_(t, -bound, bound, gen);
    return register_parameter(name, t, decay);
  };
  for (int64_t l = 0; l < num_layers; ++l) {
    const std::string s = "_l" + std::to_string(l);
    const int64_t in = l == 0 ? input_size : hidden_size;
    w_ih_.push_back(param("weight_ih" + s, {4 * hidden_size, in}, true));
    w_hh_.push_back(param("weight_hh" + s, {4 * hidden_size, hidden_size}, true));
    b_ih_.push_back(param("bias_ih" + s, {4 * hidden_size}, false));
    b_hh_.push_back(param("bias_hh" + s, {4 * hidden_size}, false));
  }
}

Tensor Lstm::run(const Tensor& x, std::vector<Tensor>* layer_outs) const {
  XF_CHECK(x.defined() && x.dim() == 3 && x.size(2) == input_, "Lstm: expected x [B, T, ", input_, "], got ",
           x.defined() ? x.shape().str() : std::string("undefined"));
  XF_CHECK(x.dtype() == w_ih_[0].dtype(), "Lstm: x must have the layer's dtype ", dtype_name(w_ih_[0].dtype()),
           ", got ", dtype_name(x.dtype()), " ", x.shape().str());
  const int64_t T = x.size(1), H = hidden_;
  Tensor in = x;
  for (size_t l = 0; l < w_ih_.size(); ++l) {
    // The input projections of every time step in one matmul; only the recurrent part is sequential.
    const Tensor xw = linear(in, w_ih_[l], b_ih_[l] + b_hh_[l]);  // [B, T, 4H]
    const Tensor w_hh_t = transpose(w_hh_[l], 0, 1);               // [H, 4H]
    Tensor h, c;
    std::vector<Tensor>& hs = steps_;
    hs.clear();
    hs.reserve(static_cast<size_t>(T));
    for (int64_t t = 0; t < T; ++t) {
      Tensor gates = select(xw, 1, t);  // [B, 4H]
      if (t > 0) gates = gates + matmul(h, w_hh_t);
      const Tensor i = sigmoid(slice(gates, 1, 0, H));
      const Tensor f = sigmoid(slice(gates, 1, H, 2 * H));
      const Tensor g = tanh(slice(gates, 1, 2 * H, 3 * H));
      const Tensor o = sigmoid(slice(gates, 1, 3 * H, 4 * H));
      c = t > 0 ? f * c + i * g : i * g;  // c_0 = 0
      h = o * tanh(c);
      hs.push_back(h);
    }
    in = T > 0 ? stack(hs, 1) : Tensor::zeros({x.size(0), 0, H}, x.dtype());  // [B, T, H]
    hs.clear();
    if (layer_outs) layer_outs->push_back(in);
  }
  return in;
}

Tensor Lstm::forward(const Tensor& x) const { return run(x, nullptr); }

std::vector<Tensor> Lstm::forward_layers(const Tensor& x) const {
  std::vector<Tensor> outs;
  run(x, &outs);
  return outs;
}

}  // namespace xfmr::nn
