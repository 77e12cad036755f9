// `xfmr icl --experiment NAME` and `xfmr icl --list-experiments` (run/icl_experiment.h), called from cmd_icl.cc.
#pragma once
#include "xfmr/cli/args.h"

namespace xfmr::cli {

// Prints the embedded experiments: name, paper, title.
void print_icl_experiments();
// Runs the experiment named by --experiment with --preset (default cpu), --set, --out, --threads.
int run_icl_experiment_cli(const Args& args, int argc, char** argv);

}  // namespace xfmr::cli
