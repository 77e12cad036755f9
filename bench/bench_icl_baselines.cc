// Cost of the classical ICL baselines in an `xfmr icl` evaluation: each baseline predicts at every k = 0..n−1 on
// P = 1000 prompts (n = 2d + 1, as in Garg et al.), then the error curve with a 1000-resample bootstrap.
// Run: bench_icl_baselines [--benchmark_filter=...]; XFMR_THREADS=1 for the single-thread numbers.
#include <benchmark/benchmark.h>

#include "xfmr/baselines/standard.h"
#include "xfmr/eval/error_curve.h"
#include "xfmr/tasks/icl_linear.h"

using namespace xfmr;

namespace {

void BM_Baseline(benchmark::State& st) {
  const int64_t d = st.range(0), which = st.range(1), P = 1000, n = 2 * d + 1;
  Generator g(1);
  const IclBatch b = sample_icl_linear(P, n, d, d, 0.0, g);
  const auto bs = standard_baselines();
  st.SetLabel(bs[which].name);
  for (auto _ : st) benchmark::DoNotOptimize(predict_all(bs[which].predict, b));
  st.counters["pred/s"] = benchmark::Counter(static_cast<double>(P * n), benchmark::Counter::kIsIterationInvariantRate);
}

// All six baselines end to end: predictions, errors and the bootstrap summary.
void BM_AllBaselinesErrorCurves(benchmark::State& st) {
  const int64_t d = st.range(0), P = 1000, n = 2 * d + 1;
  Generator g(1);
  const IclBatch b = sample_icl_linear(P, n, d, d, 0.0, g);
  const auto bs = standard_baselines();
  for (auto _ : st)
    for (const auto& nb : bs) benchmark::DoNotOptimize(error_vs_k(nb.predict, b, d));
}

void BM_Bootstrap(benchmark::State& st) {
  const int64_t d = st.range(0), P = 1000, n = 2 * d + 1;
  Tensor e = Tensor::ones({P, n}, DType::f64);
  for (auto _ : st) benchmark::DoNotOptimize(summarize_errors(e));
}

}  // namespace

BENCHMARK(BM_Baseline)->ArgsProduct({{5, 20}, {0, 1, 2, 3, 4, 5}})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_AllBaselinesErrorCurves)->Arg(5)->Arg(20)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Bootstrap)->Arg(5)->Arg(20)->Unit(benchmark::kMillisecond);
BENCHMARK_MAIN();
