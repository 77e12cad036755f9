// xfmr prepare / xfmr train: tokenize a text corpus, then train a GPT-2 or Llama language model on it.
#include <cstdio>
#include <ctime>
#include <filesystem>

#include "xfmr/cli/args.h"
#include "xfmr/cli/commands.h"
#include "xfmr/cli/progress.h"
#include "xfmr/core/parallel.h"
#include "xfmr/io/config.h"
#include "xfmr/run/text_lm.h"
#include "xfmr/tasks/text_data.h"

namespace fs = std::filesystem;

namespace xfmr::cli {

int cmd_prepare(int argc, char** argv) {
  Args args("prepare",
            "usage: xfmr prepare --input FILE_OR_DIR --tokenizer char|byte --out DIR [--val-fraction 0.1]\n\n"
            "Tokenizes UTF-8 text into DIR/train.bin and DIR/val.bin (the first 1 - f of the characters train,\n"
            "the rest validation), DIR/meta.json and DIR/tokenizer.json, for xfmr train --set data.path=DIR.\n"
            "A folder input is the concatenation of its files, sorted by name.\n\n"
            "Examples:\n"
            "  xfmr prepare --input data/text/tinyshakespeare.txt --tokenizer char --out data/shakespeare_char\n"
            "  xfmr prepare --input corpus/ --tokenizer byte --out runs/data/corpus --val-fraction 0.05",
            {{"input", "a UTF-8 text file or a folder of them", ""},
             {"tokenizer", "char (vocabulary = the text's characters) | byte (256 ids) | PATH of a tokenizer file", "char"},
             {"out", "output folder", ""},
             {"val-fraction", "fraction of the text held out for validation (the end)", "0.1"}});
  if (!args.parse(argc, argv)) return 0;
  XF_CHECK(args.has("input"), "prepare: --input FILE_OR_DIR is required");
  XF_CHECK(args.has("out"), "prepare: --out DIR is required");
  const auto r = text::prepare_text(args.get("input"), args.get("tokenizer"), args.get("out"),
                                    args.get_double("val-fraction"));
  std::printf("%s: %lld characters, %s tokenizer (vocab %lld): %lld train + %lld val tokens\n",
              args.get("out").c_str(), static_cast<long long>(r.chars), r.tokenizer_kind.c_str(),
              static_cast<long long>(r.vocab_size), static_cast<long long>(r.train_tokens),
              static_cast<long long>(r.val_tokens));
  return 0;
}

namespace {

std::string default_run_dir() {
  const std::time_t t = std::time(nullptr);
  char buf[64];
  std::strftime(buf, sizeof buf, "runs/train-%Y%m%d-%H%M%S", std::localtime(&t));
  return buf;
}

void prepare_run_dir(const std::string& dir, bool force) {
  if (fs::exists(dir)) {
    XF_CHECK(fs::is_directory(dir), "train: --out '", dir, "' exists and is not a folder");
    XF_CHECK(fs::is_empty(dir) || force, "train: run folder '", dir,
             "' already exists (use --resume to continue it, --force to replace it, or another --out)");
    for (const char* f : {"metrics.jsonl", "results.json", "report.html", "config.json"}) fs::remove(fs::path(dir) / f);
    for (const char* d : {"checkpoints", "model", "data"}) fs::remove_all(fs::path(dir) / d);
  }
  fs::create_directories(dir);
}

}  // namespace

int cmd_train(int argc, char** argv) {
  Args args("train",
            "usage: xfmr train [--preset NAME] [--config FILE] [--set key=value ...] [--out DIR] [--force]\n"
            "       xfmr train --resume DIR\n\n"
            "Trains a GPT-2 (model.type=gpt2) or Llama (model.type=llama) language model on a text corpus:\n"
            "a folder from xfmr prepare, or a text file (prepared into RUN_DIR/data). AdamW with linear warmup\n"
            "and cosine decay, gradient clipping; every train.eval_every steps the mean loss on eval.iters\n"
            "random batches of each split and a text sample. Writes config.json, metrics.jsonl, checkpoints/,\n"
            "model/ (Hugging Face layout), results.json and report.html to the run folder.\n\n"
            "Presets:\n"
            "  shakespeare-char-cpu  nanoGPT's CPU recipe: 4 layers, 4 heads, 128 dims, block 64, batch 12,\n"
            "                        2000 iterations (data.path: data/text/tinyshakespeare.txt, run from the repo)\n"
            "  shakespeare-char      nanoGPT's config/train_shakespeare_char.py: 6/6/384, block 256, batch 64,\n"
            "                        dropout 0.2, 5000 iterations\n"
            "  smoke                 a 2-layer model for 60 steps (checks the pipeline)\n\n"
            "Examples:\n"
            "  xfmr train --preset shakespeare-char-cpu --out runs/shakespeare --threads 2\n"
            "  xfmr train --preset smoke --set model.type=llama --set model.n_kv_head=1\n"
            "  xfmr train --config my.json --set train.steps=500 --out runs/x\n"
            "  xfmr train --resume runs/shakespeare            (continue a stopped or killed run)\n"
            "  xfmr train --preset shakespeare-char --print-config",
            {{"preset", "shakespeare-char-cpu | shakespeare-char | smoke", "shakespeare-char-cpu"},
             {"config", "JSON config file (keys as in --print-config), applied over the preset", ""},
             {"set", "override one key, e.g. --set train.lr=3e-4 (repeatable)", ""},
             {"out", "run folder (default: a new folder under runs/)", ""},
             {"resume", "continue the run in this folder from its newest checkpoint", ""},
             {"threads", "threads (0 = all cores; or XFMR_THREADS)", ""},
             {"force", "replace an existing run folder's results", "", true},
             {"print-config", "print the resolved configuration and exit", "", true}});
  if (!args.parse(argc, argv)) return 0;
  if (args.has("threads")) set_num_threads(static_cast<int>(args.get_int("threads")));

  const bool resume = args.has("resume");
  std::string out = resume ? args.get("resume") : args.get("out");
  TextLmConfig cfg;
  if (resume) {
    XF_CHECK(!args.has("out") || args.get("out") == out, "train: --resume DIR names the run folder; drop --out");
    XF_CHECK(!args.has("config") && !args.has("set") && !args.has("preset"),
             "train: --resume continues the run with its saved config.json; options that change it are not allowed");
    XF_CHECK(fs::exists(out + "/config.json"), "train: --resume '", out, "' has no config.json (not a run folder)");
    config::load_config(cfg, out + "/config.json");
  } else {
    cfg = text_lm_preset(args.get("preset"));
    const std::vector<std::string> overrides = args.get_all("set");
    if (args.has("config")) {
      config::load_config(cfg, args.get("config"), overrides);
    } else {
      config::apply_overrides(cfg, overrides);
      config::validate(cfg);
    }
  }
  if (args.get_bool("print-config")) {
    std::fputs(config::config_help(cfg).c_str(), stdout);
    return 0;
  }
  if (out.empty()) out = default_run_dir();
  if (!resume) prepare_run_dir(out, args.get_bool("force"));

  std::string command = "xfmr train";
  for (int i = 0; i < argc; ++i) command += std::string(" ") + argv[i];
  Progress progress("train", cfg.train.steps, std::max<int64_t>(1, cfg.train.steps / 20));
  TextLmProgress hooks;
  hooks.on_step = [&](const StepInfo& s) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "loss %.4f  lr %.1e  %.0f tok/s", s.loss, s.lr, s.tokens_per_s);
    progress.update(s.step, buf);
  };
  hooks.on_stage = [](const std::string& s) { std::fprintf(stderr, "%s...\n", s.c_str()); };
  hooks.on_eval = [](int64_t step, const nlohmann::json& m) {
    std::fprintf(stderr, "step %lld: val loss %.4f (train %.4f)\n", static_cast<long long>(step),
                 m["val_loss"].get<double>(), m["train_loss_eval"].get<double>());
  };
  hooks.on_start = [&](const models::CausalLM& model, const std::string& data_dir) {
    std::printf("xfmr train: %s, %lld layers x %lld heads x %lld dims (%lld parameters), block %lld, batch %lld, "
                "%lld steps, %d thread(s)\n",
                cfg.model.type.c_str(), static_cast<long long>(cfg.model.n_layer),
                static_cast<long long>(cfg.model.n_head), static_cast<long long>(cfg.model.n_embd),
                static_cast<long long>(model.num_parameters()), static_cast<long long>(cfg.model.block_size),
                static_cast<long long>(cfg.data.batch_size), static_cast<long long>(cfg.train.steps), num_threads());
    std::printf("data: %s (vocab %lld)\nrun folder: %s\n", data_dir.c_str(),
                static_cast<long long>(model.vocab_size()), out.c_str());
    std::fflush(stdout);
  };
  const nlohmann::json r = run_text_lm(cfg, out, resume, command, hooks);
  progress.finish("");
  if (r.value("interrupted", false)) {
    std::printf("interrupted at step %lld; checkpoint saved. Continue with: xfmr train --resume %s\n",
                static_cast<long long>(r.value("steps_done", 0)), out.c_str());
    return 130;
  }
  const auto& t = r["timing"];
  std::printf("final val loss %.4f (perplexity %.2f), train loss %.4f, %.1f s\n", t.value("final_val_loss", NAN),
              t.value("final_val_ppl", NAN), t.value("final_train_loss_eval", NAN), t.value("train_seconds", NAN));
  if (!r["samples"].empty()) std::printf("sample:\n%s\n", r["samples"].back()["text"].get<std::string>().c_str());
  std::printf("\nmodel:   %s/model\nreport:  %s/report.html\n", out.c_str(), out.c_str());
  return 0;
}

}  // namespace xfmr::cli
