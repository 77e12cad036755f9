// The in-context regression transformer (Garg et al. 2022): shapes, names, causality and gradients.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "support/gradcheck.h"
#include "xfmr/models/icl_transformer.h"
#include "xfmr/tasks/icl_linear.h"

using namespace xfmr;

namespace {
models::IclTransformerConfig small_config() {
  models::IclTransformerConfig c;
  c.d = 3;
  c.n_points = 4;
  c.n_embd = 8;
  c.n_layer = 2;
  c.n_head = 2;
  return c;
}
}  // namespace

TEST(IclTransformer, ShapesAndParameterNames) {
  Generator g(0);
  models::IclTransformer m(small_config(), g);
  std::vector<std::string> names;
  for (auto& p : m.named_parameters()) names.push_back(p.name);
  ASSERT_GE(names.size(), 5u);
  // A module's own parameters come first, then its children's (torch's named_parameters order).
  EXPECT_EQ(names[0], "wpe");
  EXPECT_EQ(names[1], "read_in.weight");
  EXPECT_EQ(names[3], "blocks.0.ln1.weight");
  EXPECT_EQ(names.back(), "read_out.bias");
  Generator dg(1);
  const IclBatch b = sample_icl_linear(5, 4, 3, 3, 0.0, dg);
  EXPECT_EQ(m.forward(interleave_prompt(b)).shape(), (Shape{5, 4}));
  // Fewer points than the maximum (the curriculum) also works.
  const IclBatch b2 = sample_icl_linear(5, 2, 3, 3, 0.0, dg);
  EXPECT_EQ(m.forward(interleave_prompt(b2)).shape(), (Shape{5, 2}));
}

TEST(IclTransformer, PredictionNeverSeesItsOwnLabel) {
  Generator g(2);
  models::IclTransformer m(small_config(), g);
  Generator dg(3);
  IclBatch b = sample_icl_linear(2, 4, 3, 3, 0.0, dg);
  NoGradGuard ng;
  const std::vector<double> before = m.forward(interleave_prompt(b)).to_vector();
  // Change y_3 (index 2): predictions for points 0..2 must not move, point 3's may.
  float* y = b.ys.data<float>();
  y[2] += 10.0f;
  y[4 + 2] -= 10.0f;
  const std::vector<double> after = m.forward(interleave_prompt(b)).to_vector();
  for (int p = 0; p < 2; ++p)
    for (int i = 0; i <= 2; ++i) EXPECT_EQ(before[p * 4 + i], after[p * 4 + i]) << "prompt " << p << " point " << i;
  EXPECT_NE(before[3], after[3]);
}

TEST(IclTransformer, Gradcheck) {
  Generator g(4);
  models::IclTransformer m(small_config(), g, DType::f64);
  {  // larger weights than the init so every path carries signal
    NoGradGuard ng;
    Generator w(5);
    for (auto& p : m.named_parameters()) normal_(p.tensor, 0.0, 0.3, w);
  }
  std::vector<Tensor> inputs = {test::random_input({2, 8, 3}, 6)};
  for (auto& p : m.named_parameters()) inputs.push_back(p.tensor);
  test::expect_gradcheck([&](auto& in) { return m.forward(in[0]); }, inputs);
}

// model.gelu picks the MLPs' GELU: the same initialisation gives outputs that differ by the tanh approximation's
// small error (so the option reaches the blocks), and the tanh model still passes a gradient check.
TEST(IclTransformer, GeluOption) {
  auto exact_cfg = small_config(), tanh_cfg = small_config();
  tanh_cfg.gelu = "tanh";
  EXPECT_EQ(exact_cfg.gelu_approx(), GeluApprox::none);
  EXPECT_EQ(tanh_cfg.gelu_approx(), GeluApprox::tanh);
  Generator g1(7), g2(7);
  models::IclTransformer exact(exact_cfg, g1, DType::f64), approx(tanh_cfg, g2, DType::f64);
  {  // weights large enough that the MLP's inputs reach GELU's curved range
    NoGradGuard ng;
    Generator w1(8), w2(8);
    for (auto& p : exact.named_parameters()) normal_(p.tensor, 0.0, 0.5, w1);
    for (auto& p : approx.named_parameters()) normal_(p.tensor, 0.0, 0.5, w2);
  }
  const Tensor zs = test::random_input({2, 8, 3}, 9).detach();
  const std::vector<double> a = exact.forward(zs).to_vector(), b = approx.forward(zs).to_vector();
  double gap = 0;
  for (size_t i = 0; i < a.size(); ++i) gap = std::max(gap, std::fabs(a[i] - b[i]));
  EXPECT_GT(gap, 1e-7);
  EXPECT_LT(gap, 0.05);
  std::vector<Tensor> inputs = {test::random_input({2, 8, 3}, 6)};
  for (auto& p : approx.named_parameters()) inputs.push_back(p.tensor);
  test::expect_gradcheck([&](auto& in) { return approx.forward(in[0]); }, inputs);
}

TEST(IclTransformer, BadConfigAndInput) {
  Generator g(0);
  auto c = small_config();
  c.n_embd = 9;  // not divisible by 2 heads
  EXPECT_THROW(models::IclTransformer(c, g), Error);
  c = small_config();
  c.n_layer = 0;
  EXPECT_THROW(models::IclTransformer(c, g), Error);
  c = small_config();
  c.gelu = "relu";
  try {
    models::IclTransformer bad(c, g);
    ADD_FAILURE() << "no error for model.gelu = relu";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("model.gelu"), std::string::npos) << e.what();
  }
  models::IclTransformer m(small_config(), g);
  EXPECT_THROW(m.forward(Tensor::zeros({2, 10, 3})), Error);  // 5 points > n_points
  EXPECT_THROW(m.forward(Tensor::zeros({2, 4, 2})), Error);   // wrong d
}
