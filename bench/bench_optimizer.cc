// Optimizer step and gradient clipping throughput on one flat f32 parameter (memory-bound loops).
// Bytes counted per element: AdamW/Adam read p, g, m, v and write p, m, v (28 B in f32); SGD with momentum reads
// p, g, buf and writes p, buf (20 B); clip reads g twice and writes it once (12 B).
// The PyTorch peer for the same sizes: bench/torch_optimizer.py.
#include <benchmark/benchmark.h>

#include "xfmr/core/rng.h"
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

}  // namespace

BENCHMARK(BM_AdamW)->Arg(1 << 16)->Arg(1 << 20)->Arg(1 << 24)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Adam)->Arg(1 << 20)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_SGDMomentum)->Arg(1 << 20)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_ClipGradNorm)->Arg(1 << 20)->Arg(1 << 24)->Unit(benchmark::kMicrosecond);
BENCHMARK_MAIN();
