// The training step's small (non-GEMM, non-attention) ops at the shapes of `xfmr bench train-icl --preset
// small` (tokens M = 64 x 22 = 1408, C = 64, MLP 256), f32, one thread: LayerNorm forward and forward +
// backward, GELU forward and forward + backward (the MLP hidden layer), the residual add, and the ICL data
// sampling. A per-op view of what the whole-step benchmark only shows as a few percent each (docs/BENCHMARKS.md,
// "session 6, small ops of the training step").
//   ./build/ci/bench/bench_train_small_ops --benchmark_min_time=0.3 --benchmark_repetitions=5
#include <benchmark/benchmark.h>

#include "xfmr/core/parallel.h"
#include "xfmr/core/rng.h"
#include "xfmr/ops/activation.h"
#include "xfmr/ops/elementwise.h"
#include "xfmr/ops/norm.h"
#include "xfmr/tasks/icl_linear.h"

using namespace xfmr;

namespace {
constexpr int64_t kTokens = 1408, kC = 64, kHidden = 256;

void BM_layer_norm_fwd(benchmark::State& st) {
  set_num_threads(1);
  Generator g(1);
  Tensor x = randn({kTokens, kC}, DType::f32, g).set_requires_grad();
  Tensor w = randn({kC}, DType::f32, g).set_requires_grad(), b = randn({kC}, DType::f32, g).set_requires_grad();
  for (auto _ : st) {
    Tensor y = layer_norm(x, w, b);
    benchmark::DoNotOptimize(y.raw_data());
  }
  st.SetItemsProcessed(st.iterations() * kTokens);  // rows
}
BENCHMARK(BM_layer_norm_fwd);

void BM_layer_norm_fwd_bwd(benchmark::State& st) {
  set_num_threads(1);
  Generator g(1);
  Tensor x = randn({kTokens, kC}, DType::f32, g).set_requires_grad();
  Tensor w = randn({kC}, DType::f32, g).set_requires_grad(), b = randn({kC}, DType::f32, g).set_requires_grad();
  const Tensor gy = randn({kTokens, kC}, DType::f32, g);
  for (auto _ : st) {
    Tensor y = layer_norm(x, w, b);
    y.backward(gy);
    benchmark::DoNotOptimize(x.grad().raw_data());
  }
  st.SetItemsProcessed(st.iterations() * kTokens);
}
BENCHMARK(BM_layer_norm_fwd_bwd);

void BM_gelu_fwd(benchmark::State& st) {
  set_num_threads(1);
  Generator g(1);
  Tensor x = randn({kTokens, kHidden}, DType::f32, g).set_requires_grad();
  for (auto _ : st) {
    Tensor y = gelu(x);
    benchmark::DoNotOptimize(y.raw_data());
  }
  st.SetItemsProcessed(st.iterations() * kTokens * kHidden);
}
BENCHMARK(BM_gelu_fwd);

void BM_gelu_fwd_bwd(benchmark::State& st) {
  set_num_threads(1);
  Generator g(1);
  Tensor x = randn({kTokens, kHidden}, DType::f32, g).set_requires_grad();
  const Tensor gy = randn({kTokens, kHidden}, DType::f32, g);
  for (auto _ : st) {
    Tensor y = gelu(x);
    y.backward(gy);
    benchmark::DoNotOptimize(x.grad().raw_data());
  }
  st.SetItemsProcessed(st.iterations() * kTokens * kHidden);
}
BENCHMARK(BM_gelu_fwd_bwd);

void BM_residual_add(benchmark::State& st) {
  set_num_threads(1);
  Generator g(1);
  const Tensor a = randn({kTokens, kC}, DType::f32, g), b = randn({kTokens, kC}, DType::f32, g);
  for (auto _ : st) {
    Tensor y = add(a, b);
    benchmark::DoNotOptimize(y.raw_data());
  }
  st.SetItemsProcessed(st.iterations() * kTokens * kC);
}
BENCHMARK(BM_residual_add);

void BM_icl_sample(benchmark::State& st) {
  set_num_threads(1);
  Generator g(1);
  for (auto _ : st) {
    IclBatch b = sample_icl_linear(64, 11, 5, 5, 0.0, g);
    benchmark::DoNotOptimize(b.ys.raw_data());
  }
  st.SetItemsProcessed(st.iterations() * 64);  // prompts
}
BENCHMARK(BM_icl_sample);

}  // namespace

BENCHMARK_MAIN();
