// Optimizer step and gradient clipping throughput on one flat f32 parameter (memory-bound loops).
// Bytes counted per element: AdamW/Adam read p, g, m, v and write p, m, v (28 B in f32); SGD with momentum
// reads p, g, buf and writes p, buf (20 B); clip reads g twice and writes it once (12 B). The PyTorch peer
// for the same sizes: bench/torch_optimizer.py.
#include <benchmark/benchmark.h>

#include "xfmr/core/rng.h"
#include "xfmr/kernels/cpu/adam.h"
#include "xfmr/kernels/ref/adam.h"
#include "xfmr/train/clip.h"
#include "xfmr/train/optimizer.h"

using namespace xfmr;

namespace {

std::vector<NamedParameter> make_params(int64_t n) {
  Generator g(1);
  Tensor p = randn({n}, DType::f32, g);
  p.set_requires_grad(true);
  p.set_grad(randn({n}, DType::f32, g));
  return {{"p", p, true}};
}

template <class Opt>
void run_opt(benchmark::State& st, Opt& opt, int64_t bytes_per_elem) {
  for (auto _ : st) opt.step();
  st.SetBytesProcessed(st.iterations() * st.range(0) * bytes_per_elem);
}

void BM_AdamW(benchmark::State& st) {
  AdamW opt(make_params(st.range(0)), 1e-4, 0.9, 0.95, 1e-8, 0.1);
  run_opt(st, opt, 28);
}
void BM_Adam(benchmark::State& st) {
  Adam opt(make_params(st.range(0)), 1e-4, 0.9, 0.95, 1e-8, 0.1);
  run_opt(st, opt, 28);
}
void BM_SGDMomentum(benchmark::State& st) {
  SGD opt(make_params(st.range(0)), 1e-4, 0.9, 0, true, 0.1);
  run_opt(st, opt, 20);
}
void BM_ClipGradNorm(benchmark::State& st) {
  const auto params = make_params(st.range(0));
  const std::vector<Tensor> ps = {params[0].tensor};
  // max_norm just below the norm so every call scales (by ~1: the values stay in range).
  const double norm = grad_norm(ps);
  for (auto _ : st) benchmark::DoNotOptimize(clip_grad_norm(ps, norm * 0.999999));
  st.SetBytesProcessed(st.iterations() * st.range(0) * 12);
}

// The element kernel alone, one thread: variant 0 = scalar reference, 1 = std::experimental::simd.
template <int kVariant>
void BM_AdamKernel(benchmark::State& st) {
  const int64_t n = st.range(0);
  Generator g(2);
  std::vector<float> p(n), gr(n), m(n, 0.f), v(n, 0.f);
  for (int64_t i = 0; i < n; ++i) {
    p[i] = static_cast<float>(g.next_normal());
    gr[i] = static_cast<float>(g.next_normal());
  }
  kernels::AdamCoeffs c;
  c.step_size = 1e-4;
  c.shrink = 1 - 1e-5;
  for (auto _ : st) {
    if constexpr (kVariant == 0)
      kernels::ref::adam_update(p.data(), gr.data(), m.data(), v.data(), n, c);
    else
      kernels::cpu::adam_update(p.data(), gr.data(), m.data(), v.data(), n, c);
    benchmark::ClobberMemory();
  }
  st.SetBytesProcessed(st.iterations() * n * 28);
}

}  // namespace

BENCHMARK(BM_AdamKernel<0>)->Arg(1 << 16)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_AdamKernel<1>)->Arg(1 << 16)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_AdamW)->Arg(1 << 16)->Arg(1 << 20)->Arg(1 << 24)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Adam)->Arg(1 << 20)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_SGDMomentum)->Arg(1 << 20)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_ClipGradNorm)->Arg(1 << 20)->Arg(1 << 24)->Unit(benchmark::kMicrosecond);
BENCHMARK_MAIN();
