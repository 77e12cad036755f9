// The one thread pool: OpenMP, sized once from --threads / XFMR_THREADS (default: all cores). The BLAS itself
// runs single-threaded; xfmr splits large GEMMs across the pool (kernels/cpu/gemm_blas.cc), so kernels and
// GEMMs never oversubscribe the cores and small products never pay for a thread team.
#pragma once
#include <algorithm>
#include <cstdint>

namespace xfmr {

// Sets the thread count for xfmr kernels and GEMMs. n <= 0 means "all cores".
void set_num_threads(int n);
int num_threads();
// Reads XFMR_THREADS (if set) and applies it; called by the CLI before any work.
void init_threads_from_env();

// Runs f(begin, end) over [0, n) split into contiguous chunks across the pool. Work below `grain` elements
// stays on the calling thread. Chunk boundaries depend only on n and the thread count, so results that are
// reduced per chunk are reproducible for a fixed thread count.
template <class F>
void parallel_for(int64_t n, int64_t grain, F&& f);
// Runs f(begin, end) over [0, n) split into min(chunks, n, threads) contiguous chunks, for callers that size
// the work per chunk themselves (the GEMM splitter). chunks <= 1 runs f(0, n) on the calling thread.
template <class F>
void parallel_chunks(int64_t n, int64_t chunks, F&& f);

}  // namespace xfmr

#include <omp.h>

namespace xfmr {
// Every caller's grain is scaled by this factor: the grains were sized for a thread-team start of a few
// microseconds on idle cores, but when the machine is shared a worker that was descheduled holds up the join
// for a whole time slice, so a region must carry enough work (hundreds of microseconds) to be worth it.
inline constexpr int64_t kGrainScale = 16;

template <class F>
void parallel_for(int64_t n, int64_t grain, F&& f) {
  if (n <= 0) return;
  const int nt = num_threads();
  grain = std::max<int64_t>(grain, 1);
  grain = grain > INT64_MAX / kGrainScale ? INT64_MAX : grain * kGrainScale;
  if (nt <= 1 || n <= grain || omp_in_parallel()) {
    f(int64_t{0}, n);
    return;
  }
  parallel_chunks(n, (n + grain - 1) / grain, f);
}

template <class F>
void parallel_chunks(int64_t n, int64_t chunks, F&& f) {
  if (n <= 0) return;
  chunks = std::min<int64_t>({chunks, n, static_cast<int64_t>(num_threads())});
  if (chunks <= 1 || omp_in_parallel()) {
    f(int64_t{0}, n);
    return;
  }
#pragma omp parallel num_threads(static_cast<int>(chunks))
  {
    const int64_t t = omp_get_thread_num();
    const int64_t begin = n * t / chunks, end = n * (t + 1) / chunks;
    if (begin < end) f(begin, end);
  }
}
}  // namespace xfmr
