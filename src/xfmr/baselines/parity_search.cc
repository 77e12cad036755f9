#include "xfmr/baselines/parity_search.h"

#include <bit>

#include "xfmr/core/check.h"

namespace xfmr {

namespace {
uint64_t bits_of(const double* x, int64_t d) {
  uint64_t m = 0;
  for (int64_t j = 0; j < d; ++j)
    if (x[j] > 0) m |= uint64_t{1} << j;
  return m;
}
}  // namespace

ParitySearch::ParitySearch(int64_t k) : k_(k) {
  XF_CHECK(k >= 1 && k <= 64, "parity_search: the parity size k must be in [1, 64], got ", k);
}

void ParitySearch::reset(int64_t d) {
  XF_CHECK(d <= 64, "parity_search: needs d <= 64 bits, got d = ", d);
  XF_CHECK(k_ <= d, "parity_search: parity size k = ", k_, " exceeds d = ", d);
  double count = 1;
  for (int64_t i = 0; i < k_; ++i) count = count * static_cast<double>(d - i) / static_cast<double>(i + 1);
  XF_CHECK(count <= 2e6, "parity_search: C(", d, ", ", k_, ") = ", count, " subsets is too many to enumerate");
  alive_.clear();
  // All k-subsets of [0, d) as masks, in lexicographic order of their index sets.
  std::vector<int64_t> idx(k_);
  for (int64_t i = 0; i < k_; ++i) idx[i] = i;
  while (true) {
    uint64_t m = 0;
    for (int64_t i : idx) m |= uint64_t{1} << i;
    alive_.push_back(m);
    int64_t i = k_ - 1;
    while (i >= 0 && idx[i] == d - k_ + i) --i;
    if (i < 0) break;
    ++idx[i];
    for (int64_t j = i + 1; j < k_; ++j) idx[j] = idx[j - 1] + 1;
  }
  d_ = d;
  seen_.clear();
  label_.clear();
}

double ParitySearch::operator()(const IclContext& ctx, const double* x_query) {
  if (ctx.k == 0) return 0.0;
  // Reuse the surviving subsets only when this context starts with the examples they were filtered on.
  bool extends = ctx.d == d_ && ctx.k >= static_cast<int64_t>(seen_.size());
  for (size_t i = 0; extends && i < seen_.size(); ++i)
    extends = seen_[i] == bits_of(ctx.x + i * ctx.d, ctx.d) && label_[i] == (ctx.y[i] > 0);
  if (!extends) reset(ctx.d);
  for (int64_t i = static_cast<int64_t>(seen_.size()); i < ctx.k; ++i) {
    const uint64_t b = bits_of(ctx.x + i * ctx.d, ctx.d);
    const int want = ctx.y[i] > 0 ? 1 : 0;
    seen_.push_back(b);
    label_.push_back(static_cast<uint8_t>(want));
    size_t out = 0;
    for (uint64_t m : alive_)
      if ((std::popcount(m & b) & 1) == want) alive_[out++] = m;
    alive_.resize(out);
  }
  const uint64_t q = bits_of(x_query, ctx.d);
  int64_t odd = 0;
  for (uint64_t m : alive_) odd += std::popcount(m & q) & 1;
  const int64_t even = static_cast<int64_t>(alive_.size()) - odd;
  return odd > even ? 1.0 : (even > odd ? -1.0 : 0.0);
}

}  // namespace xfmr
