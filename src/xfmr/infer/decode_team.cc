#include "xfmr/infer/decode_team.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <climits>
#endif

namespace xfmr::infer {

namespace {

// Sleeps until v changes from old / wakes every sleeper on v: a raw futex on Linux (libstdc++'s atomic
// wait/notify adds its own spinning and a shared waiter table, measured slower here), C++20 atomics elsewhere.
void sleep_while(const std::atomic<uint32_t>& v, uint32_t old) {
#if defined(__linux__)
  while (v.load(std::memory_order_acquire) == old)
    syscall(SYS_futex, reinterpret_cast<const uint32_t*>(&v), FUTEX_WAIT_PRIVATE, old, nullptr, nullptr, 0);
#else
  while (v.load(std::memory_order_acquire) == old) v.wait(old, std::memory_order_acquire);
#endif
}

void wake_all(std::atomic<uint32_t>& v) {
#if defined(__linux__)
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&v), FUTEX_WAKE_PRIVATE, INT32_MAX, nullptr, nullptr, 0);
#else
  v.notify_all();
#endif
}

// No spinning before sleeping: measured on this shared 2-core machine (load ~18), 200 pause-spins per wait
// took 2-thread stories15M q4_0 decoding from ~1,150 tok/s down to 300-1,040; a thread that sleeps at once
// gives its core back and is woken promptly by the scheduler.
void wait_change(const std::atomic<uint32_t>& v, uint32_t old) {
  sleep_while(v, old);
}

// The job word packs a run's sequence number (high 24 bits) with its team size (low 8 bits), so a worker reads
// both in one atomic load: it joins exactly the run it saw, never a later run with a stale number.
constexpr uint32_t kSizeBits = 8, kMaxTeam = (1u << kSizeBits) - 1;

class Team {
 public:
  ~Team() {
    std::lock_guard<std::mutex> lk(busy_);
    stop_.store(true, std::memory_order_relaxed);
    job_.fetch_add(1u << kSizeBits, std::memory_order_release);
    wake_all(job_);
    for (auto& t : workers_) t.join();
  }

  void run(int nt, void (*f)(void*, int, int), void* ctx) {
    std::unique_lock<std::mutex> lk(busy_, std::try_to_lock);
    if (nt <= 1 || !lk.owns_lock()) {
      f(ctx, 0, 1);
      return;
    }
    nt = std::min<int>(nt, kMaxTeam);
    while (static_cast<int>(workers_.size()) < nt - 1) {
      const int tid = static_cast<int>(workers_.size()) + 1;
      const uint32_t now = job_.load(std::memory_order_acquire);
      workers_.emplace_back([this, tid, now] { work(tid, now); });
    }
    fn_ = f;
    ctx_ = ctx;
    const uint32_t seq = (job_.load(std::memory_order_relaxed) >> kSizeBits) + 1;
    job_.store((seq << kSizeBits) | static_cast<uint32_t>(nt), std::memory_order_release);
    wake_all(job_);
    f(ctx, 0, nt);
    barrier(nt);  // every member finished: fn_ and ctx_ may change after this
  }

  // Sense-reversing counter barrier: the last to arrive resets the count and advances the phase.
  void barrier(int nt) {
    const uint32_t ph = phase_.load(std::memory_order_acquire);
    if (arrived_.fetch_add(1, std::memory_order_acq_rel) == nt - 1) {
      arrived_.store(0, std::memory_order_relaxed);
      phase_.fetch_add(1, std::memory_order_release);
      wake_all(phase_);
      return;
    }
    wait_change(phase_, ph);
  }

 private:
  void work(int tid, uint32_t seen) {
    // OpenBLAS's OpenMP build sizes its team from this thread's omp_get_max_threads(), which a new thread
    // inherits from OMP_NUM_THREADS / the core count, not from set_num_threads: keep the BLAS single-threaded
    // here as on the caller (core/parallel.cc), or prefill's sgemm calls would each start an OpenMP team.
    omp_set_num_threads(1);
    for (;;) {
      wait_change(job_, seen);
      seen = job_.load(std::memory_order_acquire);
      if (stop_.load(std::memory_order_relaxed)) return;
      const int nt = static_cast<int>(seen & kMaxTeam);
      if (tid < nt) {  // a member: the caller waits for us, so fn_ and ctx_ stay those of this run
        fn_(ctx_, tid, nt);
        barrier(nt);
      }
    }
  }

  std::mutex busy_;  // one caller at a time
  std::vector<std::thread> workers_;
  std::atomic<uint32_t> job_{0}, phase_{0};
  std::atomic<int> arrived_{0};
  std::atomic<bool> stop_{false};
  // Written by the caller before job_ is published (release), read by members after (acquire).
  void (*fn_)(void*, int, int) = nullptr;
  void* ctx_ = nullptr;
};

Team& team() {
  static Team t;
  return t;
}

}  // namespace

void team_run(int nt, void (*f)(void*, int, int), void* ctx) {
  team().run(nt, f, ctx);
}

void team_barrier(int nt) {
  if (nt > 1) team().barrier(nt);
}

}  // namespace xfmr::infer
