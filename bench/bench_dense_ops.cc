// Benchmarks for the dense op families (matmul/linear, norms, softmax, cross-entropy), forward + backward, with the
// raw BLAS sgemm as the ceiling for the GEMM-bound ops. Run: build/ci/bench/bench_dense_ops [--benchmark_filter=..]
#include <benchmark/benchmark.h>
#include <cblas.h>

#include "xfmr/core/autograd.h"
#include "xfmr/core/rng.h"
#include "xfmr/ops/loss.h"
#include "xfmr/ops/matmul.h"
#include "xfmr/ops/norm.h"
#include "xfmr/ops/softmax.h"

using namespace xfmr;

namespace {

Tensor leaf(const Shape& s, uint64_t seed) {
  Generator g(seed);
  Tensor t = randn(s, DType::f32, g);
  t.set_requires_grad(true);
  return t;
}

// Raw cblas_sgemm on [M, K] x [K, N]: the ceiling for linear/matmul.
void BM_sgemm_raw(benchmark::State& st) {
  const int M = static_cast<int>(st.range(0)), N = static_cast<int>(st.range(1)), K = static_cast<int>(st.range(2));
  Generator g(1);
  Tensor a = randn({M, K}, DType::f32, g), b = randn({K, N}, DType::f32, g), c = Tensor::empty({M, N});
  for (auto _ : st)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, a.data<float>(), K, b.data<float>(), N,
                0.0f, c.data<float>(), N);
  st.counters["GFLOP/s"] = benchmark::Counter(2.0 * M * N * K, benchmark::Counter::kIsIterationInvariantRate,
                                              benchmark::Counter::kIs1000);
}
BENCHMARK(BM_sgemm_raw)->Args({2048, 1536, 512})->Unit(benchmark::kMillisecond);

// linear forward + backward (3 GEMMs of the same size as the forward).
void BM_linear_fwd_bwd(benchmark::State& st) {
  const int64_t M = st.range(0), N = st.range(1), K = st.range(2);
  Tensor x = leaf({M / 256, 256, K}, 1), w = leaf({N, K}, 2), b = leaf({N}, 3);
  Tensor g = Tensor::ones({M / 256, 256, N});
  for (auto _ : st) {
    Tensor y = linear(x, w, b);
    y.backward(g);
  }
  st.counters["GFLOP/s"] = benchmark::Counter(6.0 * M * N * K, benchmark::Counter::kIsIterationInvariantRate,
                                              benchmark::Counter::kIs1000);
}
BENCHMARK(BM_linear_fwd_bwd)->Args({2048, 1536, 512})->Unit(benchmark::kMillisecond);

// Attention-shaped batched matmul: [B, H, T, D] x [B, H, D, T], forward + backward.
void BM_matmul_batched_fwd_bwd(benchmark::State& st) {
  const int64_t B = 8, H = 8, T = st.range(0), D = 64;
  Tensor q = leaf({B, H, T, D}, 1), k = leaf({B, H, D, T}, 2);
  Tensor g = Tensor::ones({B, H, T, T});
  for (auto _ : st) {
    Tensor s = matmul(q, k);
    s.backward(g);
  }
  st.counters["GFLOP/s"] = benchmark::Counter(6.0 * B * H * T * T * D, benchmark::Counter::kIsIterationInvariantRate,
                                              benchmark::Counter::kIs1000);
}
BENCHMARK(BM_matmul_batched_fwd_bwd)->Arg(128)->Unit(benchmark::kMillisecond);

// Bandwidth-bound row ops: bytes = elements moved by forward + backward, roughly 2 (fwd) + 3 (bwd) row passes.
template <class F>
void row_op(benchmark::State& st, F f) {
  const int64_t R = st.range(0), C = st.range(1);
  Tensor x = leaf({R, C}, 1), w = leaf({C}, 2), b = leaf({C}, 3);
  Tensor g = leaf({R, C}, 4).detach();
  for (auto _ : st) {
    Tensor y = f(x, w, b);
    y.backward(g);
  }
  st.counters["GB/s"] = benchmark::Counter(5.0 * R * C * 4, benchmark::Counter::kIsIterationInvariantRate,
                                           benchmark::Counter::kIs1000);
}
void BM_layer_norm_fwd_bwd(benchmark::State& st) {
  row_op(st, [](const Tensor& x, const Tensor& w, const Tensor& b) { return layer_norm(x, w, b); });
}
void BM_rms_norm_fwd_bwd(benchmark::State& st) {
  row_op(st, [](const Tensor& x, const Tensor& w, const Tensor&) { return rms_norm(x, w); });
}
void BM_softmax_fwd_bwd(benchmark::State& st) {
  row_op(st, [](const Tensor& x, const Tensor&, const Tensor&) { return softmax(x, -1); });
}
BENCHMARK(BM_layer_norm_fwd_bwd)->Args({4096, 768})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_rms_norm_fwd_bwd)->Args({4096, 768})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_softmax_fwd_bwd)->Args({4096, 1024})->Unit(benchmark::kMillisecond);

void BM_cross_entropy_fwd_bwd(benchmark::State& st) {
  const int64_t N = st.range(0), V = st.range(1);
  Tensor x = leaf({N, V}, 1);
  Tensor t = randint(0, V, {N});
  for (auto _ : st) {
    Tensor l = cross_entropy(x, t, -100, 0.1);
    l.backward();
  }
  st.counters["GB/s"] = benchmark::Counter(3.0 * N * V * 4, benchmark::Counter::kIsIterationInvariantRate,
                                           benchmark::Counter::kIs1000);
}
BENCHMARK(BM_cross_entropy_fwd_bwd)->Args({1024, 8192})->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
