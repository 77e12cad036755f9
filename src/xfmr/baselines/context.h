// The common interface of the classical in-context regression baselines (Garg et al. 2022, §3): each one predicts
// y at a query point from one prompt's context (X, y), in double. No autograd: these are evaluation oracles.
#pragma once
#include <cstdint>
#include <functional>

namespace xfmr {

// One prompt's first k (x, y) pairs, borrowed (row-major, no copy).
struct IclContext {
  const double* x = nullptr;  // [k, d]
  const double* y = nullptr;  // [k]
  int64_t k = 0;
  int64_t d = 0;
};

// predict(ctx, x_query) -> the prediction of y at x_query ([d]). Baselines are small stateful function objects
// (they keep scratch buffers so repeated calls do not allocate): call one copy per thread.
using IclPredictor = std::function<double(const IclContext& ctx, const double* x_query)>;

}  // namespace xfmr
