#include "xfmr/infer/generate.h"

#include <algorithm>
#include <chrono>

#include "xfmr/core/check.h"

namespace xfmr::infer {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

size_t stop_string_hold_back(std::string_view text, const std::vector<std::string>& stops) {
  size_t hold = 0;
  for (const std::string& s : stops)
    for (size_t n = std::min(s.size() - 1, text.size()); n > hold; --n)
      if (text.substr(text.size() - n) == std::string_view(s).substr(0, n)) {
        hold = n;
        break;
      }
  return hold;
}

GenerateResult generate(Decoder& model, const std::vector<int32_t>& prompt, const GenerateOptions& opt,
                        const tok::Tokenizer* tokenizer,
                        const std::function<void(std::string_view)>& on_text) {
  XF_CHECK(!prompt.empty(), "generate: the prompt has no tokens");
  XF_CHECK(opt.max_tokens >= 0, "generate: max tokens ", opt.max_tokens, " must be >= 0");
  XF_CHECK(opt.stop.empty() || tokenizer, "generate: stop strings need a tokenizer");
  for (const std::string& s : opt.stop) XF_CHECK(!s.empty(), "generate: empty stop string");
  const int64_t ctx = model.context_length();
  XF_CHECK(static_cast<int64_t>(prompt.size()) <= ctx, "generate: the prompt has ", prompt.size(),
           " tokens, more than the context of ", ctx);
  const int64_t vocab = model.vocab_size();
  const int32_t eos = model.eos_id() >= 0 ? model.eos_id() : tokenizer ? tokenizer->eos_id() : -1;
  const int32_t bos = model.bos_id() >= 0 ? model.bos_id() : tokenizer ? tokenizer->bos_id() : -1;
  Sampler sampler(opt.sampler, vocab);
  GenerateResult r;
  r.prompt_tokens = static_cast<int64_t>(prompt.size());
  std::vector<int32_t> seq(prompt);
  seq.reserve(prompt.size() + static_cast<size_t>(opt.max_tokens));

  auto t0 = std::chrono::steady_clock::now();
  const float* logits = model.prefill(prompt.data(), static_cast<int64_t>(prompt.size()), 0);  // batched
  r.prefill_seconds = seconds_since(t0);

  // Sampling works on a copy: the penalty edits logits in place, and the model's buffer is reused.
  std::vector<float> work(static_cast<size_t>(vocab));
  size_t emitted = 0;  // bytes of r.text already passed to on_text
  r.stop_reason = "max_tokens";
  t0 = std::chrono::steady_clock::now();
  while (static_cast<int64_t>(r.tokens.size()) < opt.max_tokens) {
    std::copy_n(logits, vocab, work.data());
    const int32_t next = sampler.sample(work.data(), seq.data(), static_cast<int64_t>(seq.size()));
    if (opt.stop_at_eos && next >= 0 && (next == eos || next == bos)) {
      r.stop_reason = "eos";
      break;
    }
    r.tokens.push_back(next);
    if (tokenizer) {
      r.text += tokenizer->decode_token(seq.back(), next);
      size_t cut = std::string::npos;
      for (const std::string& s : opt.stop) {
        // Only the new bytes (and the last stop-length bytes before them) can complete a stop string.
        const size_t from = emitted > s.size() ? emitted - s.size() : 0;
        cut = std::min(cut, r.text.find(s, from));
      }
      if (cut != std::string::npos) {
        r.text.resize(cut);
        if (on_text && cut > emitted) on_text(std::string_view(r.text).substr(emitted));
        emitted = cut;
        r.stop_reason = "stop";
        seq.push_back(next);
        break;
      }
      const size_t safe = r.text.size() - stop_string_hold_back(r.text, opt.stop);
      if (on_text && safe > emitted) on_text(std::string_view(r.text).substr(emitted, safe - emitted));
      emitted = std::max(emitted, safe);
    }
    seq.push_back(next);
    if (static_cast<int64_t>(r.tokens.size()) >= opt.max_tokens) break;
    const int64_t pos = static_cast<int64_t>(seq.size()) - 1;
    if (pos >= ctx) {
      r.stop_reason = "context";
      break;
    }
    logits = model.forward(next, pos);
    ++r.decode_steps;
  }
  r.decode_seconds = seconds_since(t0);
  if (on_text && r.stop_reason != "stop" && r.text.size() > emitted)
    on_text(std::string_view(r.text).substr(emitted));
  return r;
}

std::vector<int32_t> generate_greedy_no_cache(const LlamaReference& ref, const std::vector<int32_t>& prompt,
                                              int64_t max_tokens, int32_t vocab_size) {
  std::vector<int32_t> seq(prompt), out;
  for (int64_t i = 0; i < max_tokens; ++i) {
    const std::vector<float> lg = ref.logits(seq);
    const int32_t next =
        Sampler::argmax(lg.data() + (seq.size() - 1) * static_cast<size_t>(vocab_size), vocab_size);
    out.push_back(next);
    seq.push_back(next);
  }
  return out;
}

}  // namespace xfmr::infer
