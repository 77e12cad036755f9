// Test helper for tests/train/trainer_test.cc (SIGKILL resume): trains the toy task into a run directory.
//   trainer_child RUN_DIR STEPS RESUME(0|1) STEP_SLEEP_MS
// One thread, checkpoint every 10 steps, a metrics line every step. Exit 0 on completion, 3 when interrupted by
// SIGINT/SIGTERM, 2 on an error (printed to stderr).
#include <cstdio>
#include <cstdlib>
#include <string>

#include "trainer_child/toy_task.h"
#include "xfmr/core/parallel.h"

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: trainer_child RUN_DIR STEPS RESUME STEP_SLEEP_MS\n");
    return 2;
  }
  try {
    xfmr::set_num_threads(1);
    xfmr::TrainConfig cfg;
    cfg.steps = std::atoll(argv[2]);
    cfg.lr = 1e-2;
    cfg.warmup = 5;
    cfg.min_lr = 1e-3;
    cfg.weight_decay = 0.01;
    cfg.eval_every = 25;
    cfg.log_every = 1;
    cfg.checkpoint_every = 10;
    cfg.keep_checkpoints = 2;
    cfg.seed = 7;
    xfmr::test::ToyTask task(1, std::atoi(argv[4]));
    const xfmr::TrainResult r = xfmr::train(task, cfg, argv[1], std::string(argv[3]) == "1");
    return r.interrupted ? 3 : 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "trainer_child: %s\n", e.what());
    return 2;
  }
}
