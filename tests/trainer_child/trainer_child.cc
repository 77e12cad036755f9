// Test helper for tests/train/trainer_test.cc: trains the toy task (toy_task.h) into a run directory.
//   trainer_child RUN_DIR STEPS RESUME(0|1) STEP_SLEEP_MS [alloc]
// One thread, checkpoint every 10 steps, a metrics line every step, eval every 25. Exit 0 on completion, 3
// when interrupted by SIGINT/SIGTERM, 2 on an error (printed to stderr).
//
// "alloc" mode measures the trainer's steady state instead: no periodic metrics/eval/checkpoints, and every
// global operator new between the on_step callbacks of steps 10 and 40 is counted (this executable replaces
// them); the count is written to RUN_DIR/alloc_count.txt.
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <string>

#include "trainer_child/toy_task.h"
#include "xfmr/core/parallel.h"
#include "xfmr/io/file_util.h"

namespace {
std::atomic<bool> g_counting{false};
std::atomic<long long> g_news{0};

void* counted(std::size_t n, std::size_t align) noexcept {
  if (g_counting.load(std::memory_order_relaxed)) g_news.fetch_add(1, std::memory_order_relaxed);
  if (n == 0) n = 1;
  if (align > alignof(std::max_align_t)) return std::aligned_alloc(align, (n + align - 1) / align * align);
  return std::malloc(n);
}
void* counted_or_throw(std::size_t n, std::size_t align = 0) {
  void* p = counted(n, align);
  if (!p) throw std::bad_alloc();
  return p;
}
[[gnu::noinline]] void release(void* p) noexcept {
  std::free(p);
}
}  // namespace

void* operator new(std::size_t n) {
  return counted_or_throw(n);
}
void* operator new[](std::size_t n) {
  return counted_or_throw(n);
}
void* operator new(std::size_t n, std::align_val_t a) {
  return counted_or_throw(n, static_cast<size_t>(a));
}
void* operator new[](std::size_t n, std::align_val_t a) {
  return counted_or_throw(n, static_cast<size_t>(a));
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  return counted(n, 0);
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  return counted(n, 0);
}
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return counted(n, static_cast<size_t>(a));
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return counted(n, static_cast<size_t>(a));
}
void operator delete(void* p) noexcept {
  release(p);
}
void operator delete[](void* p) noexcept {
  release(p);
}
void operator delete(void* p, std::size_t) noexcept {
  release(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  release(p);
}
void operator delete(void* p, std::align_val_t) noexcept {
  release(p);
}
void operator delete[](void* p, std::align_val_t) noexcept {
  release(p);
}
void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
  release(p);
}
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept {
  release(p);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
  release(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
  release(p);
}
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  release(p);
}
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  release(p);
}

int main(int argc, char** argv) {
  if (argc != 5 && argc != 6) {
    std::fprintf(stderr, "usage: trainer_child RUN_DIR STEPS RESUME STEP_SLEEP_MS [alloc]\n");
    return 2;
  }
  const bool alloc_mode = argc == 6 && std::string(argv[5]) == "alloc";
  try {
    xfmr::set_num_threads(1);
    xfmr::TrainConfig cfg;
    cfg.steps = std::atoll(argv[2]);
    cfg.lr = 1e-2;
    cfg.warmup = 5;
    cfg.min_lr = 1e-3;
    cfg.weight_decay = 0.01;
    cfg.eval_every = alloc_mode ? 0 : 25;
    cfg.log_every = alloc_mode ? 0 : 1;
    cfg.checkpoint_every = alloc_mode ? 0 : 10;
    cfg.keep_checkpoints = 2;
    cfg.seed = 7;
    xfmr::test::ToyTask task(1, std::atoi(argv[4]));
    std::function<void(const xfmr::StepInfo&)> on_step;
    if (alloc_mode)
      on_step = [](const xfmr::StepInfo& s) {
        if (s.step == 10) g_counting = true;
        if (s.step == 40) g_counting = false;
      };
    const xfmr::TrainResult r = xfmr::train(task, cfg, argv[1], std::string(argv[3]) == "1", on_step);
    if (alloc_mode) {
      const std::string count = std::to_string(g_news.load());
      xfmr::io::write_file_atomic(std::string(argv[1]) + "/alloc_count.txt", count);
    }
    return r.interrupted ? 3 : 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "trainer_child: %s\n", e.what());
    return 2;
  }
}
