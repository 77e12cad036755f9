// Which hand-written SIMD paths this CPU may run, decided at run time. The kernels with AVX-512 paths
// (kernels/cpu/quant*.cc) compile them either natively (-march=native on an AVX-512 host) or, in a portable
// build, through GCC's per-function target pragma (XFMR_X86_AVX512_KERNELS below), and call them only when
// cpu_has_avx512_vnni() says the CPU executes them; otherwise they run their plain-loop fallbacks. So one
// portable binary runs on an AVX2-only x86-64 machine and is still fast on an AVX-512 one.
//
// XFMR_ISA=generic in the environment turns the AVX-512 paths off (read once, at the first query): what an
// AVX2-only machine runs, for checking the fallbacks on an AVX-512 host. It does not change code the compiler
// generated for -march (a native build's auto-vectorised loops still use the host's ISA).
#pragma once

// XFMR_X86_AVX512_KERNELS is 1 when this build contains the AVX-512 kernels; XFMR_X86_AVX512_NATIVE is 1 when
// the compiler targets them anyway (-march=native on such a host), else they are compiled through GCC's
// `#pragma GCC target` (XFMR_AVX512_KERNELS_BEGIN / _END around them). Clang builds without -march=native
// keep only the fallbacks.
#if defined(__x86_64__) && defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) && \
    defined(__AVX512VNNI__) && defined(__F16C__) && defined(__FMA__)
#define XFMR_X86_AVX512_KERNELS 1
#define XFMR_X86_AVX512_NATIVE 1
#elif defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define XFMR_X86_AVX512_KERNELS 1
#define XFMR_X86_AVX512_NATIVE 0
#else
#define XFMR_X86_AVX512_KERNELS 0
#define XFMR_X86_AVX512_NATIVE 0
#endif

// Brackets around AVX-512 kernel code in a .cc file (after its #includes): every function defined between
// them, lambdas and templates included, is compiled for AVX-512 and must only run when cpu_has_avx512_vnni().
#if XFMR_X86_AVX512_KERNELS && !XFMR_X86_AVX512_NATIVE
#define XFMR_AVX512_KERNELS_BEGIN \
  _Pragma("GCC push_options") _Pragma("GCC target(\"avx512f,avx512bw,avx512vl,avx512vnni,avx512dq,f16c,fma\")")
#define XFMR_AVX512_KERNELS_END _Pragma("GCC pop_options")
#else
#define XFMR_AVX512_KERNELS_BEGIN
#define XFMR_AVX512_KERNELS_END
#endif

namespace xfmr::kernels {

// AVX512-F/BW/VL/VNNI with F16C and FMA (Intel Ice Lake and later, AMD Zen 4 and later), not turned off by
// XFMR_ISA=generic, and compiled in (XFMR_X86_AVX512_KERNELS). Checked once.
bool cpu_has_avx512_vnni();

// True when XFMR_ISA=generic is set or force_generic_isa_for_testing(true) is in effect: every hand-written
// AVX-512 path then reports itself unavailable (also kernels::cpu_has_avx512_bf16, so bf16 matmuls fall back
// to f32).
bool generic_isa_forced();

// For tests: pretend the CPU lacks the AVX-512 paths (true) or restore what it has (false). Set it before
// building anything that chooses a layout by it (infer::LlamaModel packs its weights by cpu_has_avx512_vnni()).
void force_generic_isa_for_testing(bool generic);

}  // namespace xfmr::kernels
