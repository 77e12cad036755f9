// The thread team that decodes a token (infer/llama.cc): the caller plus parked worker threads, a barrier,
// and nothing else. Not the OpenMP pool on purpose: decoding synchronises ~5 times per layer (a few
// microseconds of work between barriers), and libgomp's barriers and idle workers spin by default
// (OMP_WAIT_POLICY cannot be changed once the program runs). On a machine shared with other jobs a spinning
// thread burns the time slice its partner needs and the scheduler penalises it: measured on this 2-core
// machine at load ~20, 2 OpenMP threads decoded stories15M q4_0 at 37 tok/s against 390 on one thread, and at
// 475-640 with OMP_WAIT_POLICY=passive. Here a waiting thread sleeps on a futex at once (raw futex on Linux:
// libstdc++'s atomic wait was slower), which gave ~1,150 tok/s on 2 threads against ~420 on one.
#pragma once
#include <cstdint>

namespace xfmr::infer {

// Runs f(ctx, tid, nt) for tid in [0, nt) on nt threads, the caller being tid 0, and returns when all are
// done. Runs f(ctx, 0, 1) on the caller when nt <= 1 or when another thread is using the team (one team per
// process). Workers are created on first use and live until exit. No allocation once the team has grown to nt.
void team_run(int nt, void (*f)(void* ctx, int tid, int nt), void* ctx);

// Waits until all nt members of the running team have called it (no-op for nt <= 1). Every member must call
// it the same number of times.
void team_barrier(int nt);

// The same with a callable (no allocation: the callable is passed by address).
template <class F>
void team_run(int nt, F&& f) {
  team_run(
      nt, [](void* c, int tid, int n) { (*static_cast<F*>(c))(tid, n); },
      const_cast<void*>(static_cast<const void*>(&f)));
}

}  // namespace xfmr::infer
