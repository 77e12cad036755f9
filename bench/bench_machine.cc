// The machine's own ceilings, against which every xfmr kernel is judged (DESIGN.md, "Performance model"):
//   - BM_Sgemm: raw cblas_sgemm throughput (counter GFLOPS = 2*M*N*K per call / wall second / 1e9) at square
//     sizes and at the GEMM shapes of a small transformer (B*T = 1536 rows, K = N = d_model 128/384 or
//     4*384);
//   - BM_StreamTriad: STREAM triad a[i] = b[i] + s*c[i] (McCalpin, "Memory bandwidth and machine balance",
//     1995) on three 64 MiB float arrays; bytes_per_second counts the 3 arrays moved per pass, as STREAM does
//     (the write-allocate read of `a` is not counted), so it is a lower bound on the traffic the memory
//     served.
// Both run at 1 and 2 threads: set_num_threads (core/parallel.h) sets OpenMP and OpenBLAS together.
//
//   build/ci/bench/bench_machine --benchmark_min_time=0.2
#include <benchmark/benchmark.h>
#include <cblas.h>

#include <cstdint>
#include <cstdlib>
#include <memory>

#include "xfmr/core/parallel.h"

namespace {

struct FreeDeleter {
  void operator()(float* p) const { std::free(p); }
};
using Buffer = std::unique_ptr<float[], FreeDeleter>;

// 64-byte aligned floats (cache lines / AVX-512 vectors).
Buffer make_buffer(int64_t n) {
  const size_t bytes = (static_cast<size_t>(n) * sizeof(float) + 63) / 64 * 64;
  return Buffer(static_cast<float*>(std::aligned_alloc(64, bytes)));
}

// C[M, N] = A[M, K] @ B[K, N], row-major, no transposes (the forward of a linear layer with x as A).
void BM_Sgemm(benchmark::State& state) {
  const int64_t M = state.range(0), K = state.range(1), N = state.range(2);
  xfmr::set_num_threads(static_cast<int>(state.range(3)));
  Buffer a = make_buffer(M * K), b = make_buffer(K * N), c = make_buffer(M * N);
  // Small, non-denormal values that do not grow: the timing must not depend on the data.
  for (int64_t i = 0; i < M * K; ++i) a[i] = 0.01f * static_cast<float>(i % 97) - 0.5f;
  for (int64_t i = 0; i < K * N; ++i) b[i] = 0.02f * static_cast<float>(i % 89) - 0.9f;
  for (auto _ : state) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(M), static_cast<int>(N),
                static_cast<int>(K), 1.0f, a.get(), static_cast<int>(K), b.get(), static_cast<int>(N), 0.0f,
                c.get(), static_cast<int>(N));
    benchmark::DoNotOptimize(c.get());
    benchmark::ClobberMemory();
  }
  const double flops_per_call =
      2.0 * static_cast<double>(M) * static_cast<double>(N) * static_cast<double>(K);
  state.counters["GFLOPS"] = benchmark::Counter(
      flops_per_call * 1e-9 * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

void SgemmArgs(benchmark::internal::Benchmark* b) {
  b->ArgNames({"M", "K", "N", "threads"});
  for (int64_t threads : {1, 2}) {
    for (int64_t n : {64, 256, 1024}) b->Args({n, n, n, threads});
    for (int64_t k : {128, 384, 1536}) b->Args({1536, k, k, threads});
  }
}
BENCHMARK(BM_Sgemm)->Apply(SgemmArgs)->UseRealTime()->Unit(benchmark::kMillisecond);

// a[i] = b[i] + s * c[i] over three arrays of `bytes` each, split across the pool in contiguous chunks.
void BM_StreamTriad(benchmark::State& state) {
  const int64_t bytes = state.range(0) << 20;
  const int64_t n = bytes / static_cast<int64_t>(sizeof(float));
  xfmr::set_num_threads(static_cast<int>(state.range(1)));
  Buffer a = make_buffer(n), b = make_buffer(n), c = make_buffer(n);
  float* pa = a.get();
  float* pb = b.get();
  float* pc = c.get();
  const int64_t grain = 1 << 16;
  // First touch with the same partition as the timed loop (pages land near the thread that uses them).
  xfmr::parallel_for(n, grain, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      pa[i] = 0.0f;
      pb[i] = 1.0f;
      pc[i] = 2.0f;
    }
  });
  const float s = 3.0f;
  for (auto _ : state) {
    xfmr::parallel_for(n, grain, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) pa[i] = pb[i] + s * pc[i];
    });
    benchmark::DoNotOptimize(pa);
    benchmark::ClobberMemory();
  }
  const double moved = 3.0 * static_cast<double>(bytes) * static_cast<double>(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(moved));
  state.counters["GBps"] = benchmark::Counter(moved * 1e-9, benchmark::Counter::kIsRate);
  if (pa[n / 2] != 7.0f) state.SkipWithError("triad produced a wrong value");
}
BENCHMARK(BM_StreamTriad)
    ->ArgNames({"MiB", "threads"})
    ->Args({64, 1})
    ->Args({64, 2})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
