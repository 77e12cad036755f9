// xfmr generate: run a Llama-architecture checkpoint (.gguf or llama2.c .bin) on a prompt and stream the
// text.
#include <cstdio>
#include <string>

#include "xfmr/cli/args.h"
#include "xfmr/cli/commands.h"
#include "xfmr/core/check.h"
#include "xfmr/core/parallel.h"
#include "xfmr/infer/generate.h"
#include "xfmr/infer/model_tokenizer.h"
#include "xfmr/io/llama_weights.h"

namespace xfmr::cli {

int cmd_generate(int argc, char** argv) {
  Args args(
      "generate",
      "usage: xfmr generate --model FILE --prompt TEXT [options]\n\n"
      "Runs a Llama-architecture model (GGUF with f32/f16/q8_0/q4_0 weights, or a llama2.c .bin) on a "
      "prompt\n"
      "and streams the continuation to stdout: the prompt, then the generated text. A stats line (tokens/s\n"
      "for the prompt and for decoding) goes to stderr unless --raw. Sampling is seeded: the same --seed\n"
      "gives the same text. Sampling order: repeat penalty, temperature, top-k, top-p, min-p.\n\n"
      "Tokenizer: --tokenizer FILE (llama2.c tokenizer.bin, SentencePiece .model, or a .gguf's vocabulary);\n"
      "by default a .gguf's own vocabulary, or for a .bin the tok<vocab>.bin / tokenizer.bin beside it.\n\n"
      "Examples:\n"
      "  xfmr generate --model data/stories260K/stories260K.bin --prompt \"Once upon a time\"\n"
      "  xfmr generate --model stories15M.q8_0.gguf --prompt \"Lily\" --temperature 0.8 --top-p 0.9 --seed "
      "7\n"
      "  xfmr generate --model m.gguf --prompt \"The cat\" --temperature 0 --max-tokens 40 --raw\n"
      "  xfmr generate --model m.gguf --prompt \"Hi\" --stop \".\" --stop \"!\" --threads 1\n",
      {{"model", "checkpoint: .gguf or llama2.c .bin", ""},
       {"tokenizer", "tokenizer file (default: from the model, see above)", ""},
       {"prompt", "prompt text (BOS is prepended)", ""},
       {"temperature", "sampling temperature; 0 = greedy", "0.8"},
       {"top-k", "keep the k most probable tokens (0 = off)", "0"},
       {"top-p", "nucleus sampling mass (1 = off)", "0.95"},
       {"min-p", "drop tokens below min-p times the top probability (0 = off)", "0.05"},
       {"repeat-penalty", "penalty on the last 64 tokens (1 = off)", "1.0"},
       {"seed", "random seed", "0"},
       {"max-tokens", "new tokens at most", "256"},
       {"stop", "stop string (repeatable); not printed", ""},
       {"raw", "print only the prompt and the generated text", "", true},
       {"threads", "threads (0 = all cores; or XFMR_THREADS)", ""}});
  if (!args.parse(argc, argv)) return 0;
  if (args.has("threads")) set_num_threads(static_cast<int>(args.get_int("threads")));
  const std::string model_path = args.get("model");
  XF_CHECK(!model_path.empty(), "--model is required (a .gguf or llama2.c .bin file)");
  XF_CHECK(args.has("prompt"), "--prompt is required");
  const bool raw = args.get_bool("raw");

  infer::GenerateOptions opt;
  opt.sampler.temperature = static_cast<float>(args.get_double("temperature"));
  opt.sampler.top_k = args.get_int("top-k");
  opt.sampler.top_p = static_cast<float>(args.get_double("top-p"));
  opt.sampler.min_p = static_cast<float>(args.get_double("min-p"));
  opt.sampler.repeat_penalty = static_cast<float>(args.get_double("repeat-penalty"));
  opt.sampler.seed = static_cast<uint64_t>(args.get_int("seed"));
  opt.max_tokens = args.get_int("max-tokens");
  XF_CHECK(opt.max_tokens >= 0, "--max-tokens ", opt.max_tokens, " must be >= 0");
  infer::validate_sampler_config(opt.sampler);
  for (const std::string& s : args.get_all("stop"))
    if (!s.empty()) opt.stop.push_back(s);

  io::LlamaWeights w = io::load_llama_weights(model_path);
  const auto tokenizer = infer::tokenizer_for_model(model_path, args.get("tokenizer"), w.cfg.vocab_size);
  const std::vector<int32_t> prompt = tokenizer->encode(args.get("prompt"), /*add_bos=*/true);
  XF_CHECK(!prompt.empty(), "the prompt encodes to no tokens and the tokenizer has no BOS");
  // The KV cache only needs the positions this run can reach.
  const int64_t want = static_cast<int64_t>(prompt.size()) + opt.max_tokens;
  XF_CHECK(static_cast<int64_t>(prompt.size()) <= w.cfg.seq_len, "the prompt has ", prompt.size(),
           " tokens, more than the model's context of ", w.cfg.seq_len);
  infer::LlamaModel model(std::move(w), want);

  std::string shown;
  for (size_t i = 0; i < prompt.size(); ++i)
    shown += tokenizer->decode_token(i ? prompt[i - 1] : -1, prompt[i]);
  std::fwrite(shown.data(), 1, shown.size(), stdout);
  std::fflush(stdout);
  const infer::GenerateResult r =
      infer::generate(model, prompt, opt, tokenizer.get(), [](std::string_view piece) {
        std::fwrite(piece.data(), 1, piece.size(), stdout);
        std::fflush(stdout);
      });
  if (!raw) {
    std::printf("\n");
    std::fflush(stdout);
    const auto rate = [](int64_t n, double s) { return s > 0 ? static_cast<double>(n) / s : 0.0; };
    std::fprintf(stderr,
                 "prompt: %lld tokens in %.1f ms (%.1f tok/s); decode: %lld tokens in %.1f ms (%.1f tok/s); "
                 "%zu generated, stop: %s; %d thread(s)\n",
                 static_cast<long long>(r.prompt_tokens), r.prefill_seconds * 1e3,
                 rate(r.prompt_tokens, r.prefill_seconds), static_cast<long long>(r.decode_steps),
                 r.decode_seconds * 1e3, rate(r.decode_steps, r.decode_seconds), r.tokens.size(),
                 r.stop_reason.c_str(), num_threads());
  }
  return 0;
}

}  // namespace xfmr::cli
