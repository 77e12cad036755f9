// xfmr demo: trains a small MLP and prints the loss falling (the README's first command runs it).
#include <cstdio>

#include "xfmr/cli/args.h"
#include "xfmr/cli/commands.h"
#include "xfmr/cli/progress.h"
#include "xfmr/core/parallel.h"
#include "xfmr/run/mlp_demo.h"

namespace xfmr::cli {

int cmd_demo(int argc, char** argv) {
  Args args("demo",
            "usage: xfmr demo [options]\n\n"
            "Trains a 2-layer MLP (GELU) on a fixed random smooth function of 8 Gaussian inputs with AdamW,\n"
            "warmup + cosine learning rate and gradient clipping, and prints train/validation loss as it falls.\n\n"
            "Examples:\n"
            "  xfmr demo\n"
            "  xfmr demo --steps 3000 --hidden 128 --seed 7 --threads 1",
            {{"steps", "training steps", "1500"},
             {"batch", "examples per step", "128"},
             {"hidden", "hidden units", "64"},
             {"lr", "peak learning rate", "0.003"},
             {"seed", "random seed", "0"},
             {"threads", "threads (0 = all cores; or XFMR_THREADS)", "0"}});
  if (!args.parse(argc, argv)) return 0;
  if (args.has("threads")) set_num_threads(static_cast<int>(args.get_int("threads")));
  MlpDemoOptions opt;
  opt.steps = args.get_int("steps");
  opt.batch = args.get_int("batch");
  opt.hidden = args.get_int("hidden");
  opt.lr = args.get_double("lr");
  opt.seed = static_cast<uint64_t>(args.get_int("seed"));
  std::printf("xfmr demo: 2-layer MLP (8 -> %lld -> 1), batch %lld, %lld steps, %d thread(s)\n",
              static_cast<long long>(opt.hidden), static_cast<long long>(opt.batch),
              static_cast<long long>(opt.steps), num_threads());
  Progress progress("train", opt.steps, opt.steps / 10);
  const MlpDemoResult r = run_mlp_demo(opt, [&](int64_t step, double loss) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "loss %.4f", loss);
    progress.update(step, buf);
  });
  progress.finish("");
  std::printf("\n%8s %12s %12s %10s\n", "step", "train_mse", "val_mse", "lr");
  for (const auto& p : r.curve)
    std::printf("%8lld %12.5f %12.5f %10.2e\n", static_cast<long long>(p.step), p.train_loss, p.val_loss, p.lr);
  const double first = r.curve.front().val_loss, last = r.curve.back().val_loss;
  std::printf("\nvalidation MSE %.4f -> %.4f (predicting the mean scores %.4f): %.1fx lower\n", first, last,
              r.target_variance, first / last);
  return 0;
}

}  // namespace xfmr::cli
