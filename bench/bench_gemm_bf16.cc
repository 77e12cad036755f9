// The AVX512-BF16 GEMM (kernels/cpu/gemm_bf16.h) beside OpenBLAS sgemm on the shapes of the training benches'
// linear layers (one thread, C = A·Bᵀ as in a linear forward with row-major weights). GFLOPS counts 2·M·N·K per
// call per CPU second (the machine is shared: CPU time is the stable figure).
//   build/ci/bench/bench_gemm_bf16 --benchmark_min_time=0.2
#include <benchmark/benchmark.h>
#include <cblas.h>

#include <algorithm>
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


// The three products of one linear layer y = x·Wᵀ (x: [R, I], W: [O, I], g = dL/dy: [R, O]) in the orientations
// ops/matmul.cc hands to the kernel: 0 forward y = x·Wᵀ (B = Wᵀ read in place), 1 dx = g·W, 2 dW = gᵀ·x (A = gᵀ
// read in place, K = R). One bf16 GEMM per iteration; GFLOPS as above.
void BM_LinearBf16(benchmark::State& state) {
  const int64_t R = state.range(0), I = state.range(1), O = state.range(2), orient = state.range(3);
  xfmr::set_num_threads(1);
  if (!xfmr::kernels::cpu_has_avx512_bf16()) {
    state.SkipWithError("CPU lacks AVX512-BF16");
    return;
  }
  std::vector<float> x(static_cast<size_t>(R * I)), w(static_cast<size_t>(O * I)), g(static_cast<size_t>(R * O));
  std::vector<float> c(static_cast<size_t>(std::max(R * std::max(I, O), O * I)));
  fill(x, 0.01f);
  fill(w, 0.02f);
  fill(g, 0.03f);
  for (auto _ : state) {
    if (orient == 0) {
      xfmr::kernels::gemm_bf16(R, O, I, x.data(), I, 1, w.data(), 1, I, c.data(), O, false);
    } else if (orient == 1) {
      xfmr::kernels::gemm_bf16(R, I, O, g.data(), O, 1, w.data(), I, 1, c.data(), I, false);
    } else {
      xfmr::kernels::gemm_bf16(O, I, R, g.data(), 1, O, x.data(), I, 1, c.data(), I, false);
    }
    benchmark::DoNotOptimize(c.data());
    benchmark::ClobberMemory();
  }
  state.counters["GFLOPS"] = benchmark::Counter(2.0 * static_cast<double>(R * I * O) * 1e-9 *
                                                    static_cast<double>(state.iterations()),
                                                benchmark::Counter::kIsRate);
}

// R = tokens per step; I -> O = the layers of ICL small (64, 1408 tokens), ICL paper (256, 5248 tokens) and char
// shakespeare (384, 3072 tokens).
void LinearShapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"R", "I", "O", "dir"});
  for (auto s : {std::vector<int64_t>{1408, 64, 192}, {1408, 64, 64}, {1408, 64, 256}, {1408, 256, 64},
                 {5248, 256, 768}, {5248, 256, 1024}, {5248, 1024, 256}, {3072, 384, 1152}, {3072, 384, 1536},
                 {3072, 1536, 384}})
    for (int64_t d : {0, 1, 2}) b->Args({s[0], s[1], s[2], d});
}

}  // namespace

BENCHMARK(BM_Sgemm)->Apply(Shapes)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_GemmBf16)->Apply(Shapes)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_LinearBf16)->Apply(LinearShapes)->Unit(benchmark::kMillisecond);
BENCHMARK_MAIN();
