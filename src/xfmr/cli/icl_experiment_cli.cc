#include "xfmr/cli/icl_experiment_cli.h"

#include <cstdio>

#include "xfmr/core/check.h"
#include "xfmr/core/parallel.h"
#include "xfmr/report/format.h"
#include "xfmr/run/icl_experiment.h"

namespace xfmr::cli {

void print_icl_experiments() {
  std::printf("ICL experiments (xfmr icl --experiment NAME [--preset cpu|paper] --out DIR):\n");
  for (const EmbeddedExperimentFile& f : embedded_icl_experiment_files()) {
    const IclExperiment e = parse_icl_experiment(f.name, f.path, f.text);
    std::printf("\n  %s\n    %s\n    %s\n", e.name.c_str(), e.paper.c_str(), e.title.c_str());
  }
}

int run_icl_experiment_cli(const Args& args, int argc, char** argv) {
  XF_CHECK(!args.has("config") && !args.has("resume") && !args.has("force") && !args.has("seed") && !args.has("steps"),
           "icl --experiment: --config, --resume, --force, --seed and --steps do not apply (use --set key=value; "
           "rerunning the same command resumes)");
  XF_CHECK(args.has("out"), "icl --experiment: --out DIR is required (the experiment's folder)");
  if (args.has("threads")) set_num_threads(static_cast<int>(args.get_int("threads")));
  const IclExperiment e = load_icl_experiment(args.get("experiment"));
  IclExperimentOptions opt;
  opt.preset = args.has("preset") ? args.get("preset") : "cpu";
  opt.sets = args.get_all("set");
  if (args.has("runs")) {
    std::string r = args.get("runs"), item;
    for (size_t at = 0; at <= r.size(); ++at) {
      if (at == r.size() || r[at] == ',') {
        if (!item.empty()) opt.only.push_back(item);
        item.clear();
      } else {
        item += r[at];
      }
    }
  }
  opt.out = args.get("out");
  opt.command = "xfmr icl";
  for (int i = 0; i < argc; ++i) opt.command += std::string(" ") + argv[i];
  opt.log = [](const std::string& s) {
    std::printf("%s\n", s.c_str());
    std::fflush(stdout);
  };
  for (const IclExperimentRun& r : e.runs) resolve_icl_experiment_run(e, opt.preset, r, opt.sets);  // errors first
  std::printf("experiment %s (%s), preset %s, %zu runs, %d thread(s) -> %s\n", e.name.c_str(), e.paper.c_str(),
              opt.preset.c_str(), e.runs.size(), num_threads(), opt.out.c_str());
  const nlohmann::json s = run_icl_experiment(e, opt);
  int passed = 0, run = 0;
  for (const auto& c : s["checks"]) {
    run += c.contains("pass");
    passed += c.contains("pass") && c["pass"].get<bool>();
  }
  std::printf("\nclaim: %s\nchecks: %d of %d agree (%zu defined)\nresults: %s/results.json\nreport:  %s/report.html\n",
              e.claim.c_str(), passed, run, s["checks"].size(), opt.out.c_str(), opt.out.c_str());
  return 0;
}

}  // namespace xfmr::cli
