// The training step's small (non-GEMM, non-attention) ops at the shapes of `xfmr bench train-icl --preset
// small` (tokens M = 64 x 22 = 1408, C = 64, MLP 256), f32, one thread: LayerNorm forward and forward +
// backward, GELU forward and forward + backward (the MLP hidden layer), the residual add, and the ICL data
// sampling. A per-op view of what the whole-step benchmark only shows as a few percent each (docs/BENCHMARKS.md,
// "session 6, small ops of the training step").
//   ./build/ci/bench/bench_train_small_ops --benchmark_min_time=0.3 --benchmark_repetitions=5
#include <benchmark/benchmark.h>

#include <vector>

#include "xfmr/core/parallel.h"
#include "xfmr/core/rng.h"
#include "xfmr/kernels/cpu/norm.h"
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

// The LayerNorm kernels alone (no tensor or graph work): the row kernels one row at a time (the loop ops/norm.cc
// ran before session 6) against the multi-row kernels, forward and backward (dx, and dw / db partial sums over
// 32 row blocks as ops/norm.cc does). Compare them with --benchmark_enable_random_interleaving=true.
struct NormData {
  std::vector<float> x, w, b, y, g, dx, mean, rstd;
  std::vector<double> pw, pb;
  NormData() {
    Generator gen(3);
    auto fill = [&](std::vector<float>& v, int64_t n) {
      v.resize(static_cast<size_t>(n));
      for (auto& e : v) e = static_cast<float>(gen.next_normal());
    };
    fill(x, kTokens * kC);
    fill(g, kTokens * kC);
    fill(w, kC);
    fill(b, kC);
    y.resize(x.size());
    dx.resize(x.size());
    mean.resize(kTokens);
    rstd.resize(kTokens);
    pw.assign(32 * kC, 0.0);
    pb.assign(32 * kC, 0.0);
  }
};

void BM_norm_kernel_fwd(benchmark::State& st) {
  NormData d;
  const bool rows = st.range(0) != 0;
  for (auto _ : st) {
    if (rows) {
      kernels::cpu::norm_rows_forward<float>(d.x.data(), d.w.data(), d.b.data(), d.y.data(), kTokens, kC, 1e-5,
                                                 true, d.mean.data(), d.rstd.data());
    } else {
      for (int64_t r = 0; r < kTokens; ++r)
        kernels::cpu::norm_row_forward(d.x.data() + r * kC, d.w.data(), d.b.data(), d.y.data() + r * kC, kC, 1e-5,
                                       true, d.mean[r], d.rstd[r]);
    }
    benchmark::DoNotOptimize(d.y.data());
    benchmark::ClobberMemory();
  }
  st.SetItemsProcessed(st.iterations() * kTokens);
}
BENCHMARK(BM_norm_kernel_fwd)->ArgName("rows")->Arg(0)->Arg(1);

void BM_norm_kernel_bwd(benchmark::State& st) {
  NormData d;
  kernels::cpu::norm_rows_forward<float>(d.x.data(), d.w.data(), d.b.data(), d.y.data(), kTokens, kC, 1e-5,
                                             true, d.mean.data(), d.rstd.data());
  const bool rows = st.range(0) != 0;
  for (auto _ : st) {
    for (int64_t blk = 0; blk < 32; ++blk) {
      const int64_t r0 = kTokens * blk / 32, r1 = kTokens * (blk + 1) / 32;
      double* bw = d.pw.data() + blk * kC;
      double* bb = d.pb.data() + blk * kC;
      if (rows) {
        kernels::cpu::norm_rows_backward<float>(d.x.data() + r0 * kC, d.g.data() + r0 * kC, d.w.data(),
                                                    d.mean.data() + r0, d.rstd.data() + r0, r1 - r0, kC, true,
                                                    d.dx.data() + r0 * kC, bw, bb);
      } else {
        for (int64_t r = r0; r < r1; ++r)
          kernels::cpu::norm_row_backward(d.x.data() + r * kC, d.g.data() + r * kC, d.w.data(), d.mean[r], d.rstd[r],
                                          kC, true, d.dx.data() + r * kC, bw, bb);
      }
    }
    benchmark::DoNotOptimize(d.dx.data());
    benchmark::ClobberMemory();
  }
  st.SetItemsProcessed(st.iterations() * kTokens);
}
BENCHMARK(BM_norm_kernel_bwd)->ArgName("rows")->Arg(0)->Arg(1);

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
