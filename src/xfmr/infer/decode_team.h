// The thread team that decodes a token (infer/llama.cc): the caller plus parked worker threads, a barrier,
// and nothing else. Not the OpenMP pool on purpose: decoding synchronises ~5 times per layer (a few
// microseconds of work between barriers), and libgomp's barriers spin for long (its wait policy is fixed when
// the program starts). A waiting member here spins briefly (~2,000 pauses) and then sleeps on a raw futex
// (libstdc++'s atomic wait was slower). On this 2-core VM a futex sleep + wake costs tens of microseconds, so
// without the spin 2 threads decoded slower than 1 (stories15M q4_0: ~1,100 vs ~3,600 tok/s; with it ~5,600).
// When another process holds a core, members are descheduled and most waits end asleep: then the team falls
// back to the caller alone for a while (team_run), which keeps 2 threads about as fast as 1 under contention.
#pragma once
#include <cstdint>
#include <type_traits>

namespace xfmr::infer {

// Runs f(ctx, tid, nt) for tid in [0, nt) on nt threads, the caller being tid 0, and returns when all are
// done. Runs f(ctx, 0, 1) on the caller when nt <= 1, when another thread is using the team (one team per
// process), or, for runs with contention_fallback, during the next 128 such runs after one in which most
// barrier waits ended asleep and the sleeping took more than half of the run's time (contention; see
// team_set_contention_fallback). So f must compute the same
// result for every team size it may get (nt or 1).
// Workers are created on first use and live until exit. No allocation once the team has grown to nt.
// `contention_fallback`: whether this run may go solo, and whether its waits count as evidence. Decoding
// steps pass true; prefill blocks pass false (their waits are long by nature, a member finishing a
// millisecond-long share before its partner, which is not contention).
void team_run(int nt, void (*f)(void* ctx, int tid, int nt), void* ctx, bool contention_fallback = false);

// Runs since the process started that went to a team of more than one thread, and runs of nt > 1 that the
// contention fallback sent to the caller alone (a bench reports them: they explain a 2-thread figure).
struct TeamStats {
  int64_t team_runs = 0, solo_runs = 0;
};
TeamStats team_stats();

// Turns the contention fallback on (the default) or off; off also ends a fallback in progress. For tests.
void team_set_contention_fallback(bool on);

// Waits until all nt members of the running team have called it (no-op for nt <= 1). Every member must call
// it the same number of times.
void team_barrier(int nt);

// The same with a callable (no allocation: the callable is passed by address).
template <class F>
void team_run(int nt, F&& f, bool contention_fallback = false) {
  using Fn = std::remove_reference_t<F>;
  team_run(
      nt, [](void* c, int tid, int n) { (*static_cast<Fn*>(c))(tid, n); },
      const_cast<void*>(static_cast<const void*>(&f)), contention_fallback);
}

}  // namespace xfmr::infer
