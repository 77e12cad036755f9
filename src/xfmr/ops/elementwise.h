// Differentiable elementwise arithmetic and math (f32 and f64).
//
// Binary ops broadcast like NumPy/PyTorch: shapes are right-aligned and extents of 1 stretch, e.g.
//   a: [B, T, C] + b: [C]        -> [B, T, C]
//   a: [B, T, C] * b: [B, T, 1]  -> [B, T, C]
// Both operands must have the same dtype (no type promotion): "add: dtype mismatch: f32 [2, 3] vs f64 [3]".
// The gradient of a broadcast operand is summed back to its own shape. Inputs may be non-contiguous; outputs
// are fresh contiguous tensors.
#pragma once
#include "xfmr/core/tensor.h"

namespace xfmr {

// ---- binary, broadcasting ----
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
// a ** b elementwise. The gradient for b is out * log(a): meaningful for a > 0 (torch's convention of 0 where
// a == 0 and b >= 0 is kept).
Tensor pow(const Tensor& a, const Tensor& b);

// ---- with a scalar (the scalar is a constant: no gradient) ----
Tensor add(const Tensor& a, double s);
Tensor mul(const Tensor& a, double s);
Tensor sub(const Tensor& a, double s);   // a - s
Tensor rsub(const Tensor& a, double s);  // s - a
Tensor div(const Tensor& a, double s);   // a / s
Tensor rdiv(const Tensor& a, double s);  // s / a
// a ** exponent. exponent 0 gives ones with a zero gradient, as in torch.
Tensor pow(const Tensor& a, double exponent);

// ---- unary ----
Tensor neg(const Tensor& a);
Tensor exp(const Tensor& a);
Tensor log(const Tensor& a);
Tensor sqrt(const Tensor& a);
Tensor rsqrt(const Tensor& a);  // 1 / sqrt(a)
Tensor abs(const Tensor& a);    // gradient sign(a), 0 at a == 0 (torch)
// min(max(a, lo), hi). Gradient 1 where lo <= a <= hi, else 0: torch's clamp_backward uses the closed
// interval.
Tensor clamp(const Tensor& a, double lo, double hi);

// cond ? a : b elementwise, broadcasting over all three. cond may have any dtype (nonzero = true) and gets no
// gradient; a and b must share a float dtype. E.g. cond: [T, T] (a causal mask), a: [B, H, T, T], b: [] ->
// [B, H, T, T].
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);

// ---- operators (same semantics as the functions above) ----
inline Tensor operator+(const Tensor& a, const Tensor& b) {
  return add(a, b);
}
inline Tensor operator-(const Tensor& a, const Tensor& b) {
  return sub(a, b);
}
inline Tensor operator*(const Tensor& a, const Tensor& b) {
  return mul(a, b);
}
inline Tensor operator/(const Tensor& a, const Tensor& b) {
  return div(a, b);
}
inline Tensor operator-(const Tensor& a) {
  return neg(a);
}
inline Tensor operator+(const Tensor& a, double s) {
  return add(a, s);
}
inline Tensor operator-(const Tensor& a, double s) {
  return sub(a, s);
}
inline Tensor operator*(const Tensor& a, double s) {
  return mul(a, s);
}
inline Tensor operator/(const Tensor& a, double s) {
  return div(a, s);
}
inline Tensor operator+(double s, const Tensor& a) {
  return add(a, s);
}
inline Tensor operator-(double s, const Tensor& a) {
  return rsub(a, s);
}
inline Tensor operator*(double s, const Tensor& a) {
  return mul(a, s);
}
inline Tensor operator/(double s, const Tensor& a) {
  return rdiv(a, s);
}

}  // namespace xfmr
