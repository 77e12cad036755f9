// Fused (tiled, online-softmax) attention vs the unfused reference that materialises the [T, S] probabilities:
// forward + backward, causal, f32, B = 1, H = 4, D = 64. Reports time per step and the allocator's peak bytes in
// use during the step (inputs included), so the O(T) vs O(T^2) memory shows next to the speed.
//
//   build/ci/bench/bench_attention --benchmark_min_time=0.1
#include <benchmark/benchmark.h>

#include "xfmr/core/allocator.h"
#include "xfmr/core/autograd.h"
#include "xfmr/core/rng.h"
#include "xfmr/kernels/cpu/gemm_blas.h"
#include "xfmr/ops/attention.h"
#include "xfmr/ops/attention_reference.h"

using namespace xfmr;

namespace {

constexpr int64_t kB = 1, kH = 4, kD = 64;

// kDropout: the fused kernel with attention-probability dropout p = 0.1 (nanoGPT's attn_dropout), to price the
// mask regeneration (one Philox block per 4 probabilities, forward and backward).
template <bool kFused, bool kDropout = false>
void BM_attention_fwd_bwd(benchmark::State& state) {
  const int64_t T = state.range(0);
  Generator g(1);
  Tensor q = randn({kB, kH, T, kD}, DType::f32, g), k = randn({kB, kH, T, kD}, DType::f32, g),
         v = randn({kB, kH, T, kD}, DType::f32, g), up = randn({kB, kH, T, kD}, DType::f32, g);
  q.set_requires_grad(), k.set_requires_grad(), v.set_requires_grad();
  AttentionOptions opt;
  opt.causal = true;
  if (kDropout) {
    opt.dropout_p = 0.1;
    opt.dropout_seed = 7;
  }
  auto step = [&] {
    q.set_grad(Tensor()), k.set_grad(Tensor()), v.set_grad(Tensor());
    Tensor out = kFused ? scaled_dot_product_attention(q, k, v, opt) : attention_reference(q, k, v, opt);
    out.backward(up);
  };
  step();  // warm the caching allocator, then measure one step's peak
  q.set_grad(Tensor()), k.set_grad(Tensor()), v.set_grad(Tensor());
  reset_peak_bytes();
  step();
  const double peak = static_cast<double>(alloc_stats().peak_bytes_in_use);
  for (auto _ : state) step();
  state.counters["peak_MiB"] = peak / (1024.0 * 1024.0);
  // Useful work of a causal step: forward 2 GEMMs + backward 5 GEMMs, each 2 T S D / 2 flops per head.
  state.counters["GFLOP/s"] = benchmark::Counter(7.0 * kB * kH * T * T * kD, benchmark::Counter::kIsIterationInvariantRate,
                                                 benchmark::Counter::kIs1000);
  release_cached_memory();
}

// packed_self_attention (the training step's attention: qkv [B, T, 3C] from the fused projection -> [B, T, C]),
// forward + backward, causal, at the shapes of the training benchmarks: args (B, T, H, D, bf16 tile products).
void BM_packed_fwd_bwd(benchmark::State& state) {
  const int64_t B = state.range(0), T = state.range(1), H = state.range(2), D = state.range(3), C = H * D;
  const bool bf16 = state.range(4) != 0;
  const MatmulPrecision saved = matmul_precision();
  set_matmul_precision(bf16 ? MatmulPrecision::bf16 : MatmulPrecision::f32);
  Generator g(1);
  Tensor qkv = randn({B, T, 3 * C}, DType::f32, g), up = randn({B, T, C}, DType::f32, g);
  qkv.set_requires_grad();
  auto step = [&] {
    qkv.set_grad(Tensor());
    packed_self_attention(qkv, H, /*causal=*/true).backward(up);
  };
  step();
  for (auto _ : state) step();
  state.counters["GFLOP/s"] = benchmark::Counter(7.0 * B * H * T * T * D, benchmark::Counter::kIsIterationInvariantRate,
                                                 benchmark::Counter::kIs1000);
  set_matmul_precision(saved);
  release_cached_memory();
}

}  // namespace

// ICL small (64 x 22, 2 heads of 32), char tiny (12 x 128, 4 x 32), char shakespeare (12 x 256, 6 x 64).
BENCHMARK(BM_packed_fwd_bwd)->Name("packed_causal")->ArgNames({"B", "T", "H", "D", "bf16"})
    ->Args({64, 22, 2, 32, 0})->Args({64, 22, 2, 32, 1})->Args({12, 128, 4, 32, 0})->Args({12, 128, 4, 32, 1})
    ->Args({12, 256, 6, 64, 0})->Args({12, 256, 6, 64, 1})->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_attention_fwd_bwd<true>)->Name("fused_causal")->Arg(256)->Arg(1024)->Arg(4096)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_attention_fwd_bwd<true, true>)->Name("fused_causal_dropout")->Arg(256)->Arg(1024)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_attention_fwd_bwd<false>)->Name("reference_causal")->Arg(256)->Arg(1024)->Arg(4096)->Unit(benchmark::kMillisecond)->UseRealTime();

BENCHMARK_MAIN();
