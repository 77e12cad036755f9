// nn::Lstm against torch.nn.LSTM (f32, outputs and every gradient) and finite differences (f64).
#include <gtest/gtest.h>

#include "support/gradcheck.h"
#include "support/torch_parity.h"
#include "xfmr/nn/lstm.h"
#include "xfmr/ops/view.h"

using namespace xfmr;

TEST(Lstm, ParameterNamesMatchTorch) {
  Generator g(0);
  nn::Lstm lstm(3, 4, 2, g);
  std::vector<std::string> names;
  for (auto& p : lstm.named_parameters()) names.push_back(p.name);
  const std::vector<std::string> expected = {"weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0",
                                             "weight_ih_l1", "weight_hh_l1", "bias_ih_l1", "bias_hh_l1"};
  EXPECT_EQ(names, expected);
  EXPECT_EQ(lstm.num_parameters(), 4 * 4 * (3 + 4 + 2) + 4 * 4 * (4 + 4 + 2));
}

TEST(Lstm, TorchParity) {
  test::ParityBatch b;
  auto add = [&](const std::string& name, int64_t in, int64_t H, int64_t L, Shape xs, bool transposed) {
    Generator g(static_cast<uint64_t>(in * 100 + H * 10 + L));
    auto lstm = std::make_shared<nn::Lstm>(in, H, L, g);
    Tensor x = b.randn(xs);
    std::vector<Tensor> inputs = {x};
    nlohmann::json names = nlohmann::json::array();
    for (auto& p : lstm->named_parameters()) {
      inputs.push_back(p.tensor);
      names.push_back(p.name);
    }
    b.add(name, "lstm_layers", {{"input_size", in}, {"hidden_size", H}, {"num_layers", L}, {"names", names}},
          inputs, [lstm, transposed](auto& v) {
            // A non-contiguous x: the same values through a transposed view.
            const Tensor x_in = transposed ? transpose(contiguous(transpose(v[0], 0, 1)), 0, 1) : v[0];
            return lstm->forward(x_in);
          });
  };
  add("lstm_1layer", 3, 5, 1, {2, 7, 3}, false);
  add("lstm_2layer", 4, 6, 2, {3, 5, 4}, true);
  add("lstm_3layer_len1", 2, 3, 3, {2, 1, 2}, false);
  b.run(1e-4);
}

TEST(Lstm, Gradcheck) {
  Generator g(3);
  nn::Lstm lstm(3, 4, 2, g, DType::f64);
  std::vector<Tensor> inputs = {test::random_transposed_input({2, 5, 3}, 5)};
  for (auto& p : lstm.named_parameters()) inputs.push_back(p.tensor);
  test::expect_gradcheck([&](auto& in) { return lstm.forward(in[0]); }, inputs);
}

TEST(Lstm, LayersAreChained) {
  Generator g(4);
  nn::Lstm lstm(2, 3, 2, g, DType::f64);
  const Tensor x = test::random_input({1, 4, 2}, 9);
  const auto layers = lstm.forward_layers(x);
  ASSERT_EQ(layers.size(), 2u);
  EXPECT_EQ(layers[0].shape(), Shape({1, 4, 3}));
  const Tensor last = lstm.forward(x);
  for (int64_t i = 0; i < last.numel(); ++i)
    EXPECT_EQ(last.data<double>()[i], contiguous(layers[1]).data<double>()[i]);
}

TEST(Lstm, BadInput) {
  Generator g(0);
  EXPECT_THROW(nn::Lstm(0, 4, 1, g), Error);
  nn::Lstm lstm(3, 4, 1, g);
  for (const Tensor& x : {Tensor::zeros({2, 5, 2}), Tensor::zeros({5, 3}), Tensor::zeros({2, 5, 3}, DType::f64)}) {
    try {
      lstm.forward(x);
      FAIL() << "expected an error for " << x.shape().str();
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("Lstm"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(x.shape().str()), std::string::npos) << e.what();
    }
  }
}
