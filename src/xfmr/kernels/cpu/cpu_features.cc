#include "xfmr/kernels/cpu/cpu_features.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace xfmr::kernels {
namespace {

bool env_generic() {
  const char* isa = std::getenv("XFMR_ISA");
  return isa != nullptr && std::strcmp(isa, "generic") == 0;
}

bool detect_avx512_vnni() {
#if XFMR_X86_AVX512_KERNELS
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni") &&
         __builtin_cpu_supports("f16c") && __builtin_cpu_supports("fma");
#else
  return false;
#endif
}

std::atomic<bool> forced_generic{false};

}  // namespace

bool generic_isa_forced() {
  static const bool env = env_generic();
  return env || forced_generic.load(std::memory_order_relaxed);
}

bool cpu_has_avx512_vnni() {
  static const bool has = detect_avx512_vnni();
  return has && !generic_isa_forced();
}

void force_generic_isa_for_testing(bool generic) {
  forced_generic.store(generic, std::memory_order_relaxed);
}

}  // namespace xfmr::kernels
