// The text-LM job's configuration (run/text_lm.h): the presets carry nanoGPT's recipe values, the model they
// build has nanoGPT's parameter count, and invalid settings are errors naming the key.
#include <gtest/gtest.h>

#include "support/errors.h"
#include "xfmr/io/config.h"
#include "xfmr/run/text_lm.h"

using namespace xfmr;

TEST(TextLmConfig, ShakespeareCharCpuIsNanoGptsCpuRecipe) {
  const TextLmConfig c = text_lm_preset("shakespeare-char-cpu");
  EXPECT_EQ(c.model.type, "gpt2");
  EXPECT_EQ(c.model.n_layer, 4);
  EXPECT_EQ(c.model.n_head, 4);
  EXPECT_EQ(c.model.n_embd, 128);
  EXPECT_EQ(c.model.block_size, 64);
  EXPECT_EQ(c.model.dropout, 0.0);
  EXPECT_FALSE(c.model.bias);
  EXPECT_EQ(c.data.batch_size, 12);
  EXPECT_EQ(c.train.steps, 2000);
  EXPECT_EQ(c.train.lr, 1e-3);
  EXPECT_EQ(c.train.min_lr, 1e-4);
  EXPECT_EQ(c.train.warmup, 100);
  EXPECT_EQ(c.train.schedule, "cosine");
  EXPECT_EQ(c.train.beta2, 0.99);
  EXPECT_EQ(c.train.weight_decay, 0.1);
  EXPECT_EQ(c.train.grad_clip, 1.0);
  EXPECT_EQ(c.train.eval_every, 250);
  EXPECT_EQ(c.eval.iters, 20);
  // nanoGPT prints "number of parameters: 0.80M" (it excludes the 64 x 128 position table): 795,904 + 8,192.
  Generator g(0);
  EXPECT_EQ(build_text_model(c.model, 65, g)->num_parameters(), 804096);
  const TextLmConfig full = text_lm_preset("shakespeare-char");
  EXPECT_EQ(full.model.n_layer, 6);
  EXPECT_EQ(full.model.n_embd, 384);
  EXPECT_EQ(full.model.block_size, 256);
  EXPECT_EQ(full.model.dropout, 0.2);
  EXPECT_EQ(full.data.batch_size, 64);
  EXPECT_EQ(full.train.steps, 5000);
  EXPECT_EQ(full.eval.iters, 200);
  EXPECT_NO_THROW(config::validate(text_lm_preset("smoke")));
  test::expect_error([] { text_lm_preset("shakespeare"); }, {"unknown preset 'shakespeare'", "shakespeare-char-cpu"});
}

TEST(TextLmConfig, InvalidSettingsNameTheKey) {
  auto bad = [](const std::string& assignment, std::initializer_list<std::string> parts) {
    TextLmConfig c = text_lm_preset("smoke");
    test::expect_error([&] {
      config::apply_override(c, assignment);
      config::validate(c);
    }, parts);
  };
  bad("model.type=gpt3", {"unknown model type 'gpt3'"});
  bad("model.n_head=3", {"model.n_embd (32)", "model.n_head (3)"});
  bad("model.n_kv_head=1", {"grouped-query attention needs model.type = llama"});
  bad("model.block_size=0", {"model.block_size"});
  bad("model.dropout=1", {"model.dropout"});
  bad("model.activation=relu", {"model.activation"});
  bad("data.batch_size=0", {"data.batch_size"});
  bad("data.val_fraction=0", {"data.val_fraction"});
  bad("eval.iters=0", {"eval.iters"});
  bad("model.depth=3", {"model.depth"});
  TextLmConfig c = text_lm_preset("smoke");
  config::apply_override(c, "model.type=llama");
  config::apply_override(c, "model.n_head=4");
  config::apply_override(c, "model.n_kv_head=3");
  test::expect_error([&] { config::validate(c); }, {"model.n_head (4)", "model.n_kv_head (3)"});
  // Llama with GQA builds; its k/v projections are n_kv_head heads wide.
  config::apply_override(c, "model.n_kv_head=2");
  Generator g(0);
  auto m = build_text_model(c.model, 65, g);
  bool found = false;
  for (const auto& p : m->named_parameters())
    if (p.name == "model.layers.0.self_attn.k_proj.weight") {
      found = true;
      EXPECT_EQ(p.tensor.shape(), (Shape{16, 32}));  // 2 kv heads x head dim 8
    }
  EXPECT_TRUE(found);
}
