// GPT-2 (models/gpt.h): HF parameter names, logits against a plain-PyTorch GPT-2 (our own files and a
// transformers-written fixture), f64 gradients of the loss, save/load round trip, bad configs.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "lm_test_util.h"
#include "support/errors.h"
#include "support/gradcheck.h"
#include "xfmr/models/gpt.h"
#include "xfmr/models/pretrained.h"
#include "xfmr/ops/elementwise.h"
#include "xfmr/ops/loss.h"

using namespace xfmr;

namespace {

models::GptConfig tiny_gpt(bool bias = true) {
  models::GptConfig c;
  c.vocab_size = 11;
  c.block_size = 8;
  c.n_layer = 2;
  c.n_head = 2;
  c.n_embd = 8;
  c.bias = bias;
  return c;
}

// Weights larger than the 0.02 init (and non-trivial norms and biases) so every path carries signal.
void perturb(Module& m, uint64_t seed, double std = 0.3) {
  NoGradGuard ng;
  Generator g(seed);
  for (auto& p : m.named_parameters()) {
    Tensor d = Tensor::empty(p.tensor.shape(), p.tensor.dtype());
    normal_(d, 0.0, std, g);
    p.tensor.copy_(p.tensor.detach() + d);
  }
}

std::string source(const std::string& rel) { return std::string(XFMR_SOURCE_DIR) + "/" + rel; }

}  // namespace

TEST(Gpt, HuggingFaceParameterNames) {
  Generator g(0);
  models::Gpt m(tiny_gpt(), g);
  std::vector<std::string> names;
  for (const auto& p : m.named_parameters()) names.push_back(p.name);
  const std::vector<std::string> head = {"transformer.wte.weight",          "transformer.wpe.weight",
                                         "transformer.h.0.ln_1.weight",     "transformer.h.0.ln_1.bias",
                                         "transformer.h.0.attn.c_attn.weight", "transformer.h.0.attn.c_attn.bias",
                                         "transformer.h.0.attn.c_proj.weight", "transformer.h.0.attn.c_proj.bias",
                                         "transformer.h.0.ln_2.weight",     "transformer.h.0.ln_2.bias",
                                         "transformer.h.0.mlp.c_fc.weight", "transformer.h.0.mlp.c_fc.bias",
                                         "transformer.h.0.mlp.c_proj.weight", "transformer.h.0.mlp.c_proj.bias"};
  ASSERT_GE(names.size(), head.size());
  for (size_t i = 0; i < head.size(); ++i) EXPECT_EQ(names[i], head[i]);
  EXPECT_EQ(names.back(), "transformer.ln_f.bias");
  EXPECT_EQ(names.size(), 2u + 2u * 12u + 2u);  // tied head: no lm_head.weight
  // HF layout: Conv1D weights [in, out].
  for (const auto& [n, t] : m.hf_state_dict())
    if (n == "transformer.h.0.attn.c_attn.weight") {
      EXPECT_EQ(t.shape(), (Shape{8, 24}));
    }
  EXPECT_EQ(m.forward(test::lm_ids(3, 5, 11)).shape(), (Shape{3, 5, 11}));
}

TEST(Gpt, InitFollowsGpt2) {
  models::GptConfig c = tiny_gpt();
  c.n_embd = 64;
  c.n_layer = 8;
  c.vocab_size = 300;
  c.block_size = 64;
  Generator g(1);
  models::Gpt m(c, g);
  auto std_of = [](const Tensor& t) {
    double s = 0;
    for (double v : t.to_vector()) s += v * v;
    return std::sqrt(s / static_cast<double>(t.numel()));
  };
  for (const auto& p : m.named_parameters()) {
    if (p.name.ends_with("c_proj.weight")) {
      EXPECT_NEAR(std_of(p.tensor), 0.02 / 4.0, 0.0015) << p.name;
    } else if (p.name.ends_with("c_attn.weight") || p.name.ends_with("wte.weight")) {
      EXPECT_NEAR(std_of(p.tensor), 0.02, 0.0015) << p.name;
    }
    if (p.name.ends_with(".bias")) {
      EXPECT_EQ(std_of(p.tensor), 0.0) << p.name;
    }
  }
}

TEST(Gpt, LogitsMatchPlainTorch) {
  for (bool bias : {true, false}) {
    for (GeluApprox approx : {GeluApprox::none, GeluApprox::tanh}) {
      Generator g(2);
      models::GptConfig c = tiny_gpt(bias);
      c.gelu = approx;
      models::Gpt m(c, g);
      perturb(m, 3);
      const std::string dir = test::lm_temp_dir("gpt");
      models::save_pretrained(m, dir);
      test::expect_logits_match_torch(m, dir, test::lm_ids(2, 8, 11));
      std::filesystem::remove_all(dir);
    }
  }
}

// The exported folder is what transformers' GPT2LMHeadModel loads (every name and [in, out] Conv1D shape,
// config keys; a bias-free model is written with zero biases), and HF's forward and greedy decoding on it, by
// tensor name, equal ours.
TEST(Gpt, ExportFollowsHuggingFaceLayout) {
  for (bool bias : {true, false}) {
    SCOPED_TRACE(bias ? "bias" : "no bias");
    Generator g(12);
    models::GptConfig c = tiny_gpt(bias);
    c.gelu = bias ? GeluApprox::tanh : GeluApprox::none;
    models::Gpt m(c, g);
    perturb(m, 13);
    m.eval();
    const std::string dir = test::lm_temp_dir("gpt_hf");
    models::save_pretrained(m, dir);
    test::expect_hf_export_matches(m, dir, test::lm_ids(2, 8, 11), {1, 5, 2}, 5);
    if (bias) {  // the checker is not vacuous: a Linear-layout [out, in] c_attn and a missing bias are caught
      auto sd = m.hf_state_dict();
      for (auto& [n, t] : sd)
        if (n == "transformer.h.0.attn.c_attn.weight") t = transpose(t, 0, 1).contiguous_copy();
      std::erase_if(sd, [](const auto& e) { return e.first == "transformer.h.1.ln_2.bias"; });
      io::save_safetensors(dir + "/model.safetensors", sd, {{"format", "pt"}});
      nlohmann::json req = {{"model_dir", dir}, {"ids", {{1, 2}}}, {"prompt", {1}}, {"n_new", 1}};
      const nlohmann::json reply = test::call_python_oracle("hf_export_check.py", req);
      if (!reply.is_null()) {
        const std::string pr = reply["problems"].dump();
        EXPECT_NE(pr.find("transformer.h.0.attn.c_attn.weight has shape [24, 8]"), std::string::npos) << pr;
        EXPECT_NE(pr.find("missing tensor transformer.h.1.ln_2.bias"), std::string::npos) << pr;
      }
    }
    // The zero biases read back into a bias-free model; a nonzero one is refused.
    if (!bias) {
      EXPECT_FALSE(dynamic_cast<const models::Gpt&>(*models::load_pretrained(dir)).config().bias);
      auto sd = m.hf_state_dict();
      for (auto& [n, t] : sd)
        if (n == "transformer.h.1.mlp.c_fc.bias") t = Tensor::full(t.shape(), 0.5, t.dtype());
      io::save_safetensors(dir + "/model.safetensors", sd, {{"format", "pt"}});
      test::expect_error([&] { models::load_pretrained(dir); }, {"transformer.h.1.mlp.c_fc.bias", "not zero"});
    }
    std::filesystem::remove_all(dir);
  }
}

TEST(Gpt, HuggingFaceFixtureLoadsAndMatchesTorch) {
  const std::string dir = source("data/hf-tiny-gpt2");
  auto m = models::load_pretrained(dir);
  EXPECT_EQ(m->model_type(), "gpt2");
  EXPECT_EQ(m->vocab_size(), 21);
  EXPECT_EQ(m->block_size(), 1024);
  const auto& gpt = dynamic_cast<const models::Gpt&>(*m);
  EXPECT_EQ(gpt.config().gelu, GeluApprox::tanh);  // activation_function gelu_new
  test::expect_logits_match_torch(*m, dir, test::lm_ids(2, 7, 21, 9));
}

TEST(Gpt, SaveLoadRoundTripIsBitIdentical) {
  Generator g(4);
  models::Gpt m(tiny_gpt(false), g);
  perturb(m, 5);
  const std::string dir = test::lm_temp_dir("gpt_rt");
  models::save_pretrained(m, dir);
  auto back = models::load_pretrained(dir);
  const auto a = m.named_parameters(), b = back->named_parameters();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].name, b[i].name);
    EXPECT_EQ(a[i].tensor.to_vector(), b[i].tensor.to_vector()) << a[i].name;
  }
  NoGradGuard ng;
  const Tensor ids = test::lm_ids(2, 6, 11);
  EXPECT_EQ(m.forward(ids).to_vector(), back->forward(ids).to_vector());
  EXPECT_FALSE(dynamic_cast<const models::Gpt&>(*back).config().bias);
  std::filesystem::remove_all(dir);
}

TEST(Gpt, GradcheckOfLossF64) {
  Generator g(6);
  models::GptConfig c = tiny_gpt();
  c.block_size = 5;
  models::Gpt m(c, g, DType::f64);
  perturb(m, 7);
  const Tensor ids = test::lm_ids(2, 5, 11, 8), targets = test::lm_ids(2, 5, 11, 9);
  // A few parameters from every kind of layer (the full list is slow in finite differences).
  std::vector<Tensor> inputs;
  for (const auto& p : m.named_parameters())
    for (const char* n : {"transformer.wte.weight", "transformer.wpe.weight", "transformer.h.0.attn.c_attn.weight",
                          "transformer.h.1.mlp.c_fc.bias", "transformer.h.1.ln_2.weight", "transformer.ln_f.bias"})
      if (p.name == n) inputs.push_back(p.tensor);
  ASSERT_EQ(inputs.size(), 6u);
  test::expect_gradcheck([&](auto&) { return cross_entropy(m.forward(ids), targets); }, inputs);
}

// model.dropout > 0 in training: embedding, attention-probability (inside the fused kernel) and residual
// dropout, all drawn from the generator passed to forward; eval() is the plain function. With a generator
// re-seeded per call the loss is a deterministic function of the weights, so its gradients pass gradcheck.
TEST(Gpt, DropoutTrainingIsSeededAndGradchecks) {
  Generator g(8);
  models::GptConfig c = tiny_gpt();
  c.dropout = 0.25;
  models::Gpt m(c, g, DType::f64);
  perturb(m, 9);
  const Tensor ids = test::lm_ids(2, 8, 11, 4), targets = test::lm_ids(2, 8, 11, 5);
  auto run = [&](uint64_t seed) {
    Generator dg(seed);
    return m.forward(ids, &dg).to_vector();
  };
  m.train(true);
  EXPECT_EQ(run(1), run(1));
  EXPECT_NE(run(1), run(2));
  m.eval();
  const auto ev = run(1);
  EXPECT_EQ(ev, run(2));
  c.dropout = 0;
  models::Gpt plain(c, g, DType::f64);
  {
    NoGradGuard ng;
    const auto a = m.named_parameters();
    auto b = plain.named_parameters();
    for (size_t i = 0; i < a.size(); ++i) b[i].tensor.copy_(a[i].tensor.detach());
  }
  EXPECT_EQ(ev, plain.forward(ids).to_vector());
  m.train(true);
  std::vector<Tensor> inputs;
  for (const auto& p : m.named_parameters())
    for (const char* n : {"transformer.h.0.attn.c_attn.weight", "transformer.h.1.attn.c_attn.bias",
                          "transformer.h.1.mlp.c_proj.weight"})
      if (p.name == n) inputs.push_back(p.tensor);
  ASSERT_EQ(inputs.size(), 3u);
  test::expect_gradcheck(
      [&](auto&) {
        Generator dg(77);
        return cross_entropy(m.forward(ids, &dg), targets);
      },
      inputs);
}

TEST(Gpt, BadConfigAndInput) {
  Generator g(0);
  models::GptConfig c = tiny_gpt();
  c.n_embd = 9;
  test::expect_error([&] { models::Gpt m(c, g); }, {"n_embd", "divisible", "n_head"});
  c = tiny_gpt();
  c.dropout = 1.0;
  test::expect_error([&] { models::Gpt m(c, g); }, {"dropout"});
  models::Gpt m(tiny_gpt(), g);
  test::expect_error([&] { m.forward(test::lm_ids(1, 9, 11)); }, {"Gpt", "block_size = 8"});
  test::expect_error([&] { m.forward(Tensor::zeros({2, 3})); }, {"Gpt", "i64"});
  test::expect_error([&] { m.forward(Tensor::full({1, 2}, 11, DType::i64)); }, {"11"});
  // HF configs this model cannot represent, and unknown model types.
  nlohmann::json j = m.hf_config();
  j["model_type"] = "bert";
  Generator init(0);
  test::expect_error([&] { models::model_from_hf_config(j, init); }, {"unknown model_type 'bert'"});
  j = m.hf_config();
  j["activation_function"] = "relu";
  test::expect_error([&] { models::model_from_hf_config(j, init); }, {"activation_function"});
}

TEST(Gpt, LoadRejectsWrongShapesAndStrayTensors) {
  Generator g(1);
  models::Gpt m(tiny_gpt(), g);
  const std::string dir = test::lm_temp_dir("gpt_bad");
  models::save_pretrained(m, dir);
  auto sd = m.hf_state_dict();
  // A stray tensor.
  auto extra = sd;
  extra.emplace_back("transformer.h.9.mlp.c_fc.weight", Tensor::zeros({2, 2}));
  io::save_safetensors(dir + "/model.safetensors", extra);
  test::expect_error([&] { models::load_pretrained(dir); }, {"does not use", "transformer.h.9.mlp.c_fc.weight"});
  // A missing tensor.
  auto missing = sd;
  missing.pop_back();
  io::save_safetensors(dir + "/model.safetensors", missing);
  test::expect_error([&] { models::load_pretrained(dir); }, {"has no tensor", "transformer.ln_f.bias"});
  // A wrong shape.
  auto wrong = sd;
  wrong[0].second = Tensor::zeros({11, 7});
  io::save_safetensors(dir + "/model.safetensors", wrong);
  test::expect_error([&] { models::load_pretrained(dir); }, {"transformer.wte.weight", "[11, 7]"});
  std::filesystem::remove_all(dir);
}
