// The one thread pool: OpenMP, sized once from --threads / XFMR_THREADS (default: all cores), with the BLAS
// kept at the same count so kernels and GEMMs never oversubscribe the cores.
#pragma once
#include <algorithm>
#include <cstdint>

namespace xfmr {

// Sets the thread count for xfmr kernels and the BLAS. n <= 0 means "all cores".
void set_num_threads(int n);
int num_threads();
// Reads XFMR_THREADS (if set) and applies it; called by the CLI before any work.
void init_threads_from_env();

// Runs f(begin, end) over [0, n) split into contiguous chunks across the pool. Work below `grain` elements
// stays on the calling thread. Chunk boundaries depend only on n and the thread count, so results that are
// reduced per chunk are reproducible for a fixed thread count.
template <class F>
void parallel_for(int64_t n, int64_t grain, F&& f);

}  // namespace xfmr

#include <omp.h>

namespace xfmr {
template <class F>
void parallel_for(int64_t n, int64_t grain, F&& f) {
  if (n <= 0) return;
  const int nt = num_threads();
  if (nt <= 1 || n <= grain || omp_in_parallel()) {
    f(int64_t{0}, n);
    return;
  }
  const int64_t chunks = std::min<int64_t>(nt, (n + grain - 1) / grain);
#pragma omp parallel num_threads(static_cast<int>(chunks))
  {
    const int64_t t = omp_get_thread_num();
    const int64_t begin = n * t / chunks, end = n * (t + 1) / chunks;
    if (begin < end) f(begin, end);
  }
}
}  // namespace xfmr
