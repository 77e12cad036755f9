// Options every `xfmr bench train-*` workload shares, read the same way for each.
#pragma once
#include <cstdint>

#include "xfmr/cli/args.h"
#include "xfmr/core/check.h"
#include "xfmr/core/parallel.h"

namespace xfmr::cli {

// Applies --threads and fills opt.preset, steps, warmup, seed, lr and precision from their flags.
template <class Opt>
void read_train_bench_flags(const Args& args, Opt& opt) {
  const int64_t threads = args.get_int("threads");
  XF_CHECK(threads >= 1, "bench: --threads must be >= 1, got ", threads);
  set_num_threads(static_cast<int>(threads));
  opt.preset = args.get("preset");
  opt.steps = args.get_int("steps");
  opt.warmup = args.get_int("warmup");
  opt.seed = static_cast<uint64_t>(args.get_int("seed"));
  opt.lr = args.get_double("lr");
  opt.precision = args.get("precision");
}

// A preset's shape field, overridden by --name when given.
inline void read_shape_override(const Args& args, const char* name, int64_t& field) {
  if (args.has(name)) field = args.get_int(name);
}

}  // namespace xfmr::cli
