// Continuous batching for `xfmr serve`: one scheduler thread owns max_slots sequence slots, each a decoder
// (infer::Decoder: a LlamaModel, or a Gpt2Decoder for GPT-2 folders) with its own KV cache and activations
// over the SAME weight buffers (io::LlamaWeights is a view: pointers into one memory-mapped file, kept alive
// by shared owners, so a copy per slot copies pointers, never weights; Gpt2Decoders read one models::Gpt). Requests wait in a bounded queue; every iteration of the scheduler
//   1. moves waiting jobs into free slots (new requests join between iterations),
//   2. advances every active sequence by one step: a chunk of at most prefill_chunk prompt tokens while the
//      prompt is being read, then one sampled token (sample from the last logits, then forward it),
//   3. drops sequences that finished (EOS, token budget, context, stop string) or whose client went away.
// Each step reproduces infer::generate exactly (same sampler chain, seed, stop-string and EOS rules), so a
// request's text does not depend on what else is running. The sequences are still advanced one after another
// (one matrix-vector product per sequence and weight); a batched matmul across the slots is the next
// speed-up.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "xfmr/infer/generate.h"
#include "xfmr/infer/llama.h"
#include "xfmr/infer/load_model.h"
#include "xfmr/tokenizers/tokenizer.h"

namespace xfmr::serve {

// One generation request, shared by the HTTP thread that waits on it and the scheduler thread that runs it.
class Job {
 public:
  // prompt: token ids (at least one); opt as for infer::generate (stop strings need the scheduler's
  // tokenizer). streaming: the waiter is woken for every piece of text; otherwise only at the end (a
  // non-streaming request's thread then sleeps through the whole generation instead of waking once per
  // token).
  Job(std::vector<int32_t> prompt, infer::GenerateOptions opt, bool streaming = true);

  const std::vector<int32_t>& prompt() const { return prompt_; }
  const infer::GenerateOptions& options() const { return opt_; }

  // ---- the waiting side ----
  // Waits up to timeout_ms for text not taken yet or for the end; appends that text to `out`. Returns true
  // once the job has ended and every piece of its text was taken.
  bool take(std::string& out, int timeout_ms);
  // Ends the sequence early (the client went away): the scheduler frees its slot at the next iteration.
  void cancel() { cancelled_ = true; }
  bool cancelled() const { return cancelled_; }
  // Valid once take() returned true: infer's stop reason ("eos", "max_tokens", "context", "stop"), or
  // "error" with error() set ("cancelled" when cancelled); the number of generated tokens.
  std::string stop_reason() const;
  std::string error() const;
  int64_t completion_tokens() const;

  // ---- the scheduler side ----
  void push_text(std::string_view piece);
  void finish(std::string stop_reason, int64_t completion_tokens, std::string error = "");

 private:
  std::vector<int32_t> prompt_;
  infer::GenerateOptions opt_;
  bool streaming_;
  std::atomic<bool> cancelled_{false};
  mutable std::mutex m_;
  std::condition_variable cv_;
  std::string pending_;
  bool done_ = false;
  std::string stop_reason_, error_;
  int64_t completion_tokens_ = 0;
};

struct SchedulerOptions {
  int64_t max_slots = 4;       // sequences decoded together (each with its own KV cache)
  int64_t queue_size = 16;     // jobs allowed to wait for a slot; submit() refuses more
  int64_t context = 0;         // KV cache positions per slot (0: the model's seq_len)
  int64_t prefill_chunk = 32;  // prompt tokens a prefilling sequence reads per iteration
  // Test hook: a sleep after every iteration, so that tests of timing (a full queue, a client leaving
  // mid-stream) behave as with a model large enough for a token to take that long. 0 in production.
  int64_t iteration_delay_us = 0;
};

struct SchedulerStats {
  int64_t active = 0, waiting = 0;        // now
  int64_t iterations = 0;                 // scheduler iterations so far
  int64_t tokens = 0, prompt_tokens = 0;  // generated / prefilled so far
  int64_t finished = 0, cancelled = 0;    // jobs so far
  int64_t max_active = 0;                 // most sequences active in one iteration
};

class Scheduler {
 public:
  // weights: shared with every slot (see above); tokenizer: decodes the generated text (must outlive this).
  Scheduler(const io::LlamaWeights& weights, const tok::Tokenizer* tokenizer, SchedulerOptions opt);
  // Any model infer::load_model opens (every slot a model.decoder(opt.context)).
  Scheduler(const infer::LoadedModel& model, const tok::Tokenizer* tokenizer, SchedulerOptions opt);
  ~Scheduler();  // stop()
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Queues a job; false when max_slots are busy and queue_size jobs already wait, or after stop().
  bool submit(std::shared_ptr<Job> job);
  // Ends every running and waiting job with error "the server is shutting down" and joins the thread.
  void stop();

  bool stopping() const;  // stop() was called
  int64_t context_length() const { return ctx_; }
  int64_t max_slots() const { return static_cast<int64_t>(slots_.size()); }
  SchedulerStats stats() const;
  // The weights slot i decodes with (to check that slots share one copy). Error for a non-Llama model.
  const io::LlamaWeights& slot_weights(int64_t i) const;

 private:
  struct Slot;
  void loop();
  bool step(Slot& s);  // true when the sequence has finished
  void start_job(Slot& s, std::shared_ptr<Job> job);

  const tok::Tokenizer* tok_;
  SchedulerOptions opt_;
  int64_t ctx_ = 0;
  int32_t eos_ = -1, bos_ = -1;
  std::vector<std::unique_ptr<Slot>> slots_;

  mutable std::mutex m_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Job>> waiting_;
  int64_t active_ = 0;
  bool stopping_ = false;
  SchedulerStats stats_;
  std::thread thread_;
};

}  // namespace xfmr::serve
