#include "xfmr/kernels/cpu/cpu_features.h"

#if defined(__x86_64__)
#include <cpuid.h>
#endif

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
  // __builtin_cpu_supports also checks that the OS saves the AVX-512 state; clang 14 knows no "avx512vnni" or
  // "f16c" names for it, so those two bits are read from cpuid (leaf 7 sub-leaf 0 ECX bit 11; leaf 1 ECX bit 29).
  unsigned a = 0, b = 0, c = 0, d = 0;
  const bool vnni = __get_cpuid_count(7, 0, &a, &b, &c, &d) != 0 && (c & (1u << 11)) != 0;
  const bool f16c = __get_cpuid(1, &a, &b, &c, &d) != 0 && (c & (1u << 29)) != 0;
  return vnni && f16c && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("fma");
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
