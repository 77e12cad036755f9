#include "xfmr/ops/rope.h"

#include <cmath>

#include "xfmr/core/autograd.h"
#include "xfmr/core/parallel.h"

namespace xfmr {

namespace {

struct RopeArgs {
  int64_t rows, T, D, pos_offset;
  double theta;
  RopeStyle style;
};

// y = rotate(x, sign * angle) for contiguous x, y: [rows, D], row r at position pos_offset + r % T.
// The cos/sin table [T, D/2] is built once per call in f64 (angles reach 1e4+ radians, where f32 argument
// rounding would already cost ~1e-3), then rounded to T.
template <class T>
void rope_kernel(const RopeArgs& a, double sign, const T* x, T* y) {
  const int64_t half = a.D / 2;
  Tensor table = Tensor::empty({2, a.T, half}, dtype_of<T>());
  T* cs = table.data<T>();
  T* sn = cs + a.T * half;
  for (int64_t i = 0; i < half; ++i) {
    const double inv_freq = std::pow(a.theta, -2.0 * static_cast<double>(i) / static_cast<double>(a.D));
    for (int64_t t = 0; t < a.T; ++t) {
      const double ang = static_cast<double>(a.pos_offset + t) * inv_freq;
      cs[t * half + i] = static_cast<T>(std::cos(ang));
      sn[t * half + i] = static_cast<T>(sign * std::sin(ang));
    }
  }
  parallel_for(a.rows, 64, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const T* c = cs + (r % a.T) * half;
      const T* s = sn + (r % a.T) * half;
      const T* xr = x + r * a.D;
      T* yr = y + r * a.D;
      if (a.style == RopeStyle::half) {
        for (int64_t i = 0; i < half; ++i) {
          const T x0 = xr[i], x1 = xr[i + half];
          yr[i] = x0 * c[i] - x1 * s[i];
          yr[i + half] = x0 * s[i] + x1 * c[i];
        }
      } else {
        for (int64_t i = 0; i < half; ++i) {
          const T x0 = xr[2 * i], x1 = xr[2 * i + 1];
          yr[2 * i] = x0 * c[i] - x1 * s[i];
          yr[2 * i + 1] = x0 * s[i] + x1 * c[i];
        }
      }
    }
  });
}

Tensor rope_apply(const Tensor& x, const RopeArgs& a, double sign) {
  const Tensor xc = x.is_contiguous() ? x : x.contiguous_copy();
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  XF_DISPATCH_FLOAT(x.dtype(), "rope", [&] { rope_kernel<scalar_t>(a, sign, xc.data<scalar_t>(), y.data<scalar_t>()); });
  return y;
}

}  // namespace

Tensor rope(const Tensor& x, int64_t pos_offset, double theta, RopeStyle style) {
  check_float(x, "rope");
  XF_CHECK(x.dim() >= 2, "rope: expected x [B, H, T, D] (or [..., T, D]), got ", x.shape().str());
  const int64_t D = x.size(-1), T = x.size(-2);
  XF_CHECK(D % 2 == 0, "rope: head dim D must be even, got D = ", D, " in x ", x.shape().str());
  XF_CHECK(pos_offset >= 0, "rope: pos_offset must be >= 0, got ", pos_offset, " for x ", x.shape().str());
  XF_CHECK(std::isfinite(theta) && theta > 0, "rope: theta must be positive, got ", theta, " for x ", x.shape().str());
  const RopeArgs a{D > 0 ? x.numel() / D : 0, T, D, pos_offset, theta, style};
  Tensor y = rope_apply(x, a, 1.0);
  if (needs_grad(x)) {
    // The rotation is orthogonal, so its adjoint is the rotation by the negative angle.
    record("rope", y, {&x}, [a](const Tensor& g, GradSlots& gs) { gs.g[0] = rope_apply(g, a, -1.0); });
  }
  return y;
}

}  // namespace xfmr
