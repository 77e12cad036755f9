// A whole pre-LN GPT block (attention + MLP) against PyTorch (f32) and finite differences (f64).
#include <gtest/gtest.h>

#include "support/gradcheck.h"
#include "support/torch_parity.h"
#include "xfmr/nn/transformer_block.h"

using namespace xfmr;

namespace {
// Larger-than-init weights so attention patterns and GELU curvature are exercised, not just the residual path.
void randomize(Module& m, uint64_t seed, double std) {
  Generator g(seed);
  NoGradGuard ng;
  for (auto& p : m.named_parameters()) normal_(p.tensor, 0.0, std, g);
}
}  // namespace

TEST(PreLNBlock, ParameterNames) {
  Generator g(0);
  nn::PreLNBlock blk(16, 4, 2, g);
  std::vector<std::string> names;
  for (auto& p : blk.named_parameters()) names.push_back(p.name);
  const std::vector<std::string> expected = {"ln1.weight", "ln1.bias", "attn.qkv.weight", "attn.qkv.bias",
                                             "attn.proj.weight", "attn.proj.bias", "ln2.weight", "ln2.bias",
                                             "mlp.fc.weight", "mlp.fc.bias", "mlp.proj.weight", "mlp.proj.bias"};
  EXPECT_EQ(names, expected);
  EXPECT_EQ(blk.num_parameters(), 12 * 16 * 16 + 13 * 16);  // 12C² weights + 13C biases/norms
}

TEST(PreLNBlock, TorchParity) {
  test::ParityBatch b;
  Generator g(1);
  nn::PreLNBlock blk(32, 4, 2, g);
  randomize(blk, 2, 0.3);
  std::vector<Tensor> inputs = {b.randn({2, 9, 32})};
  nlohmann::json names = nlohmann::json::array();
  for (auto& p : blk.named_parameters()) {
    inputs.push_back(p.tensor);
    names.push_back(p.name);
  }
  b.add("pre_ln_block", "pre_ln_block", {{"n_head", 4}, {"names", names}}, inputs,
        [&](auto& in) { return blk.forward(in[0]); });
  b.run(1e-4);
}

TEST(PreLNBlock, Gradcheck) {
  Generator g(3);
  nn::PreLNBlock blk(8, 2, 1, g, DType::f64);
  randomize(blk, 4, 0.4);
  std::vector<Tensor> inputs = {test::random_input({2, 5, 8}, 5)};
  for (auto& p : blk.named_parameters()) inputs.push_back(p.tensor);
  test::expect_gradcheck([&](auto& in) { return blk.forward(in[0]); }, inputs);
}

TEST(PreLNBlock, BadInput) {
  Generator g(0);
  EXPECT_THROW(nn::PreLNBlock(30, 4, 1, g), Error);  // 30 not divisible by 4
  nn::PreLNBlock blk(16, 4, 1, g);
  try {
    blk.forward(Tensor::zeros({2, 3, 8}));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("[2, 3, 8]"), std::string::npos) << e.what();
  }
}
