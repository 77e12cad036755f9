// Elementwise, activation and reduction ops at transformer-block sizes (B*T = 4096 rows of C = 256, f32),
// forward only, single thread and all threads. The PyTorch peer is bench/torch_elementwise.py (same shapes,
// same ops).
//   ./build/release/bench/bench_elementwise --benchmark_min_time=0.2
#include <benchmark/benchmark.h>

#include "xfmr/core/parallel.h"
#include "xfmr/core/rng.h"
#include "xfmr/ops/activation.h"
#include "xfmr/ops/elementwise.h"
#include "xfmr/ops/reduce.h"

using namespace xfmr;

namespace {
constexpr int64_t kRows = 4096, kC = 256;

template <class F>
void run(benchmark::State& st, F f) {
  set_num_threads(static_cast<int>(st.range(0)));
  Generator g(1);
  Tensor x = randn({kRows, kC}, DType::f32, g), y = randn({kRows, kC}, DType::f32, g);
  Tensor row = randn({kC}, DType::f32, g), col = randn({kRows, 1}, DType::f32, g);
  for (auto _ : st) {
    Tensor out = f(x, y, row, col);
    benchmark::DoNotOptimize(out.raw_data());
  }
  st.SetItemsProcessed(st.iterations() * kRows * kC);
}

#define XF_BENCH(name, expr)                                                                              \
  void BM_##name(benchmark::State& st) {                                                                  \
    run(st, [](const Tensor& x, const Tensor& y, const Tensor& row, const Tensor& col) { return expr; }); \
  }                                                                                                       \
  BENCHMARK(BM_##name)->Arg(1)->Arg(0)

XF_BENCH(add_same, add(x, y));
XF_BENCH(add_row, add(x, row));
XF_BENCH(mul_col, mul(x, col));
XF_BENCH(mul_scalar, mul(x, 0.5));
XF_BENCH(add_transposed, add(x, y.as_strided({kRows, kC}, {1, kRows}, 0)));
XF_BENCH(exp, exp(x));
XF_BENCH(gelu, gelu(x));
XF_BENCH(gelu_tanh, gelu(x, GeluApprox::tanh));
XF_BENCH(silu, silu(x));
XF_BENCH(sum_last, sum(x, {-1}));
XF_BENCH(sum_lead, sum(x, {0}));
XF_BENCH(mean_all, mean(x));
XF_BENCH(max_last, max(x, -1));
XF_BENCH(var_last, var(x, {-1}));

// Dispatch overhead: a tiny tensor (d = 64 model, one token row).
void BM_add_tiny(benchmark::State& st) {
  Tensor a = Tensor::ones({64}), b = Tensor::ones({64});
  for (auto _ : st) {
    Tensor out = add(a, b);
    benchmark::DoNotOptimize(out.raw_data());
  }
}
BENCHMARK(BM_add_tiny);
}  // namespace
BENCHMARK_MAIN();
