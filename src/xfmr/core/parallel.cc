#include "xfmr/core/parallel.h"

#include <cstdlib>
#include <string>
#include <thread>

#include "xfmr/core/check.h"

extern "C" void openblas_set_num_threads(int);

namespace xfmr {
namespace {
int g_threads = 0;
}

void set_num_threads(int n) {
  if (n <= 0) n = static_cast<int>(std::thread::hardware_concurrency());
  if (n <= 0) n = 1;
  g_threads = n;
  // The BLAS runs single-threaded: OpenBLAS's OpenMP build sizes its team from omp_get_max_threads() on every
  // call, so that ICV stays at 1, and xfmr's own regions (parallel_for, always with an explicit num_threads)
  // split large GEMMs themselves (kernels/cpu/gemm_blas.cc). OpenBLAS would otherwise thread every product
  // above ~0.26M multiply-adds, where a fork/join costs more than it saves on a busy machine.
  openblas_set_num_threads(1);
  omp_set_num_threads(1);
}

int num_threads() {
  if (g_threads == 0) init_threads_from_env();
  return g_threads;
}

void init_threads_from_env() {
  const char* env = std::getenv("XFMR_THREADS");
  int n = 0;
  if (env && *env) {
    char* end = nullptr;
    const long v = std::strtol(env, &end, 10);
    XF_CHECK(end && *end == '\0' && v > 0 && v <= 1024, "XFMR_THREADS: expected a positive integer, got '", env, "'");
    n = static_cast<int>(v);
  }
  set_num_threads(n);
}

}  // namespace xfmr
