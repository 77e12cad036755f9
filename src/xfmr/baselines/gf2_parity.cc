#include "xfmr/baselines/gf2_parity.h"

#include <algorithm>

namespace xfmr {

namespace {
inline bool get_bit(const uint64_t* row, int64_t j) { return (row[j / 64] >> (j % 64)) & 1; }
inline void set_bit(uint64_t* row, int64_t j) { row[j / 64] |= uint64_t{1} << (j % 64); }
}  // namespace

bool solve_gf2(std::vector<uint64_t>& rows, int64_t k, int64_t d, std::vector<uint8_t>& subset) {
  const int64_t W = (d + 1 + 63) / 64;
  std::vector<int64_t> pivot_col;
  int64_t rank = 0;
  for (int64_t c = 0; c < d && rank < k; ++c) {
    int64_t r = rank;
    while (r < k && !get_bit(&rows[r * W], c)) ++r;
    if (r == k) continue;
    if (r != rank) std::swap_ranges(rows.begin() + r * W, rows.begin() + (r + 1) * W, rows.begin() + rank * W);
    // Clear column c in every other row (reduced row echelon form: a pivot row holds no other pivot column).
    for (int64_t o = 0; o < k; ++o) {
      if (o == rank || !get_bit(&rows[o * W], c)) continue;
      for (int64_t w = 0; w < W; ++w) rows[o * W + w] ^= rows[rank * W + w];
    }
    pivot_col.push_back(c);
    ++rank;
  }
  subset.assign(d, 0);
  for (int64_t r = rank; r < k; ++r)
    if (get_bit(&rows[r * W], d)) return false;  // 0 = 1: no parity fits
  for (int64_t r = 0; r < rank; ++r) subset[pivot_col[r]] = get_bit(&rows[r * W], d);
  return true;
}

double Gf2Parity::operator()(const IclContext& ctx, const double* x_query) {
  const int64_t k = ctx.k, d = ctx.d, W = (d + 1 + 63) / 64;
  if (k == 0) return 0.0;
  rows_.assign(k * W, 0);
  for (int64_t i = 0; i < k; ++i) {
    uint64_t* row = &rows_[i * W];
    for (int64_t j = 0; j < d; ++j)
      if (ctx.x[i * d + j] > 0) set_bit(row, j);
    if (ctx.y[i] > 0) set_bit(row, d);
  }
  if (!solve_gf2(rows_, k, d, subset_)) return 0.0;
  int64_t ones = 0;
  for (int64_t j = 0; j < d; ++j) ones += subset_[j] && x_query[j] > 0;
  return ones % 2 ? 1.0 : -1.0;
}

}  // namespace xfmr
