// Module registry: dotted names, order (own parameters first, then children depth first, as torch), decay
// flags, tied weights listed once, training mode propagation, and the naming errors.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "support/errors.h"
#include "xfmr/core/check.h"
#include "xfmr/nn/module.h"

using xfmr::test::error_of;

using namespace xfmr;

namespace {

struct Lin : Module {
  Tensor weight, bias;
  Lin(int64_t in, int64_t out) {
    weight = register_parameter("weight", Tensor::ones({out, in}));
    bias = register_parameter("bias", Tensor::zeros({out}), /*decay=*/false);
  }
};

struct Block : Module {
  Tensor norm_w;
  Lin qkv{4, 12}, proj{4, 4};
  Block() {
    norm_w = register_parameter("ln_w", Tensor::ones({4}), false);
    register_module("qkv", qkv);
    register_module("proj", proj);
  }
};

struct Net : Module {
  Tensor wte;
  Block b0, b1;
  Tensor head_extra;
  Net() {
    wte = register_parameter("wte", Tensor::ones({10, 4}, DType::f64));
    register_module("b0", b0);
    register_module("b1", b1);
    head_extra = register_parameter("scale", Tensor::ones({1}), false);  // registered after the children
  }
};

std::vector<std::string> names(const Module& m) {
  std::vector<std::string> out;
  for (const auto& p : m.named_parameters()) out.push_back(p.name);
  return out;
}


}  // namespace

TEST(Module, NamesOrderAndDecay) {
  Net net;
  const std::vector<std::string> expected = {
      "wte",          "scale",   "b0.ln_w",       "b0.qkv.weight", "b0.qkv.bias",    "b0.proj.weight",
      "b0.proj.bias", "b1.ln_w", "b1.qkv.weight", "b1.qkv.bias",   "b1.proj.weight", "b1.proj.bias"};
  EXPECT_EQ(names(net), expected);
  const auto np = net.named_parameters();
  EXPECT_EQ(names(net), expected) << "order must be deterministic";
  std::vector<bool> decay;
  for (const auto& p : np) decay.push_back(p.decay);
  EXPECT_EQ(decay, (std::vector<bool>{true, false, false, true, false, true, false, false, true, false, true,
                                      false}));
  for (const auto& p : np) EXPECT_TRUE(p.tensor.requires_grad()) << p.name;
  // The listed tensors are the module's tensors (shared), not copies.
  EXPECT_TRUE(np[3].tensor.is_same(net.b0.qkv.weight));
  EXPECT_TRUE(np[0].tensor.is_same(net.wte));
  EXPECT_EQ(np[0].tensor.dtype(), DType::f64);
  const auto ps = net.parameters();
  ASSERT_EQ(ps.size(), expected.size());
  for (size_t i = 0; i < ps.size(); ++i) EXPECT_TRUE(ps[i].is_same(np[i].tensor));
  // 40 + 1 + 2 * (4 + 48 + 12 + 16 + 4)
  EXPECT_EQ(net.num_parameters(), 40 + 1 + 2 * (4 + 48 + 12 + 16 + 4));
  // Sub-tree listing uses names relative to that module.
  EXPECT_EQ(names(net.b1.qkv), (std::vector<std::string>{"weight", "bias"}));
}

TEST(Module, ReturnedReferenceIsStable) {
  Module m;
  Tensor& first = m.register_parameter("p0", Tensor::zeros({2}));
  for (int i = 1; i < 100; ++i) m.register_parameter(std::to_string(i), Tensor::zeros({2}));
  EXPECT_TRUE(first.is_same(m.named_parameters()[0].tensor));
  EXPECT_EQ(m.named_parameters().size(), 100u);
}

TEST(Module, TiedWeightsListedOnce) {
  struct Tied : Module {
    Lin emb{4, 10}, head{4, 10};
    Tied() {
      register_module("emb", emb);
      register_module("head", head);
    }
  } t;
  // Tie after construction the usual way: register the same tensor under a second name.
  Module outer;
  Tensor w = Tensor::ones({3, 3});
  outer.register_parameter("a", w);
  outer.register_parameter("b", w);
  EXPECT_EQ(names(outer), (std::vector<std::string>{"a"}));
  EXPECT_EQ(outer.num_parameters(), 9);
  // A child registered twice (shared sub-module) also lists its tensors once, under the first path.
  Module shared_parent;
  Lin shared(2, 2);
  shared_parent.register_module("x", shared);
  shared_parent.register_module("y", shared);
  EXPECT_EQ(names(shared_parent), (std::vector<std::string>{"x.weight", "x.bias"}));
  EXPECT_EQ(t.num_parameters(), 2 * (40 + 10));
}

TEST(Module, DuplicateAndBadNames) {
  Lin l(2, 3);
  EXPECT_NE(
      error_of([&] { l.register_parameter("weight", Tensor::zeros({1})); }).find("duplicate name 'weight'"),
      std::string::npos);
  Lin c(1, 1);
  EXPECT_NE(error_of([&] { l.register_module("bias", c); }).find("duplicate name 'bias'"), std::string::npos);
  l.register_module("child", c);
  EXPECT_NE(
      error_of([&] { l.register_parameter("child", Tensor::zeros({1})); }).find("duplicate name 'child'"),
      std::string::npos);
  EXPECT_NE(error_of([&] { l.register_parameter("a.b", Tensor::zeros({1})); }).find("'a.b'"),
            std::string::npos);
  EXPECT_NE(error_of([&] { l.register_parameter("", Tensor::zeros({1})); }).find("empty name"),
            std::string::npos);
  EXPECT_NE(error_of([&] { l.register_parameter("idx", Tensor::zeros({1}, DType::i64)); }).find("'idx'"),
            std::string::npos);
  EXPECT_NE(error_of([&] { l.register_parameter("u", Tensor()); }).find("undefined"), std::string::npos);
  EXPECT_NE(error_of([&] { l.register_module("self", l); }).find("cycle"), std::string::npos);
  EXPECT_NE(error_of([&] { c.register_module("parent", l); }).find("cycle"), std::string::npos);
}

TEST(Module, TrainEvalPropagates) {
  Net net;
  EXPECT_TRUE(net.training());
  net.eval();
  EXPECT_FALSE(net.training());
  EXPECT_FALSE(net.b1.proj.training());
  net.b0.train();
  EXPECT_TRUE(net.b0.qkv.training());
  EXPECT_FALSE(net.training());
  EXPECT_FALSE(net.b1.qkv.training());
  net.train(true);
  EXPECT_TRUE(net.b1.qkv.training());
}

TEST(Module, ZeroGradKeepsBuffers) {
  Net net;
  for (auto& p : net.named_parameters()) {
    Tensor g = Tensor::full(p.tensor.shape(), 3.0, p.tensor.dtype());
    p.tensor.set_grad(g);
  }
  const void* before = net.b0.qkv.weight.grad().raw_data();
  net.zero_grad();
  EXPECT_EQ(net.b0.qkv.weight.grad().raw_data(), before);
  for (auto& p : net.named_parameters())
    for (double v : p.tensor.grad().to_vector()) ASSERT_EQ(v, 0.0) << p.name;
}
