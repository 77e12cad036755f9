// xfmr icl: train a transformer on in-context linear regression and compare it with the optimal algorithms.
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>

#include "xfmr/cli/args.h"
#include "xfmr/cli/commands.h"
#include "xfmr/cli/icl_experiment_cli.h"
#include "xfmr/cli/progress.h"
#include "xfmr/core/parallel.h"
#include "xfmr/io/config.h"
#include "xfmr/report/html_report.h"
#include "xfmr/run/icl.h"
#include "xfmr/tasks/icl_tasks.h"

namespace fs = std::filesystem;

namespace xfmr::cli {

namespace {

std::string default_run_dir() {
  const std::time_t t = std::time(nullptr);
  char buf[64];
  std::strftime(buf, sizeof buf, "runs/icl-%Y%m%d-%H%M%S", std::localtime(&t));
  return buf;
}

// Prepares the run folder: refuses to reuse one unless --force (then only xfmr's own artifacts are removed).
void prepare_run_dir(const std::string& dir, bool force) {
  if (fs::exists(dir)) {
    XF_CHECK(fs::is_directory(dir), "icl: --out '", dir, "' exists and is not a folder");
    const bool empty = fs::is_empty(dir);
    XF_CHECK(empty || force, "icl: run folder '", dir,
             "' already exists (use --resume to continue it, --force to replace its results, or another --out)");
    for (const char* f : {"metrics.jsonl", "results.json", "report.html", "config.json"}) fs::remove(fs::path(dir) / f);
    fs::remove_all(fs::path(dir) / "checkpoints");
  }
  fs::create_directories(dir);
}

// `xfmr icl --list`: the function classes with their parameters and baselines.
void print_task_classes() {
  std::printf("function classes (--set task.kind=NAME; parameters are task.* keys):\n");
  for (const IclTaskClass& c : icl_task_classes()) {
    std::printf("\n  %s\n    %s\n", c.name.c_str(), c.description.c_str());
    for (const IclTaskParamInfo& p : c.params) std::printf("    task.%-12s %s\n", p.key.c_str(), p.description.c_str());
    std::string b;
    for (const std::string& n : c.baselines) b += (b.empty() ? "" : ", ") + n;
    std::printf("    baselines: %s\n", b.c_str());
  }
}

void print_table(const nlohmann::json& r) {
  const auto& methods = r["methods"];
  const std::string norm = r.contains("error_normalizer") ? std::to_string(r["error_normalizer"].get<int64_t>()) : "d";
  if (r.value("metric", "") == "accuracy")  // the Boolean classes (Bhattamishra et al. 2023)
    std::printf("\naccuracy of sign(ŷ) vs number of in-context examples k\n%4s", "k");
  else
    std::printf("\nnormalised squared error (ŷ - y)²/%s vs number of in-context examples k\n%4s", norm.c_str(), "k");
  for (const auto& m : methods) std::printf(" %14s", m.get<std::string>().c_str());
  std::printf("\n");
  for (size_t k = 0; k < r["k"].size(); ++k) {
    std::printf("%4zu", k);
    for (const auto& m : methods) {
      const auto& v = r["error"][m.get<std::string>()][k];
      if (v.is_null())
        std::printf(" %14s", "nan");
      else
        std::printf(" %14.4f", v.get<double>());
    }
    std::printf("\n");
  }
}

}  // namespace

int cmd_icl(int argc, char** argv) {
  Args args("icl",
            "usage: xfmr icl [options]\n\n"
            "Trains a GPT-2-style transformer on in-context linear regression (Garg et al. 2022): prompts\n"
            "(x1, w·x1, ..., xk, w·xk, x) with x, w ~ N(0, I_d), fresh every step, with a curriculum on the active\n"
            "dimensions and the number of points. Then measures its error (ŷ - y)²/d against the number of\n"
            "in-context examples k on held-out prompts, beside least squares, ridge, 3-nearest-neighbours,\n"
            "averaging and gradient descent, with 90% bootstrap bands. Writes config.json, metrics.jsonl,\n"
            "checkpoints/, results.json and report.html to the run folder.\n\n"
            "Other function classes (task.kind; `xfmr icl --list` shows them with their parameters): noisy_linear,\n"
            "sparse_linear, ill_conditioned_linear, decision_tree, relu2nn, each with its own baselines; and the\n"
            "Boolean classes of Bhattamishra et al. 2023 (conjunction, disjunction, parity, ...), scored by accuracy.\n\n"
            "Presets:\n"
            "  default  d = 5, 11 points, 4 layers, 2 heads, 64 dims, batch 64 (minutes on 2 cores)\n"
            "  paper    d = 20, 41 points, 12 layers, 8 heads, 256 dims, batch 64, 500k steps (Garg et al.)\n"
            "  smoke    a few hundred steps of a 2-layer model (checks the pipeline, not the accuracy)\n\n"
            "Examples:\n"
            "  xfmr icl\n"
            "  xfmr icl --out runs/my-run --seed 3 --threads 2\n"
            "  xfmr icl --preset paper --out runs/paper\n"
            "  xfmr icl --set train.steps=5000 --set model.n_layer=2\n"
            "  xfmr icl --set model.kind=lsa --set model.n_layer=1 --set model.n_head=1   (von Oswald et al.'s LSA model)\n"
            "  xfmr icl --config my.json --out runs/x      (JSON with any subset of the keys below)\n"
            "  xfmr icl --resume --out runs/my-run         (continue a stopped or killed run)\n"
            "  xfmr icl --set task.kind=sparse_linear --set task.sparsity=3   (Garg et al.'s sparse linear functions)\n"
            "  xfmr icl --set task.kind=decision_tree --preset smoke\n"
            "  xfmr icl --set task.kind=conjunction --set task.d=10 --set task.n_points=30 --set task.teaching=true\n"
            "  xfmr icl --list                              (the function classes, their parameters and baselines)\n"
            "  xfmr icl --print-config                      (show every key with its value)\n\n"
            "Experiments (one paper's study as several runs + a summary; docs/ICL_EXPERIMENTS.md):\n"
            "  xfmr icl --list-experiments\n"
            "  xfmr icl --experiment garg2022 --out runs/garg --threads 1      (preset cpu: minutes on one core)\n"
            "  xfmr icl --experiment zhang2023 --preset paper --out runs/zfb --set train.steps=20000\n"
            "  Each run gets DIR/<run>/ (a normal run folder); DIR/results.json and DIR/report.html summarise them.\n"
            "  Resume: rerunning the same command reuses finished run folders (not retrained) and resumes\n"
            "  unfinished ones; a folder holding a different config is an error, never overwritten.",
            {{"preset", "default | paper | smoke (with --experiment: cpu | paper)", "default"},
             {"config", "JSON config file (keys as in --print-config)", ""},
             {"set", "override one key, e.g. --set train.lr=3e-4 (repeatable)", ""},
             {"out", "run folder (default: a new folder under runs/)", ""},
             {"seed", "seed for the model initialisation and the training prompts", ""},
             {"steps", "training steps (same as --set train.steps=N)", ""},
             {"threads", "threads (0 = all cores; or XFMR_THREADS)", ""},
             {"resume", "continue the run in --out from its newest checkpoint", "", true},
             {"force", "replace the results of an existing run folder", "", true},
             {"print-config", "print the resolved configuration and exit", "", true},
             {"list", "list the function classes (task.kind) with their parameters and baselines", "", true},
             {"experiment", "run an experiment: a name from --list-experiments or a .json file", ""},
             {"list-experiments", "list the experiments (name, paper, title)", "", true},
             {"runs", "with --experiment: only these runs, comma-separated (checks on others are skipped)", ""}});
  if (!args.parse(argc, argv)) return 0;
  if (args.get_bool("list")) {
    print_task_classes();
    return 0;
  }
  if (args.get_bool("list-experiments")) {
    print_icl_experiments();
    return 0;
  }
  if (args.has("experiment")) return run_icl_experiment_cli(args, argc, argv);
  if (args.has("threads")) set_num_threads(static_cast<int>(args.get_int("threads")));

  const bool resume = args.get_bool("resume");
  std::string out = args.get("out");
  IclConfig cfg;
  if (resume) {
    XF_CHECK(!out.empty(), "icl: --resume needs --out RUN_DIR");
    XF_CHECK(!args.has("config") && !args.has("set") && !args.has("preset") && !args.has("seed") && !args.has("steps"),
             "icl: --resume continues the run with its saved config.json; options that change the config are not allowed");
    config::load_config(cfg, out + "/config.json");
  } else {
    cfg = icl_preset(args.get("preset"));
    std::vector<std::string> overrides = args.get_all("set");
    if (args.has("seed")) {
      overrides.push_back("seed=" + args.get("seed"));
      overrides.push_back("train.seed=" + args.get("seed"));
    }
    if (args.has("steps")) overrides.push_back("train.steps=" + args.get("steps"));
    if (args.has("config")) {
      config::load_config(cfg, args.get("config"), overrides);
    } else {
      config::apply_overrides(cfg, overrides);
      config::validate(cfg);
    }
  }
  cfg.validate();
  if (args.get_bool("print-config")) {
    std::fputs(config::config_help(cfg).c_str(), stdout);
    return 0;
  }
  if (out.empty()) out = default_run_dir();
  if (!resume) prepare_run_dir(out, args.get_bool("force"));

  std::string command = "xfmr icl";
  for (int i = 0; i < argc; ++i) command += std::string(" ") + argv[i];

  const std::string shape =
      cfg.model.kind == "lsa"
          ? "linear self-attention, " + std::to_string(cfg.model.n_layer) + " layers x " + std::to_string(cfg.model.n_head) + " heads"
          : std::to_string(cfg.model.n_layer) + " layers x " + std::to_string(cfg.model.n_head) + " heads x " +
                std::to_string(cfg.model.n_embd) + " dims";
  std::printf("xfmr icl: %s, d = %lld, %lld points, %s, batch %lld, %lld steps, %d thread(s)\n",
              cfg.task.kind.c_str(), static_cast<long long>(cfg.task.d), static_cast<long long>(cfg.task.n_points), shape.c_str(),
              static_cast<long long>(cfg.task.batch), static_cast<long long>(cfg.train.steps), num_threads());
  std::printf("run folder: %s\n", out.c_str());
  std::fflush(stdout);

  Progress progress("train", cfg.train.steps, std::max<int64_t>(1, cfg.train.steps / 20));
  IclProgress hooks;
  hooks.on_step = [&](const StepInfo& s) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "loss %.4f  lr %.1e  %.0f tok/s", s.loss, s.lr, s.tokens_per_s);
    progress.update(s.step, buf);
  };
  hooks.on_stage = [](const std::string& s) { std::fprintf(stderr, "%s...\n", s.c_str()); };
  const nlohmann::json r = run_icl(cfg, out, resume, command, hooks);
  progress.finish("");
  if (r.value("interrupted", false)) {
    std::printf("interrupted at step %lld; checkpoint saved. Continue with: xfmr icl --resume --out %s\n",
                static_cast<long long>(r.value("steps_done", 0)), out.c_str());
    return 130;
  }
  print_table(r);
  if (!r["checks"].empty()) std::printf("\nchecks (Garg et al.'s claims at this scale):\n");
  for (auto it = r["checks"].begin(); it != r["checks"].end(); ++it) std::printf("  %-40s %s\n", it.key().c_str(), it.value().dump().c_str());
  std::printf("\nresults: %s/results.json\nreport:  %s/report.html\n", out.c_str(), out.c_str());
  return 0;
}

int cmd_report(int argc, char** argv) {
  XF_CHECK(argc >= 1, "report: usage: xfmr report RUN_DIR (rebuilds RUN_DIR/report.html from results.json)");
  const std::string a = argv[0];
  if (a == "--help") {
    std::printf("usage: xfmr report RUN_DIR\n\nRebuilds RUN_DIR/report.html from RUN_DIR/results.json.\n\n"
                "Example:\n  xfmr report runs/icl-20261129-061500\n");
    return 0;
  }
  XF_CHECK(argc == 1, "report: expected one RUN_DIR, got ", argc, " arguments");
  report::write_report(a);
  std::printf("report: %s/report.html\n", a.c_str());
  return 0;
}

}  // namespace xfmr::cli
