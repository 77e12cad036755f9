// Tensor::copy_ and fill_ on strided layouts (the row-at-a-time fast paths in core/tensor.cc) against an
// element-by-element reference through at(): permuted, sliced, stepped, broadcast and scalar layouts, in f32,
// f64 and i64, plus a dtype-converting copy (the generic path).
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "xfmr/core/rng.h"
#include "xfmr/core/tensor.h"
#include "xfmr/ops/view.h"

using namespace xfmr;

namespace {

// Every index of `shape`, row-major.
std::vector<std::vector<int64_t>> all_indices(const Shape& shape) {
  std::vector<std::vector<int64_t>> out;
  std::vector<int64_t> idx(static_cast<size_t>(shape.size()), 0);
  const int64_t n = shape.numel();
  for (int64_t k = 0; k < n; ++k) {
    out.push_back(idx);
    for (int d = shape.size() - 1; d >= 0; --d) {
      if (++idx[static_cast<size_t>(d)] < shape[d]) break;
      idx[static_cast<size_t>(d)] = 0;
    }
  }
  return out;
}

// t[idx] for a runtime index (at() takes a braced list).
double elem(const Tensor& t, const std::vector<int64_t>& idx) {
  int64_t off = t.offset();
  for (size_t d = 0; d < idx.size(); ++d) off += idx[d] * t.stride(static_cast<int>(d));
  return t.as_strided({}, {}, off).item();
}

Tensor iota(const Shape& s, DType dt) {
  std::vector<double> v(static_cast<size_t>(s.numel()));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>(i) * 0.5 - 3.0;
  return Tensor::from_vector(v, s, DType::f64).converted(dt);
}

// dst.copy_(src) must equal dst[i] = src[i] for every index, and leave the rest of dst's storage alone.
void check_copy(const Tensor& dst_base, const Tensor& dst, const Tensor& src) {
  const std::vector<double> before = dst_base.to_vector();
  Tensor d = dst;
  d.copy_(src);
  const Tensor src_b = src.dim() == dst.dim() ? src : expand(src, dst.shape());
  for (const auto& idx : all_indices(dst.shape())) {
    std::vector<int64_t> si(idx.end() - src_b.dim(), idx.end());
    ASSERT_EQ(elem(d, idx), elem(src_b, si));
  }
  // Elements outside the view keep their values: no more elements changed than the view holds.
  const std::vector<double> after = dst_base.to_vector();
  int64_t changed = 0;
  for (size_t i = 0; i < after.size(); ++i) changed += after[i] != before[i];
  EXPECT_LE(changed, dst.numel());
}

}  // namespace

TEST(CopyFill, StridedCopiesMatchElementwise) {
  for (DType dt : {DType::f32, DType::f64, DType::i32, DType::i64}) {
    SCOPED_TRACE(dtype_name(dt));
    const Tensor src = iota({3, 4, 5}, dt);
    // Permuted source into a contiguous destination (the attention head split).
    {
      Tensor dst = Tensor::zeros({5, 3, 4}, dt);
      check_copy(dst, dst, permute(src, {2, 0, 1}));
    }
    // Transposed last dim on both sides.
    {
      Tensor base = Tensor::zeros({4, 3, 5}, dt);
      check_copy(base, transpose(base, 1, 2), transpose(transpose(src, 0, 1), 1, 2));
    }
    // Sliced / stepped views, unit-stride rows into a non-unit-stride destination.
    {
      Tensor base = Tensor::zeros({3, 4, 10}, dt);
      check_copy(base, slice(base, 2, 0, 10, 2), src);
      Tensor base2 = Tensor::zeros({3, 4, 7}, dt);
      check_copy(base2, slice(base2, 2, 1, 6), src);
    }
    // Broadcast source (stride 0 in the last and in an outer dim).
    {
      Tensor dst = Tensor::zeros({3, 4, 5}, dt);
      check_copy(dst, dst, iota({5}, dt));
      Tensor dst2 = Tensor::zeros({3, 4, 5}, dt);
      check_copy(dst2, dst2, iota({4, 1}, dt));
    }
    // Rank 1 and rank 0.
    {
      Tensor base = Tensor::zeros({9}, dt);
      check_copy(base, slice(base, 0, 0, 9, 3), iota({3}, dt));
      Tensor s = Tensor::zeros({}, dt);
      s.copy_(iota({}, dt));
      EXPECT_EQ(s.item(), -3.0);
    }
  }
  // Converting copy (generic path) through a permuted view.
  Tensor d = Tensor::zeros({5, 3, 4}, DType::f64);
  d.copy_(permute(iota({3, 4, 5}, DType::f32), {2, 0, 1}));
  const Tensor ref = permute(iota({3, 4, 5}, DType::f64), {2, 0, 1});
  for (const auto& idx : all_indices(d.shape())) ASSERT_EQ(elem(d, idx), elem(ref, idx));
}

TEST(CopyFill, FillOnStridedViewsTouchesOnlyTheView) {
  for (DType dt : {DType::f32, DType::f64, DType::i64}) {
    SCOPED_TRACE(dtype_name(dt));
    for (double value : {0.0, -0.0, 2.5}) {
      Tensor base = Tensor::full({4, 6}, 7.0, dt);
      Tensor v = slice(transpose(base, 0, 1), 0, 1, 6, 2);  // [3, 4], strides (2, 6)
      v.fill_(value);
      const double expect = dtype_is_int(dt) ? static_cast<double>(static_cast<int64_t>(value)) : value;
      for (int64_t i = 0; i < 4; ++i) {
        for (int64_t j = 0; j < 6; ++j) {
          const double got = base.at({i, j});
          ASSERT_EQ(got, j % 2 == 1 ? expect : 7.0) << i << "," << j;
          if (j % 2 == 1 && !dtype_is_int(dt)) {
            ASSERT_EQ(std::signbit(got), std::signbit(value));
          }
        }
      }
      Tensor c = Tensor::full({3, 5}, 1.0, dt);
      c.fill_(value);
      for (double x : c.to_vector()) ASSERT_EQ(x, expect);
      if (!dtype_is_int(dt)) {
        for (double x : c.to_vector()) ASSERT_EQ(std::signbit(x), std::signbit(value));
      }
      Tensor s = Tensor::zeros({}, dt);
      s.fill_(value);
      EXPECT_EQ(s.item(), expect);
    }
  }
}
