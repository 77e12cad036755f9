#include "xfmr/run/bench_cost.h"

#include <unistd.h>

#include <cstdio>

#include "xfmr/core/allocator.h"
#include "xfmr/run/bench.h"

namespace xfmr {

double train_step_flops(const GptShape& s) {
  const double B = static_cast<double>(s.batch), T = static_cast<double>(s.seq), L = static_cast<double>(s.n_layer),
               C = static_cast<double>(s.n_embd);
  const double N = B * T;
  const double fwd = N * (24.0 * L * C * C + 2.0 * static_cast<double>(s.in_features) * C +
                          2.0 * C * static_cast<double>(s.out_features)) +
                     L * B * 2.0 * C * T * (T + 1.0);
  return 3.0 * fwd;
}

double train_step_memory_bytes(const GptShape& s) {
  const double N = static_cast<double>(s.batch * s.seq), C = static_cast<double>(s.n_embd),
               H = static_cast<double>(s.n_head), L = static_cast<double>(s.n_layer);
  const double per_layer = 16.0 * N * C + N * H + 4.0 * N;
  const double outside = N * static_cast<double>(s.in_features) + 2.0 * N * C + 2.0 * N +
                         2.0 * N * static_cast<double>(s.out_features);
  const double bpv = static_cast<double>(s.bytes_per_value);
  return 16.0 * static_cast<double>(s.params) + bpv * (L * per_layer + outside);
}

double current_rss_mb() {
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return 0;
  long size = 0, resident = 0;
  const int n = std::fscanf(f, "%ld %ld", &size, &resident);
  std::fclose(f);
  if (n != 2) return 0;
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0);
}

void add_cost_fields(nlohmann::ordered_json& j, const GptShape& s, double step_ms, double baseline_rss_mb) {
  const double flops = train_step_flops(s);
  const double need_mb = train_step_memory_bytes(s) / (1024.0 * 1024.0);
  const double rss = peak_rss_mb();
  const double tensor_peak = static_cast<double>(alloc_stats().peak_bytes_in_use) / (1024.0 * 1024.0);
  j["model_flops_per_step"] = flops;
  j["gflops_per_s"] = flops / (step_ms * 1e-3) / 1e9;
  j["mem_need_mb"] = need_mb;
  j["peak_rss_mb"] = rss;
  j["mem_ratio"] = rss / need_mb;
  j["baseline_rss_mb"] = baseline_rss_mb;
  j["mem_ratio_above_baseline"] = (rss - baseline_rss_mb) / need_mb;
  j["tensor_peak_mb"] = tensor_peak;
  j["tensor_mem_ratio"] = tensor_peak / need_mb;
}

}  // namespace xfmr
