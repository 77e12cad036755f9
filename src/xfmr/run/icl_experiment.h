// ICL experiments: one file reruns one paper's in-context-learning study as a set of `xfmr icl` runs plus a
// summary (docs/ICL_EXPERIMENTS.md describes the format; the files live in experiments/*.json and are compiled
// into the binary). `xfmr icl --experiment NAME --out DIR` writes one normal run folder DIR/<run>/ per run, then
// DIR/results.json (every run's curves side by side, the claim and the checks) and DIR/report.html.
//
// Config of a run: icl defaults -> base -> presets[preset] -> the run's "set" -> the run's "presets"[preset] ->
// the user's --set flags.
// Resume: a run folder whose config.json equals the resolved config and whose results.json is finished is reused
// as it is; one with checkpoints but no results is resumed; one holding a different config is an error (never
// overwritten). Runs whose configs differ only in eval.* share one training: the later ones start from a copy of
// the first one's final checkpoint and only evaluate.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "xfmr/run/icl.h"

namespace xfmr {

// An experiment file compiled into the binary (generated from experiments/*.json at build time).
struct EmbeddedExperimentFile {
  const char* name;  // file stem, e.g. "garg2022"
  const char* path;  // "experiments/garg2022.json", for messages
  const char* text;
};
const std::vector<EmbeddedExperimentFile>& embedded_icl_experiment_files();

struct IclExperimentRun {
  std::string name;               // run folder name: [a-z0-9_-]+
  std::string group;              // runs of a group share one summary table and figure (default: "runs")
  std::vector<std::string> set;   // dotted overrides, "key=value"
  std::map<std::string, std::vector<std::string>> presets;  // per-preset overrides of this run, applied after set
  bool probe = false;             // also run `xfmr icl probe` on the finished run (run/icl_probe.h)
};

// A declarative check on the measured curves (reported pass/fail, never forced):
//   error(run, method, k) <= max                              when "max" is given
//   factor * error(run, method, k) <= error(than_run, than, k) when "than" is given ("factor" default 1,
//                                                             "than_run" default: the same run)
// method "gap:NAME" reads the run's gap curve to baseline NAME (eval.extra_baselines).
struct IclExperimentCheck {
  std::string what;  // one line: the claim this checks
  std::string run, method = "transformer", than, than_run;
  int64_t k = 0;
  double max = -1, factor = 1;  // max < 0: not given
};

struct IclExperiment {
  std::string name, source;  // source: the file, for messages
  std::string title, paper, claim;
  nlohmann::json base = nlohmann::json::object();             // an icl --config object
  std::map<std::string, std::vector<std::string>> presets;    // preset -> overrides
  std::vector<IclExperimentRun> runs;
  std::vector<int64_t> report_k;                              // k values tabulated (default: 0, d/2, d, 2d, last)
  std::vector<std::string> report_methods;                    // methods tabulated/drawn (default: all)
  std::vector<IclExperimentCheck> checks;
};

// Parses and validates an experiment file: unknown fields, wrong types, bad run names and every run's resolved
// config under every preset (unknown override keys, invalid values) are one-line Errors naming the file and the
// field, e.g. "experiment experiments/x.json: runs[1].set: unknown config key 'task.sparsty' (...)".
IclExperiment parse_icl_experiment(const std::string& name, const std::string& source, const std::string& text);

// The embedded experiment NAME, or a file when NAME ends in ".json" (read from disk). Unknown: Error listing the
// known names.
IclExperiment load_icl_experiment(const std::string& name);

// The config of `run` under `preset` with the user's overrides last. Error naming the file and field.
IclConfig resolve_icl_experiment_run(const IclExperiment& e, const std::string& preset, const IclExperimentRun& run,
                                     const std::vector<std::string>& user_sets = {});

struct IclExperimentOptions {
  std::string preset = "cpu";
  std::vector<std::string> sets;             // the user's --set flags, applied to every run
  std::vector<std::string> only;             // --runs: run only these (empty: all); checks on others are skipped
  std::string out;                           // DIR
  std::string command;                       // for the results
  std::function<void(const std::string&)> log;  // one plain line per event (run start/end, training progress)
};

// Runs (or reuses) every run and writes DIR/results.json and DIR/report.html; returns the summary.
nlohmann::json run_icl_experiment(const IclExperiment& e, const IclExperimentOptions& opt);

// A run's curve value at k from a summary run entry: method "NAME" reads error[NAME], "gap:NAME" reads the gap
// curve to baseline NAME; NaN when absent, null or k out of range.
double icl_experiment_curve_at(const nlohmann::json& run, const std::string& method, int64_t k);

// DIR/report.html from a summary (the results.json written by run_icl_experiment).
std::string render_icl_experiment_html(const nlohmann::json& summary);

}  // namespace xfmr
