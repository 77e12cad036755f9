// Llama (models/llama.h): HF parameter names, logits of a tiny random Llama written by our writer against a
// plain-PyTorch Llama forward (MHA, GQA and MQA), f64 gradients of the loss, save/load round trip, bad configs.
#include <gtest/gtest.h>

#include <filesystem>

#include "lm_test_util.h"
#include "support/errors.h"
#include "support/gradcheck.h"
#include "xfmr/models/llama.h"
#include "xfmr/models/pretrained.h"
#include "xfmr/ops/elementwise.h"
#include "xfmr/ops/loss.h"

using namespace xfmr;

namespace {

models::LlamaConfig tiny_llama(int64_t n_kv_head = 2) {
  models::LlamaConfig c;
  c.vocab_size = 13;
  c.block_size = 8;
  c.n_layer = 2;
  c.n_head = 4;
  c.n_kv_head = n_kv_head;
  c.n_embd = 16;
  c.intermediate_size = 24;
  c.rms_norm_eps = 1e-5;
  return c;
}

void perturb(Module& m, uint64_t seed, double std = 0.3) {
  NoGradGuard ng;
  Generator g(seed);
  for (auto& p : m.named_parameters()) {
    Tensor d = Tensor::empty(p.tensor.shape(), p.tensor.dtype());
    normal_(d, 0.0, std, g);
    p.tensor.copy_(p.tensor.detach() + d);
  }
}

}  // namespace

TEST(Llama, HuggingFaceParameterNames) {
  Generator g(0);
  models::Llama m(tiny_llama(), g);
  std::vector<std::string> names;
  for (const auto& p : m.named_parameters()) names.push_back(p.name);
  const std::vector<std::string> expect = {"model.embed_tokens.weight",
                                           "model.layers.0.self_attn.q_proj.weight",
                                           "model.layers.0.self_attn.k_proj.weight",
                                           "model.layers.0.self_attn.v_proj.weight",
                                           "model.layers.0.self_attn.o_proj.weight",
                                           "model.layers.0.mlp.gate_proj.weight",
                                           "model.layers.0.mlp.up_proj.weight",
                                           "model.layers.0.mlp.down_proj.weight",
                                           "model.layers.0.input_layernorm.weight",
                                           "model.layers.0.post_attention_layernorm.weight"};
  for (size_t i = 0; i < expect.size(); ++i) EXPECT_EQ(names[i], expect[i]);
  EXPECT_EQ(names[names.size() - 2], "model.norm.weight");
  EXPECT_EQ(names.back(), "lm_head.weight");
  for (const auto& p : m.named_parameters())
    if (p.name == "model.layers.0.self_attn.k_proj.weight") {
      EXPECT_EQ(p.tensor.shape(), (Shape{8, 16}));  // 2 kv heads x 4
    }
  EXPECT_EQ(m.forward(test::lm_ids(2, 8, 13)).shape(), (Shape{2, 8, 13}));
  models::LlamaConfig auto_hidden = tiny_llama();
  auto_hidden.intermediate_size = 0;
  EXPECT_EQ(auto_hidden.hidden(), 64);  // ceil(8·16/3) = 43 -> 64
}

TEST(Llama, LogitsMatchPlainTorch) {
  for (int64_t kv : {4, 2, 1}) {  // MHA, GQA, MQA
    Generator g(10 + static_cast<uint64_t>(kv));
    models::Llama m(tiny_llama(kv), g);
    perturb(m, 3);
    const std::string dir = test::lm_temp_dir("llama");
    models::save_pretrained(m, dir);
    SCOPED_TRACE("n_kv_head " + std::to_string(kv));
    test::expect_logits_match_torch(m, dir, test::lm_ids(2, 8, 13));
    std::filesystem::remove_all(dir);
  }
}

// The exported folder is what transformers' LlamaForCausalLM loads (names, [out, in] shapes, config keys; q/k
// projections in HF's rotate-half layout, unpermuted), and HF's forward and greedy decoding on it, by tensor
// name, equal ours: MHA, GQA, MQA.
TEST(Llama, ExportFollowsHuggingFaceLayout) {
  for (int64_t kv : {4, 2, 1}) {
    SCOPED_TRACE(kv);
    Generator g(20 + static_cast<uint64_t>(kv));
    models::Llama m(tiny_llama(kv), g);
    perturb(m, 30 + static_cast<uint64_t>(kv));
    m.eval();
    const std::string dir = test::lm_temp_dir("llama_hf");
    models::save_pretrained(m, dir);
    test::expect_hf_export_matches(m, dir, test::lm_ids(2, 8, 13), {3, 1, 4}, 5);
    std::filesystem::remove_all(dir);
  }
}

TEST(Llama, SaveLoadRoundTripIsBitIdentical) {
  Generator g(4);
  models::Llama m(tiny_llama(1), g);
  perturb(m, 5);
  const std::string dir = test::lm_temp_dir("llama_rt");
  models::save_pretrained(m, dir);
  auto back = models::load_pretrained(dir);
  EXPECT_EQ(back->model_type(), "llama");
  const auto a = m.named_parameters(), b = back->named_parameters();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].tensor.to_vector(), b[i].tensor.to_vector()) << a[i].name;
  NoGradGuard ng;
  const Tensor ids = test::lm_ids(2, 6, 13);
  EXPECT_EQ(m.forward(ids).to_vector(), back->forward(ids).to_vector());
  const auto& c = dynamic_cast<const models::Llama&>(*back).config();
  EXPECT_EQ(c.n_kv_head, 1);
  EXPECT_EQ(c.intermediate_size, 24);
  std::filesystem::remove_all(dir);
}

TEST(Llama, GradcheckOfLossF64) {
  Generator g(6);
  models::LlamaConfig c = tiny_llama(2);
  c.block_size = 5;
  c.n_layer = 1;
  models::Llama m(c, g, DType::f64);
  perturb(m, 7);
  const Tensor ids = test::lm_ids(2, 5, 13, 8), targets = test::lm_ids(2, 5, 13, 9);
  std::vector<Tensor> inputs;
  for (const auto& p : m.named_parameters())
    for (const char* n : {"model.embed_tokens.weight", "model.layers.0.self_attn.k_proj.weight",
                          "model.layers.0.mlp.gate_proj.weight", "model.layers.0.input_layernorm.weight",
                          "lm_head.weight"})
      if (p.name == n) inputs.push_back(p.tensor);
  ASSERT_EQ(inputs.size(), 5u);
  test::expect_gradcheck([&](auto&) { return cross_entropy(m.forward(ids), targets); }, inputs);
}

// model.dropout > 0 in training: attention-probability (fused kernel) and residual dropout from the generator
// passed to forward; eval() is the plain function; a re-seeded generator makes the loss gradcheckable.
TEST(Llama, DropoutTrainingIsSeededAndGradchecks) {
  Generator g(8);
  models::LlamaConfig c = tiny_llama(2);
  c.dropout = 0.25;
  models::Llama m(c, g, DType::f64);
  perturb(m, 9);
  const Tensor ids = test::lm_ids(2, 8, 13, 4), targets = test::lm_ids(2, 8, 13, 5);
  auto run = [&](uint64_t seed) {
    Generator dg(seed);
    return m.forward(ids, &dg).to_vector();
  };
  m.train(true);
  EXPECT_EQ(run(1), run(1));
  EXPECT_NE(run(1), run(2));
  m.eval();
  const auto ev = run(1);
  c.dropout = 0;
  models::Llama plain(c, g, DType::f64);
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
    for (const char* n : {"model.layers.0.self_attn.q_proj.weight", "model.layers.1.self_attn.v_proj.weight"})
      if (p.name == n) inputs.push_back(p.tensor);
  ASSERT_EQ(inputs.size(), 2u);
  test::expect_gradcheck(
      [&](auto&) {
        Generator dg(77);
        return cross_entropy(m.forward(ids, &dg), targets);
      },
      inputs);
}

TEST(Llama, BadConfigAndInput) {
  Generator g(0);
  models::LlamaConfig c = tiny_llama(3);  // 4 heads, 3 kv heads
  test::expect_error([&] { models::Llama m(c, g); }, {"n_head (4)", "n_kv_head (3)"});
  c = tiny_llama();
  c.n_embd = 18;
  test::expect_error([&] { models::Llama m(c, g); }, {"n_embd", "divisible"});
  c = tiny_llama();
  c.n_embd = 12;  // head dim 3: odd
  test::expect_error([&] { models::Llama m(c, g); }, {"even"});
  models::Llama m(tiny_llama(), g);
  test::expect_error([&] { m.forward(test::lm_ids(1, 9, 13)); }, {"Llama", "block_size = 8"});
  nlohmann::json j = m.hf_config();
  j["tie_word_embeddings"] = true;
  Generator init(0);
  test::expect_error([&] { models::model_from_hf_config(j, init); }, {"tie_word_embeddings"});
}
