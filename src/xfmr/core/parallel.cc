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
  omp_set_num_threads(n);
  openblas_set_num_threads(n);
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
