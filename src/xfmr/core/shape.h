// Shapes and strides, in PyTorch order: the last dimension is the innermost (stride 1 when contiguous).
// xfmr does not follow ggml's reversed ne[0] convention; every shape in the code base reads outermost first.
#pragma once
#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>

#include "xfmr/core/check.h"

namespace xfmr {

constexpr int kMaxRank = 6;

// A small fixed-capacity list of int64 extents (no heap allocation).
class Shape {
 public:
  Shape() = default;
  Shape(std::initializer_list<int64_t> dims) {
    XF_CHECK(dims.size() <= kMaxRank, "shape: rank ", dims.size(), " exceeds the maximum rank ", kMaxRank);
    for (int64_t d : dims) d_[n_++] = d;
  }
  template <class It>
  static Shape from(It begin, It end) {
    Shape s;
    for (; begin != end; ++begin) s.push_back(static_cast<int64_t>(*begin));
    return s;
  }

  int size() const { return n_; }
  bool empty() const { return n_ == 0; }
  int64_t operator[](int i) const { return d_[i]; }
  int64_t& operator[](int i) { return d_[i]; }
  int64_t back() const { return d_[n_ - 1]; }
  const int64_t* begin() const { return d_.data(); }
  const int64_t* end() const { return d_.data() + n_; }
  void push_back(int64_t v) {
    XF_CHECK(n_ < kMaxRank, "shape: rank exceeds the maximum rank ", kMaxRank);
    d_[n_++] = v;
  }
  void insert(int pos, int64_t v) {
    XF_CHECK(n_ < kMaxRank, "shape: rank exceeds the maximum rank ", kMaxRank);
    for (int i = n_; i > pos; --i) d_[i] = d_[i - 1];
    d_[pos] = v;
    n_++;
  }
  void erase(int pos) {
    for (int i = pos; i + 1 < n_; ++i) d_[i] = d_[i + 1];
    n_--;
  }
  // Product of all extents (1 for a scalar).
  int64_t numel() const {
    int64_t p = 1;
    for (int i = 0; i < n_; ++i) p *= d_[i];
    return p;
  }
  bool operator==(const Shape& o) const {
    if (n_ != o.n_) return false;
    for (int i = 0; i < n_; ++i)
      if (d_[i] != o.d_[i]) return false;
    return true;
  }
  bool operator!=(const Shape& o) const { return !(*this == o); }
  std::string str() const;

 private:
  std::array<int64_t, kMaxRank> d_{};
  int n_ = 0;
};

using Strides = Shape;

// Row-major (contiguous) strides for a shape.
Strides contiguous_strides(const Shape& s);
// Wraps a possibly negative dimension index into [0, rank); names the op in the error.
int wrap_dim(int dim, int rank, const char* op);
// The broadcast of two shapes (NumPy rules), or an Error naming the op and both shapes.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

std::ostream& operator<<(std::ostream& os, const Shape& s);

}  // namespace xfmr
