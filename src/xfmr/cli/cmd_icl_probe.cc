// xfmr icl probe: per-layer read-outs and algorithm matching on a trained `xfmr icl` run (run/icl_probe.h).
#include <cstdio>

#include "xfmr/cli/args.h"
#include "xfmr/cli/commands.h"
#include "xfmr/core/parallel.h"
#include "xfmr/run/icl_probe.h"

namespace xfmr::cli {

int cmd_icl_probe(int argc, char** argv) {
  Args args("icl probe",
            "usage: xfmr icl probe --run RUN_DIR [options]\n\n"
            "Probes a trained `xfmr icl` run (any model.kind) with its newest checkpoint:\n"
            "  (a) a ridge read-out of y from each layer's hidden state at the x positions, fitted on prompts A,\n"
            "      its error vs k on prompts B (Akyurek et al. 2023);\n"
            "  (b) per layer, the number of gradient-descent steps and of Iterative Newton iterations whose\n"
            "      predictions best match the read-out's (Fu et al. 2023's similarity of errors);\n"
            "  (c) per k, the cosine between the model's predictions and each baseline's.\n"
            "Writes RUN_DIR/probes.json and adds a Probes section to RUN_DIR/report.html.\n\n"
            "Examples:\n"
            "  xfmr icl probe --run runs/my-run\n"
            "  xfmr icl probe --run runs/my-run --prompts 2000 --max-gd-steps 512 --max-newton 20",
            {{"run", "run folder of a finished or checkpointed `xfmr icl` run", ""},
             {"prompts", "prompts for fitting the read-outs (as many again for scoring)", "1000"},
             {"ridge", "read-out regulariser relative to the mean diagonal of F^T F", "1e-4"},
             {"max-gd-steps", "largest GD step count tried (1, 2, 3, 4, 6, 8, ...)", "256"},
             {"max-newton", "largest Newton iteration count tried (0 ..)", "16"},
             {"threads", "threads (0 = all cores; or XFMR_THREADS)", ""}});
  if (!args.parse(argc, argv)) return 0;
  XF_CHECK(args.has("run"), "icl probe: --run RUN_DIR is required (a folder written by xfmr icl)");
  if (args.has("threads")) set_num_threads(static_cast<int>(args.get_int("threads")));
  IclProbeOptions opt;
  opt.prompts = args.get_int("prompts");
  opt.ridge = args.get_double("ridge");
  opt.max_gd_steps = args.get_int("max-gd-steps");
  opt.max_newton = args.get_int("max-newton");
  opt.validate();
  std::string command = "xfmr icl probe";
  for (int i = 0; i < argc; ++i) command += std::string(" ") + argv[i];
  const std::string dir = args.get("run");
  const nlohmann::json pr = probe_icl_run(dir, opt, command);
  std::printf("%-10s %9s %9s %12s %12s\n", "layer", "GD steps", "sim", "Newton its", "sim");
  for (const auto& m : pr["match"]) {
    auto f = [](const nlohmann::json& v) { return v.is_null() ? NAN : v.get<double>(); };
    std::printf("%-10s %9lld %9.3f %12lld %12.3f\n", m["layer"].get<std::string>().c_str(),
                static_cast<long long>(m["best_gd_steps"].get<int64_t>()), f(m["gd_similarity"]),
                static_cast<long long>(m["best_newton_iters"].get<int64_t>()), f(m["newton_similarity"]));
  }
  std::printf("\nprobes: %s/probes.json\nreport: %s/report.html\n", dir.c_str(), dir.c_str());
  return 0;
}

}  // namespace xfmr::cli
