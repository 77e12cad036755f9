// serve::Scheduler without HTTP: jobs decoded together reproduce infer::generate one by one (greedy and
// seeded sampling, stop strings, the token budget, the context's end), the slots share one copy of the
// weights, the queue bound holds, a cancelled job leaves its slot, stop() ends every job.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "serve/serve_util.h"
#include "xfmr/serve/scheduler.h"

namespace {

using xfmr::serve::Job;
using xfmr::serve::Scheduler;
using xfmr::serve::SchedulerOptions;
namespace test = xfmr::test;

std::string run_to_end(Job& job) {
  std::string text;
  while (!job.take(text, 100)) {
  }
  return text;
}

TEST(ServeScheduler, ConcurrentJobsEqualGenerateOneByOne) {
  const auto tok = test::stories_tokenizer();
  Scheduler sched(test::stories_weights(), tok.get(), SchedulerOptions{4, 16, 0, 3});
  struct Case {
    std::string prompt;
    xfmr::infer::GenerateOptions opt;
  };
  std::vector<Case> cases;
  for (size_t i = 0; i < test::serve_prompts().size(); ++i) {
    xfmr::infer::GenerateOptions o = test::greedy(40 + 37 * static_cast<int64_t>(i));
    if (i % 2) {  // seeded sampling: the same seed must give the same text whatever runs beside it
      o.sampler.temperature = 0.9f;
      o.sampler.top_p = 0.9f;
      o.sampler.top_k = i % 4 == 1 ? 20 : 0;
      o.sampler.repeat_penalty = i == 3 ? 1.2f : 1.0f;
      o.sampler.seed = 1000 + i;
    }
    if (i == 2) o.stop = {"was", " the"};
    cases.push_back({test::serve_prompts()[i], o});
  }
  std::vector<std::shared_ptr<Job>> jobs;
  for (const Case& c : cases) {
    jobs.push_back(std::make_shared<Job>(tok->encode(c.prompt, true), c.opt));
    ASSERT_TRUE(sched.submit(jobs.back()));
  }
  for (size_t i = 0; i < cases.size(); ++i) {
    const std::string text = run_to_end(*jobs[i]);
    const test::Expected want = test::expected_generation(cases[i].prompt, cases[i].opt);
    EXPECT_EQ(text, want.text) << cases[i].prompt;
    EXPECT_EQ(jobs[i]->completion_tokens(), want.completion_tokens) << cases[i].prompt;
    EXPECT_EQ(xfmr::serve::finish_reason(jobs[i]->stop_reason()), want.finish) << cases[i].prompt;
  }
  const auto st = sched.stats();
  EXPECT_EQ(st.finished, 8);
  EXPECT_EQ(st.active, 0);
  EXPECT_GE(st.max_active, 2);  // they really ran side by side
  EXPECT_LE(st.max_active, 4);
}

TEST(ServeScheduler, SlotsShareTheWeights) {
  const auto tok = test::stories_tokenizer();
  Scheduler sched(test::stories_weights(), tok.get(), SchedulerOptions{3, 0, 64, 32});
  const auto& w = test::stories_weights();
  EXPECT_EQ(sched.context_length(), 64);
  for (int64_t i = 0; i < 3; ++i) {
    const auto& sw = sched.slot_weights(i);
    EXPECT_EQ(sw.tok_embd.data, w.tok_embd.data);
    EXPECT_EQ(sw.layers[0].wq.data, w.layers[0].wq.data);
    EXPECT_EQ(sw.output.data, w.output.data);
  }
}

TEST(ServeScheduler, ContextEndAndZeroTokens) {
  const auto tok = test::stories_tokenizer();
  Scheduler sched(test::stories_weights(), tok.get(), SchedulerOptions{2, 4, 24, 5});
  // A 24-position context: generation stops at its end, as generate does with a 24-position model.
  const auto ids = tok->encode("Once upon a time there was", true);
  auto job = std::make_shared<Job>(ids, test::greedy(100));
  auto zero = std::make_shared<Job>(ids, test::greedy(0));
  ASSERT_TRUE(sched.submit(job));
  ASSERT_TRUE(sched.submit(zero));
  const std::string text = run_to_end(*job);
  xfmr::infer::LlamaModel small(test::stories_weights(), 24);
  const auto want = xfmr::infer::generate(small, ids, test::greedy(100), tok.get());
  EXPECT_EQ(text, want.text);
  EXPECT_EQ(job->stop_reason(), want.stop_reason);
  EXPECT_EQ(run_to_end(*zero), "");
  EXPECT_EQ(zero->stop_reason(), "max_tokens");
  EXPECT_EQ(zero->completion_tokens(), 0);
  // A prompt longer than the context is refused by the job, not by a crash.
  auto too_long = std::make_shared<Job>(std::vector<int32_t>(30, 5), test::greedy(4));
  ASSERT_TRUE(sched.submit(too_long));
  run_to_end(*too_long);
  EXPECT_EQ(too_long->stop_reason(), "error");
  EXPECT_NE(too_long->error().find("context"), std::string::npos);
}

TEST(ServeScheduler, QueueBoundCancelAndStop) {
  const auto tok = test::stories_tokenizer();
  SchedulerOptions so{1, 1, 0, 32};
  so.iteration_delay_us = 2000;  // ~500 tokens/s: a job of 400 tokens outlives this test's checks
  auto sched = std::make_unique<Scheduler>(test::stories_weights(), tok.get(), so);
  const auto ids = tok->encode("Once upon a time", true);
  auto a = std::make_shared<Job>(ids, test::greedy(400));
  auto b = std::make_shared<Job>(ids, test::greedy(400));
  auto c = std::make_shared<Job>(ids, test::greedy(400));
  ASSERT_TRUE(sched->submit(a));
  // Wait until a holds the slot: then b may wait, c may not.
  for (int i = 0; i < 2000 && sched->stats().active == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  ASSERT_EQ(sched->stats().active, 1);
  EXPECT_TRUE(sched->submit(b));
  EXPECT_FALSE(sched->submit(c));
  // Cancelling a frees its slot at once; b takes it.
  std::string part;
  a->take(part, 1000);
  a->cancel();
  run_to_end(*a);
  EXPECT_EQ(a->stop_reason(), "error");
  EXPECT_EQ(a->error(), "cancelled");
  EXPECT_LT(a->completion_tokens(), 400);
  for (int i = 0; i < 2000 && sched->stats().waiting > 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_EQ(sched->stats().waiting, 0);
  EXPECT_EQ(sched->stats().cancelled, 1);
  // Stopping ends b (running) with an error; submit refuses afterwards.
  sched->stop();
  run_to_end(*b);
  EXPECT_EQ(b->stop_reason(), "error");
  EXPECT_NE(b->error().find("shutting down"), std::string::npos);
  EXPECT_FALSE(sched->submit(c));
  sched.reset();
}

}  // namespace
