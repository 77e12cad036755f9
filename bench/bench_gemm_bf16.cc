// The AVX512-BF16 GEMM (kernels/cpu/gemm_bf16.h) beside OpenBLAS sgemm on the shapes of the training benches'
// linear layers (one thread, C = A·Bᵀ as in a linear forward with row-major weights). GFLOPS counts 2·M·N·K per
// call per CPU second (the machine is shared: CPU time is the stable figure).
//   build/ci/bench/bench_gemm_bf16 --benchmark_min_time=0.2
#include <benchmark/benchmark.h>
#include <cblas.h>

#include <vector>

#include "xfmr/core/parallel.h"
#include "xfmr/kernels/cpu/gemm_bf16.h"

namespace {

void fill(std::vector<float>& v, float scale) {
  for (size_t i = 0; i < v.size(); ++i) v[i] = scale * static_cast<float>(static_cast<int64_t>(i % 97) - 48);
}

void run(benchmark::State& state, bool bf16) {
  const int64_t M = state.range(0), N = state.range(1), K = state.range(2);
  xfmr::set_num_threads(1);  // also pins the (OpenMP) BLAS to one thread
  if (bf16 && !xfmr::kernels::cpu_has_avx512_bf16()) {
    state.SkipWithError("CPU lacks AVX512-BF16");
    return;
  }
  std::vector<float> a(static_cast<size_t>(M * K)), b(static_cast<size_t>(N * K)), c(static_cast<size_t>(M * N));
  fill(a, 0.01f);
  fill(b, 0.02f);
  for (auto _ : state) {
    if (bf16) {
      xfmr::kernels::gemm_bf16(M, N, K, a.data(), K, 1, b.data(), 1, K, c.data(), N, false);
    } else {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(M), static_cast<int>(N),
                  static_cast<int>(K), 1.0f, a.data(), static_cast<int>(K), b.data(), static_cast<int>(K), 0.0f,
                  c.data(), static_cast<int>(N));
    }
    benchmark::DoNotOptimize(c.data());
    benchmark::ClobberMemory();
  }
  state.counters["GFLOPS"] = benchmark::Counter(2.0 * static_cast<double>(M * N * K) * 1e-9 *
                                                    static_cast<double>(state.iterations()),
                                                benchmark::Counter::kIsRate);
}

void BM_GemmBf16(benchmark::State& state) { run(state, true); }
void BM_Sgemm(benchmark::State& state) { run(state, false); }

// M = tokens per step (ICL small: 64 x 22; char tiny: 12 x 128; char shakespeare: 12 x 256), N x K = the layers.
void Shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"M", "N", "K"});
  for (auto s : {std::vector<int64_t>{1408, 192, 64}, {1408, 256, 64}, {1408, 64, 256}, {1536, 384, 128},
                 {1536, 512, 128}, {1536, 128, 512}, {3072, 1152, 384}, {3072, 1536, 384}, {3072, 384, 1536}})
    b->Args(s);
}

}  // namespace

BENCHMARK(BM_Sgemm)->Apply(Shapes)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_GemmBf16)->Apply(Shapes)->Unit(benchmark::kMillisecond);
BENCHMARK_MAIN();
