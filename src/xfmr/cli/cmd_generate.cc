// xfmr generate: run a checkpoint (.gguf, llama2.c .bin, or a native Llama / GPT-2 model folder) on one or
// more prompts and stream the text.
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "xfmr/cli/args.h"
#include "xfmr/cli/commands.h"
#include "xfmr/core/check.h"
#include "xfmr/core/parallel.h"
#include "xfmr/infer/generate.h"
#include "xfmr/infer/load_model.h"
#include "xfmr/infer/model_tokenizer.h"

namespace xfmr::cli {

namespace {

// Prompts from --prompt (in order), then one per non-empty line of --prompt-file (a trailing '\r' dropped).
std::vector<std::string> read_prompts(const Args& args) {
  std::vector<std::string> prompts = args.get_all("prompt");
  const std::string file = args.get("prompt-file");
  if (!file.empty()) {
    std::ifstream in(file);
    XF_CHECK(in, "--prompt-file '", file, "': cannot open it");
    std::string line;
    while (std::getline(in, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (!line.empty()) prompts.push_back(line);
    }
  }
  XF_CHECK(!prompts.empty(), "--prompt or --prompt-file is required",
           file.empty() ? "" : " (the prompt file has no non-empty line)");
  return prompts;
}

void write_out(std::string_view s) {
  std::fwrite(s.data(), 1, s.size(), stdout);
  std::fflush(stdout);
}

}  // namespace

int cmd_generate(int argc, char** argv) {
  Args args(
      "generate",
      "usage: xfmr generate --model PATH --prompt TEXT [--prompt TEXT ...] [options]\n\n"
      "Runs a model on a prompt and streams the continuation to stdout: the prompt, then the generated "
      "text.\n"
      "PATH is a GGUF llama file (f32/f16/q8_0/q4_0 weights), a llama2.c .bin, or a model folder\n"
      "(config.json + model.safetensors, model_type llama or gpt2: what `xfmr train` writes as RUN/model,\n"
      "or a transformers save_pretrained folder). A stats line (tokens/s for the prompt and for decoding)\n"
      "goes to stderr unless --raw. Sampling is seeded: the same --seed gives the same text. Sampling "
      "order:\n"
      "repeat penalty, temperature, top-k, top-p, min-p.\n\n"
      "Several prompts (--prompt repeated, and/or --prompt-file with one prompt per non-empty line) run one\n"
      "after another, each from an empty KV cache; prompt i (from 0) samples with seed --seed + i, so its\n"
      "text is what a run with that prompt alone and --seed + i prints. Output with several prompts: each\n"
      "text followed by a blank line (stats lines name the prompt); with --raw, one JSON string per prompt\n"
      "per line (the prompt and its continuation; newlines escaped, invalid UTF-8 replaced by U+FFFD).\n\n"
      "Tokenizer: --tokenizer FILE (llama2.c tokenizer.bin, SentencePiece .model, tokenizer.json, or a\n"
      ".gguf's vocabulary); by default a .gguf's own vocabulary, a folder's tokenizer.json, or for a .bin\n"
      "the tok<vocab>.bin / tokenizer.bin beside it.\n\n"
      "Examples:\n"
      "  xfmr generate --model data/stories260K/stories260K.bin --prompt \"Once upon a time\"\n"
      "  xfmr generate --model runs/shakespeare/model --prompt \"ROMEO:\" --max-tokens 200\n"
      "  xfmr generate --model stories15M.q8_0.gguf --prompt \"Lily\" --temperature 0.8 --top-p 0.9 --seed "
      "7\n"
      "  xfmr generate --model m.gguf --prompt \"The cat\" --temperature 0 --max-tokens 40 --raw\n"
      "  xfmr generate --model m.gguf --prompt \"The cat\" --prompt \"A dog\" --raw   (two JSON lines)\n"
      "  xfmr generate --model m.gguf --prompt-file prompts.txt --max-tokens 64\n"
      "  xfmr generate --model m.gguf --prompt \"Hi\" --stop \".\" --stop \"!\" --threads 1\n",
      {{"model", "checkpoint: .gguf, llama2.c .bin, or model folder", ""},
       {"tokenizer", "tokenizer file (default: from the model, see above)", ""},
       {"prompt", "prompt text (BOS is prepended when the vocabulary has one); repeatable", ""},
       {"prompt-file", "file with one prompt per non-empty line", ""},
       {"temperature", "sampling temperature; 0 = greedy", "0.8"},
       {"top-k", "keep the k most probable tokens (0 = off)", "0"},
       {"top-p", "nucleus sampling mass (1 = off)", "0.95"},
       {"min-p", "drop tokens below min-p times the top probability (0 = off)", "0.05"},
       {"repeat-penalty", "penalty on the last 64 tokens (1 = off)", "1.0"},
       {"seed", "random seed (prompt i uses seed + i)", "0"},
       {"max-tokens", "new tokens at most", "256"},
       {"stop", "stop string (repeatable); not printed", ""},
       {"raw", "print only the prompt and the generated text (several prompts: JSON lines)", "", true},
       {"threads", "threads (0 = all cores; or XFMR_THREADS)", ""}});
  if (!args.parse(argc, argv)) return 0;
  if (args.has("threads")) set_num_threads(static_cast<int>(args.get_int("threads")));
  const std::string model_path = args.get("model");
  XF_CHECK(!model_path.empty(), "--model is required (a .gguf, a llama2.c .bin or a model folder)");
  const std::vector<std::string> texts = read_prompts(args);
  const bool raw = args.get_bool("raw");
  const bool several = texts.size() > 1;

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

  const infer::LoadedModel loaded = infer::load_model(model_path);
  const auto tokenizer = infer::tokenizer_for_model(model_path, args.get("tokenizer"), loaded.vocab_size());
  std::vector<std::vector<int32_t>> prompts;
  int64_t want = 0;
  for (const std::string& text : texts) {
    prompts.push_back(tokenizer->encode(text, /*add_bos=*/true));
    const std::vector<int32_t>& p = prompts.back();
    XF_CHECK(!p.empty(), "the prompt encodes to no tokens and the tokenizer has no BOS");
    XF_CHECK(static_cast<int64_t>(p.size()) <= loaded.max_context(), "the prompt has ", p.size(),
             " tokens, more than the model's context of ", loaded.max_context());
    want = std::max(want, static_cast<int64_t>(p.size()) + opt.max_tokens);
  }
  // The KV cache only needs the positions this run can reach; every prompt reuses it from position 0.
  const std::unique_ptr<infer::Decoder> model = loaded.decoder(want);

  const uint64_t seed0 = opt.sampler.seed;
  for (size_t k = 0; k < prompts.size(); ++k) {
    const std::vector<int32_t>& prompt = prompts[k];
    opt.sampler.seed = seed0 + k;
    // The prompt as the tokenizer decodes it (what run.c prints), without the BOS we added: a GPT-2 BPE
    // vocabulary would print <|endoftext|> for it.
    std::string shown;
    const size_t first = tokenizer->bos_id() >= 0 && prompt[0] == tokenizer->bos_id() ? 1 : 0;
    for (size_t i = first; i < prompt.size(); ++i)
      shown += tokenizer->decode_token(i ? prompt[i - 1] : -1, prompt[i]);
    // One prompt streams; several with --raw print a JSON line each once the text is complete.
    const bool stream = !(raw && several);
    if (stream) write_out(shown);
    const infer::GenerateResult r =
        infer::generate(*model, prompt, opt, tokenizer.get(), [&](std::string_view piece) {
          if (stream) write_out(piece);
        });
    if (!stream) {
      write_out(
          nlohmann::json(shown + r.text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
          "\n");
      continue;
    }
    if (raw) continue;
    write_out(several ? "\n\n" : "\n");
    const auto rate = [](int64_t n, double s) { return s > 0 ? static_cast<double>(n) / s : 0.0; };
    const std::string tag =
        several ? "[prompt " + std::to_string(k + 1) + "/" + std::to_string(prompts.size()) + "] " : "";
    std::fprintf(
        stderr,
        "%sprompt: %lld tokens in %.1f ms (%.1f tok/s); decode: %lld tokens in %.1f ms (%.1f tok/s); "
        "%zu generated, stop: %s; %d thread(s)\n",
        tag.c_str(), static_cast<long long>(r.prompt_tokens), r.prefill_seconds * 1e3,
        rate(r.prompt_tokens, r.prefill_seconds), static_cast<long long>(r.decode_steps),
        r.decode_seconds * 1e3, rate(r.decode_steps, r.decode_seconds), r.tokens.size(),
        r.stop_reason.c_str(), num_threads());
  }
  return 0;
}

}  // namespace xfmr::cli
