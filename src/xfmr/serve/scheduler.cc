#include "xfmr/serve/scheduler.h"

#include <algorithm>
#include <chrono>

#include "xfmr/core/check.h"

namespace xfmr::serve {

// ---- Job ----

Job::Job(std::vector<int32_t> prompt, infer::GenerateOptions opt, bool streaming)
    : prompt_(std::move(prompt)), opt_(std::move(opt)), streaming_(streaming) {
  XF_CHECK(!prompt_.empty(), "serve: a job needs at least one prompt token");
  XF_CHECK(opt_.max_tokens >= 0, "serve: max tokens ", opt_.max_tokens, " must be >= 0");
  for (const std::string& s : opt_.stop) XF_CHECK(!s.empty(), "serve: empty stop string");
}

bool Job::take(std::string& out, int timeout_ms) {
  std::unique_lock<std::mutex> lk(m_);
  cv_.wait_for(lk, std::chrono::milliseconds(timeout_ms), [&] { return done_ || !pending_.empty(); });
  out += pending_;
  pending_.clear();
  return done_;
}

std::string Job::stop_reason() const {
  std::lock_guard<std::mutex> lk(m_);
  return stop_reason_;
}

std::string Job::error() const {
  std::lock_guard<std::mutex> lk(m_);
  return error_;
}

int64_t Job::completion_tokens() const {
  std::lock_guard<std::mutex> lk(m_);
  return completion_tokens_;
}

void Job::push_text(std::string_view piece) {
  {
    std::lock_guard<std::mutex> lk(m_);
    pending_ += piece;
  }
  if (streaming_) cv_.notify_all();
}

void Job::finish(std::string stop_reason, int64_t completion_tokens, std::string error) {
  {
    std::lock_guard<std::mutex> lk(m_);
    if (done_) return;
    done_ = true;
    stop_reason_ = std::move(stop_reason);
    completion_tokens_ = completion_tokens;
    error_ = std::move(error);
  }
  cv_.notify_all();
}

// ---- Scheduler ----


// One sequence's state: the model copy (own KV cache and activations; weights shared), its sampler and text.
struct Scheduler::Slot {
  explicit Slot(std::unique_ptr<infer::Decoder> d)
      : model(std::move(d)), work(static_cast<size_t>(model->vocab_size())) {}
  std::unique_ptr<infer::Decoder> model;
  std::vector<float> work;   // logits copy the sampler edits
  std::shared_ptr<Job> job;  // null: free
  std::unique_ptr<infer::Sampler> sampler;
  std::vector<int32_t> seq;  // prompt + generated ids
  const float* logits = nullptr;
  int64_t fed = 0;        // positions in the KV cache
  int64_t generated = 0;  // sampled tokens (EOS excluded)
  std::string text;       // generated text up to any stop string
  size_t emitted = 0;     // bytes of text passed to the job
};

namespace {

infer::LoadedModel llama_model(const io::LlamaWeights& w) {
  infer::LoadedModel m;
  m.kind = "llama";
  m.path = w.source;
  m.llama = w;
  return m;
}

}  // namespace

Scheduler::Scheduler(const io::LlamaWeights& weights, const tok::Tokenizer* tokenizer, SchedulerOptions opt)
    : Scheduler(llama_model(weights), tokenizer, opt) {}

Scheduler::Scheduler(const infer::LoadedModel& model, const tok::Tokenizer* tokenizer, SchedulerOptions opt)
    : tok_(tokenizer), opt_(opt) {
  XF_CHECK(tok_, "serve: the scheduler needs a tokenizer");
  XF_CHECK(opt_.max_slots >= 1 && opt_.max_slots <= 1024, "serve: max slots ", opt_.max_slots,
           " must be in [1, 1024]");
  XF_CHECK(opt_.queue_size >= 0, "serve: queue size ", opt_.queue_size, " must be >= 0");
  XF_CHECK(opt_.prefill_chunk >= 1, "serve: prefill chunk ", opt_.prefill_chunk, " must be >= 1");
  for (int64_t i = 0; i < opt_.max_slots; ++i)
    slots_.push_back(std::make_unique<Slot>(model.decoder(opt_.context)));
  ctx_ = slots_[0]->model->context_length();
  // The ids that end a sequence, as infer::generate picks them: the model's, else the tokenizer's.
  const infer::Decoder& d = *slots_[0]->model;
  eos_ = d.eos_id() >= 0 ? d.eos_id() : tok_->eos_id();
  bos_ = d.bos_id() >= 0 ? d.bos_id() : tok_->bos_id();
  thread_ = std::thread([this] { loop(); });
}

Scheduler::~Scheduler() {
  stop();
}

bool Scheduler::submit(std::shared_ptr<Job> job) {
  {
    std::lock_guard<std::mutex> lk(m_);
    const int64_t free_slots = max_slots() - active_;
    if (stopping_ || static_cast<int64_t>(waiting_.size()) >= opt_.queue_size + free_slots) return false;
    waiting_.push_back(std::move(job));
  }
  cv_.notify_one();
  return true;
}

void Scheduler::stop() {
  {
    std::lock_guard<std::mutex> lk(m_);
    stopping_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

const io::LlamaWeights& Scheduler::slot_weights(int64_t i) const {
  const auto* llama = dynamic_cast<const infer::LlamaModel*>(slots_.at(static_cast<size_t>(i))->model.get());
  XF_CHECK(llama, "serve: slot ", i, " does not decode a Llama model");
  return llama->weights();
}

bool Scheduler::stopping() const {
  std::lock_guard<std::mutex> lk(m_);
  return stopping_;
}

SchedulerStats Scheduler::stats() const {
  std::lock_guard<std::mutex> lk(m_);
  SchedulerStats s = stats_;
  s.active = active_;
  s.waiting = static_cast<int64_t>(waiting_.size());
  return s;
}

void Scheduler::start_job(Slot& s, std::shared_ptr<Job> job) {
  const infer::GenerateOptions& opt = job->options();
  s.sampler = std::make_unique<infer::Sampler>(opt.sampler, s.model->vocab_size());
  XF_CHECK(static_cast<int64_t>(job->prompt().size()) <= ctx_, "serve: the prompt has ", job->prompt().size(),
           " tokens, more than the context of ", ctx_);
  s.seq = job->prompt();
  s.seq.reserve(s.seq.size() + static_cast<size_t>(std::min<int64_t>(opt.max_tokens, ctx_)));
  s.logits = nullptr;
  s.fed = s.generated = 0;
  s.text.clear();
  s.emitted = 0;
  s.job = std::move(job);
}

// One scheduler step of a sequence, mirroring infer::generate's loop body. True when it has finished.
bool Scheduler::step(Slot& s) {
  Job& job = *s.job;
  const auto finish = [&](const char* reason) {
    if (std::string_view(reason) != "stop" && s.text.size() > s.emitted)
      job.push_text(std::string_view(s.text).substr(s.emitted));
    job.finish(reason, s.generated);
    return true;
  };
  if (job.cancelled()) {
    job.finish("error", s.generated, "cancelled");
    return true;
  }
  const std::vector<int32_t>& prompt = job.prompt();
  const int64_t n_prompt = static_cast<int64_t>(prompt.size());
  if (s.fed < n_prompt) {  // prefill, a chunk per iteration so that long prompts do not stall the others
    const int64_t end = std::min(n_prompt, s.fed + opt_.prefill_chunk);
    // Batched prefill (GEMM-shaped, infer/llama.h), as infer::generate does: same logits as token by token
    // within rounding, several times faster on long prompts.
    s.logits = s.model->prefill(prompt.data() + s.fed, end - s.fed, s.fed);
    s.fed = end;
    return false;
  }
  const infer::GenerateOptions& opt = job.options();
  if (s.generated >= opt.max_tokens) return finish("max_tokens");
  std::copy_n(s.logits, s.model->vocab_size(), s.work.data());
  const int32_t next = s.sampler->sample(s.work.data(), s.seq.data(), static_cast<int64_t>(s.seq.size()));
  if (opt.stop_at_eos && next >= 0 && (next == eos_ || next == bos_)) return finish("eos");
  ++s.generated;
  s.text += tok_->decode_token(s.seq.back(), next);
  size_t cut = std::string::npos;
  for (const std::string& stop : opt.stop) {
    const size_t from = s.emitted > stop.size() ? s.emitted - stop.size() : 0;
    cut = std::min(cut, s.text.find(stop, from));
  }
  if (cut != std::string::npos) {
    s.text.resize(cut);
    if (cut > s.emitted) job.push_text(std::string_view(s.text).substr(s.emitted));
    s.emitted = cut;
    return finish("stop");
  }
  const size_t safe = s.text.size() - infer::stop_string_hold_back(s.text, opt.stop);
  if (safe > s.emitted) job.push_text(std::string_view(s.text).substr(s.emitted, safe - s.emitted));
  s.emitted = std::max(s.emitted, safe);
  s.seq.push_back(next);
  if (s.generated >= opt.max_tokens) return finish("max_tokens");
  const int64_t pos = static_cast<int64_t>(s.seq.size()) - 1;
  if (pos >= ctx_) return finish("context");
  s.logits = s.model->forward(next, pos);
  s.fed = pos + 1;
  return false;
}

void Scheduler::loop() {
  for (;;) {
    {
      std::unique_lock<std::mutex> lk(m_);
      cv_.wait(lk, [&] { return stopping_ || !waiting_.empty() || active_ > 0; });
      if (stopping_) break;
      // A waiting job whose client left gives up its queue place without ever taking a slot.
      for (auto it = waiting_.begin(); it != waiting_.end();) {
        if (!(*it)->cancelled()) {
          ++it;
          continue;
        }
        (*it)->finish("error", 0, "cancelled");
        ++stats_.finished;
        ++stats_.cancelled;
        it = waiting_.erase(it);
      }
      // New requests join between iterations.
      for (auto& s : slots_) {
        if (s->job || waiting_.empty()) continue;
        std::shared_ptr<Job> job = std::move(waiting_.front());
        waiting_.pop_front();
        try {
          start_job(*s, job);
          ++active_;
        } catch (const std::exception& e) {
          job->finish("error", 0, e.what());
        }
      }
      stats_.max_active = std::max(stats_.max_active, active_);
    }
    int64_t finished = 0, cancelled = 0, tokens = 0, prompt_tokens = 0;
    for (auto& s : slots_) {
      if (!s->job) continue;
      const int64_t gen0 = s->generated, fed0 = std::min<int64_t>(s->fed, s->job->prompt().size());
      bool done = false;
      try {
        done = step(*s);
      } catch (const std::exception& e) {
        s->job->finish("error", s->generated, e.what());
        done = true;
      }
      tokens += s->generated - gen0;
      prompt_tokens += std::min<int64_t>(s->fed, s->job->prompt().size()) - fed0;
      if (done) {
        cancelled += s->job->stop_reason() == "error" && s->job->error() == "cancelled" ? 1 : 0;
        ++finished;
        s->job.reset();
      }
    }
    if (opt_.iteration_delay_us > 0)
      std::this_thread::sleep_for(std::chrono::microseconds(opt_.iteration_delay_us));
    std::lock_guard<std::mutex> lk(m_);
    active_ -= finished;
    ++stats_.iterations;
    stats_.tokens += tokens;
    stats_.prompt_tokens += prompt_tokens;
    stats_.finished += finished;
    stats_.cancelled += cancelled;
  }
  // Shutting down: nothing more runs; every waiter is told so.
  std::lock_guard<std::mutex> lk(m_);
  for (auto& s : slots_)
    if (s->job) {
      s->job->finish("error", s->generated, "the server is shutting down");
      s->job.reset();
    }
  for (auto& job : waiting_) job->finish("error", 0, "the server is shutting down");
  waiting_.clear();
  active_ = 0;
}

}  // namespace xfmr::serve
