#include "xfmr/infer/decode_team.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
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
// `sleepers` counts threads inside sleep_while, so that a waker with nobody asleep skips the system call
// (the seq_cst increment / re-check here and store / load in the waker cannot both miss each other).
void sleep_while(const std::atomic<uint32_t>& v, uint32_t old, std::atomic<int>& sleepers) {
  sleepers.fetch_add(1, std::memory_order_seq_cst);
#if defined(__linux__)
  while (v.load(std::memory_order_seq_cst) == old)
    syscall(SYS_futex, reinterpret_cast<const uint32_t*>(&v), FUTEX_WAIT_PRIVATE, old, nullptr, nullptr, 0);
#else
  while (v.load(std::memory_order_seq_cst) == old) v.wait(old, std::memory_order_seq_cst);
#endif
  sleepers.fetch_sub(1, std::memory_order_relaxed);
}

void wake_all(std::atomic<uint32_t>& v, const std::atomic<int>& sleepers) {
  if (sleepers.load(std::memory_order_seq_cst) == 0) return;
#if defined(__linux__)
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&v), FUTEX_WAKE_PRIVATE, INT32_MAX, nullptr, nullptr, 0);
#else
  v.notify_all();
#endif
}

// Spin briefly, then sleep. On an idle machine a partner arrives within microseconds, while a futex sleep and
// wake cost tens of microseconds on this VM: with no spinning, 2-thread decoding (5 barriers a layer) ran
// slower than 1 thread (stories15M q4_0: ~1,100 vs ~3,600 tok/s; 2,000 spins: ~5,400). On a loaded machine
// the partner is often descheduled and spinning burns the core it needs; Team::run then falls back to one
// thread (below). Returns how long the wait slept, in nanoseconds (0: it ended while spinning).
constexpr int kSpinIters = 2000;

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int64_t wait_change(const std::atomic<uint32_t>& v, uint32_t old, std::atomic<int>& sleepers) {
  for (int i = 0; i < kSpinIters; ++i) {
    if (v.load(std::memory_order_acquire) != old) return 0;
#if defined(__x86_64__)
    __builtin_ia32_pause();
#endif
  }
  if (v.load(std::memory_order_acquire) != old) return 0;
  const int64_t t0 = now_ns();
  sleep_while(v, old, sleepers);
  return std::max<int64_t>(1, now_ns() - t0);
}

// Contention fallback: when most barrier waits of a run outlast the spin and the members slept for more than
// half of the run's time (a member was off its core: another process wants it), the team costs more than it gives (measured with one busy process beside 2-thread
// decoding: 15M q4_0 2,034 tok/s on 2 threads vs 3,509 on 1), so the next kSoloRuns runs go on the caller's
// thread alone, and then the team is tried again. Results do not change: callers split work so that every
// team size computes the same values.
constexpr int kSoloRuns = 128;

// The job word packs a run's sequence number (high 24 bits) with its team size (low 8 bits), so a worker reads
// both in one atomic load: it joins exactly the run it saw, never a later run with a stale number.
constexpr uint32_t kSizeBits = 8, kMaxTeam = (1u << kSizeBits) - 1;

class Team {
 public:
  ~Team() {
    std::lock_guard<std::mutex> lk(busy_);
    stop_.store(true, std::memory_order_relaxed);
    job_.fetch_add(1u << kSizeBits, std::memory_order_seq_cst);
    wake_all(job_, sleepers_);
    for (auto& t : workers_) t.join();
  }

  void run(int nt, void (*f)(void*, int, int), void* ctx, bool adaptive) {
    std::unique_lock<std::mutex> lk(busy_, std::try_to_lock);
    if (nt <= 1 || !lk.owns_lock()) {
      f(ctx, 0, 1);
      return;
    }
    if (adaptive && solo_left_ > 0) {  // the contention fallback
      --solo_left_;
      solo_runs_.fetch_add(1, std::memory_order_relaxed);
      f(ctx, 0, 1);
      return;
    }
    nt = std::min<int>(nt, kMaxTeam);
    team_runs_.fetch_add(1, std::memory_order_relaxed);
    while (static_cast<int>(workers_.size()) < nt - 1) {
      const int tid = static_cast<int>(workers_.size()) + 1;
      const uint32_t now = job_.load(std::memory_order_acquire);
      workers_.emplace_back([this, tid, now] { work(tid, now); });
    }
    fn_ = f;
    ctx_ = ctx;
    const uint32_t seq = (job_.load(std::memory_order_relaxed) >> kSizeBits) + 1;
    job_.store((seq << kSizeBits) | static_cast<uint32_t>(nt), std::memory_order_seq_cst);
    wake_all(job_, sleepers_);
    waits_.store(0, std::memory_order_relaxed);
    slept_.store(0, std::memory_order_relaxed);
    slept_ns_.store(0, std::memory_order_relaxed);
    const int64_t t0 = adaptive ? now_ns() : 0;
    f(ctx, 0, nt);
    barrier(nt);  // every member finished: fn_ and ctx_ may change after this
    // Members still leaving their last wait may count after this read: the estimate only steers the fallback.
    // Both conditions: waits that end asleep are also normal when a decode step is long (110M f32: a member
    // finishing its share of a DRAM-bound product ~50 µs before its partner), but then the sleeping is a small
    // part of the step; a descheduled partner makes it most of it. (With only the first condition, 2-thread
    // 110M f32 decoding on an idle machine went solo for 80 of 128 steps.)
    if (adaptive && fallback_) {
      const int waits = waits_.load(std::memory_order_relaxed), slept = slept_.load(std::memory_order_relaxed);
      const int64_t run_ns = now_ns() - t0;
      if (waits >= 4 && 2 * slept > waits && 2 * slept_ns_.load(std::memory_order_relaxed) > run_ns)
        solo_left_ = kSoloRuns;
    }
  }

  TeamStats stats() const {
    return {team_runs_.load(std::memory_order_relaxed), solo_runs_.load(std::memory_order_relaxed)};
  }

  void set_fallback(bool on) {
    std::lock_guard<std::mutex> lk(busy_);
    fallback_ = on;
    if (!on) solo_left_ = 0;
  }

  // Sense-reversing counter barrier: the last to arrive resets the count and advances the phase.
  void barrier(int nt) {
    const uint32_t ph = phase_.load(std::memory_order_acquire);
    if (arrived_.fetch_add(1, std::memory_order_acq_rel) == nt - 1) {
      arrived_.store(0, std::memory_order_relaxed);
      phase_.fetch_add(1, std::memory_order_seq_cst);
      wake_all(phase_, sleepers_);
      return;
    }
    waits_.fetch_add(1, std::memory_order_relaxed);
    if (const int64_t ns = wait_change(phase_, ph, sleepers_); ns > 0) {
      slept_.fetch_add(1, std::memory_order_relaxed);
      slept_ns_.fetch_add(ns, std::memory_order_relaxed);
    }
  }

 private:
  void work(int tid, uint32_t seen) {
    // OpenBLAS's OpenMP build sizes its team from this thread's omp_get_max_threads(), which a new thread
    // inherits from OMP_NUM_THREADS / the core count, not from set_num_threads: keep the BLAS single-threaded
    // here as on the caller (core/parallel.cc), or prefill's sgemm calls would each start an OpenMP team.
    omp_set_num_threads(1);
    for (;;) {
      wait_change(job_, seen, sleepers_);
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
  std::atomic<int> sleepers_{0};  // threads asleep in a futex wait (on job_ or phase_)
  std::atomic<int> waits_{0}, slept_{0};  // this run's barrier waits, and those that ended asleep
  std::atomic<int64_t> slept_ns_{0};      // and how long those slept, summed over the members
  std::atomic<int64_t> team_runs_{0}, solo_runs_{0};  // for team_stats
  int solo_left_ = 0;                     // runs left on one thread (contention fallback); guarded by busy_
  bool fallback_ = true;                  // guarded by busy_
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

void team_run(int nt, void (*f)(void*, int, int), void* ctx, bool contention_fallback) {
  team().run(nt, f, ctx, contention_fallback);
}

TeamStats team_stats() {
  return team().stats();
}

void team_set_contention_fallback(bool on) {
  team().set_fallback(on);
}

void team_barrier(int nt) {
  if (nt > 1) team().barrier(nt);
}

}  // namespace xfmr::infer
