// serve::Scheduler over a GPT-2 model folder (infer::Gpt2Decoder slots): jobs decoded together reproduce
// infer::generate one by one, as for Llama (scheduler_test.cc), and the slots share the model's weights.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <random>

#include "xfmr/infer/generate.h"
#include "xfmr/infer/load_model.h"
#include "xfmr/io/file_util.h"
#include "xfmr/models/gpt.h"
#include "xfmr/models/pretrained.h"
#include "xfmr/serve/scheduler.h"
#include "xfmr/tokenizers/char.h"

namespace {

using namespace xfmr;

std::string run_to_end(serve::Job& job) {
  std::string text;
  while (!job.take(text, 100)) {
  }
  return text;
}

TEST(ServeGpt2Folder, ConcurrentJobsEqualGenerateOneByOne) {
  std::vector<char32_t> chars;
  for (char c : std::string("\n .abcdefghijklmnopqrstuvwxyz")) chars.push_back(static_cast<char32_t>(c));
  const tok::CharTokenizer tok(chars);
  models::GptConfig c;
  c.vocab_size = tok.vocab_size();
  c.block_size = 64;
  c.n_layer = 2;
  c.n_head = 2;
  c.n_embd = 16;
  Generator init(3);
  models::Gpt m(c, init);
  // Order-one weights, so that sampling is not near-uniform.
  std::mt19937 rng(5);
  for (auto& p : m.named_parameters()) {
    std::uniform_real_distribution<float> u(-0.4f, 0.4f);
    std::vector<float> v(static_cast<size_t>(p.tensor.numel()));
    for (float& x : v)
      x = (p.name.find("ln_") != std::string::npos && p.name.ends_with("weight") ? 1.0f : 0.0f) + u(rng);
    models::copy_parameter(p.tensor, Tensor::from_vector(v, p.tensor.shape()));
  }
  std::string dir = (std::filesystem::temp_directory_path() / "xfmr_serve_gpt2_XXXXXX").string();
  dir = mkdtemp(dir.data());
  models::save_pretrained(m, dir);
  io::write_file_atomic(dir + "/tokenizer.json", tok.to_json());

  const infer::LoadedModel model = infer::load_model(dir);
  ASSERT_EQ(model.kind, "gpt2");
  serve::Scheduler sched(model, &tok, serve::SchedulerOptions{3, 8, 0, 5});
  EXPECT_EQ(sched.context_length(), 64);
  EXPECT_THROW(sched.slot_weights(0), Error);  // not a Llama model
  const std::vector<std::string> prompts = {"the cat", "a dog sat", "once upon a time", "x", "hello world."};
  std::vector<infer::GenerateOptions> opts;
  std::vector<std::shared_ptr<serve::Job>> jobs;
  for (size_t i = 0; i < prompts.size(); ++i) {
    infer::GenerateOptions o;
    o.max_tokens = 20 + 7 * static_cast<int64_t>(i);
    o.sampler.temperature = i % 2 ? 0.9f : 0.0f;
    o.sampler.seed = 100 + i;
    if (i == 2) o.stop = {"e"};
    opts.push_back(o);
    jobs.push_back(std::make_shared<serve::Job>(tok.encode(prompts[i], true), o));
    ASSERT_TRUE(sched.submit(jobs.back()));
  }
  for (size_t i = 0; i < prompts.size(); ++i) {
    const std::string text = run_to_end(*jobs[i]);
    const auto d = model.decoder();
    const infer::GenerateResult want = infer::generate(*d, tok.encode(prompts[i], true), opts[i], &tok);
    EXPECT_EQ(text, want.text) << prompts[i];
    EXPECT_FALSE(text.empty()) << prompts[i];
    EXPECT_EQ(jobs[i]->completion_tokens(), static_cast<int64_t>(want.tokens.size())) << prompts[i];
    EXPECT_EQ(jobs[i]->stop_reason(), want.stop_reason) << prompts[i];
  }
  EXPECT_GE(sched.stats().max_active, 2);
}

}  // namespace
