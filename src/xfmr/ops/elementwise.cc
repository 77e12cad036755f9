#include "xfmr/ops/elementwise.h"

#include <cmath>

#include "xfmr/core/autograd.h"
#include "xfmr/kernels/cpu/vmath.h"
#include "xfmr/ops/elementwise_impl.h"
#include "xfmr/ops/reduce.h"

namespace xfmr {

using detail::map1;
using detail::map2;
using detail::map3;

namespace {

void check_binary(const Tensor& a, const Tensor& b, const char* op) {
  check_same_dtype(a, b, op);
  check_float(a, op);
}

// A tensor to keep for the backward pass only when it will be used (saved tensors hold memory until
// backward).
Tensor keep_if(bool needed, const Tensor& t) {
  return needed ? t.detach() : Tensor();
}

}  // namespace

// ---------------------------------------------------------------- binary

Tensor add(const Tensor& a, const Tensor& b) {
  check_binary(a, b, "add");
  Tensor out = map2(a, b, "add", [](auto x, auto y) { return x + y; });
  if (needs_grad(a, b)) {
    record("add", out, {&a, &b}, [sa = a.shape(), sb = b.shape()](const Tensor& g, GradSlots& gs) {
      if (gs.needed[0]) gs.g[0] = reduce_sum_to(g, sa);
      if (gs.needed[1]) gs.g[1] = reduce_sum_to(g, sb);
    });
  }
  return out;
}

Tensor sub(const Tensor& a, const Tensor& b) {
  check_binary(a, b, "sub");
  Tensor out = map2(a, b, "sub", [](auto x, auto y) { return x - y; });
  if (needs_grad(a, b)) {
    record("sub", out, {&a, &b}, [sa = a.shape(), sb = b.shape()](const Tensor& g, GradSlots& gs) {
      if (gs.needed[0]) gs.g[0] = reduce_sum_to(g, sa);
      if (gs.needed[1]) gs.g[1] = neg(reduce_sum_to(g, sb));
    });
  }
  return out;
}

Tensor mul(const Tensor& a, const Tensor& b) {
  check_binary(a, b, "mul");
  Tensor out = map2(a, b, "mul", [](auto x, auto y) { return x * y; });
  if (needs_grad(a, b)) {
    record("mul", out, {&a, &b},
           [ka = keep_if(b.requires_grad(), a), kb = keep_if(a.requires_grad(), b), sa = a.shape(),
            sb = b.shape()](const Tensor& g, GradSlots& gs) {
             if (gs.needed[0]) gs.g[0] = reduce_sum_to(mul(g, kb), sa);
             if (gs.needed[1]) gs.g[1] = reduce_sum_to(mul(g, ka), sb);
           });
  }
  return out;
}

Tensor div(const Tensor& a, const Tensor& b) {
  check_binary(a, b, "div");
  Tensor out = map2(a, b, "div", [](auto x, auto y) { return x / y; });
  if (needs_grad(a, b)) {
    record("div", out, {&a, &b},
           [kb = b.detach(), ko = keep_if(b.requires_grad(), out), sa = a.shape(), sb = b.shape()](
               const Tensor& g, GradSlots& gs) {
             if (gs.needed[0]) gs.g[0] = reduce_sum_to(div(g, kb), sa);
             // d(a/b)/db = -a/b^2 = -out/b
             if (gs.needed[1])
               gs.g[1] = reduce_sum_to(
                   map3(g, ko, kb, "div", [](auto gv, auto o, auto y) { return -gv * o / y; }), sb);
           });
  }
  return out;
}

Tensor pow(const Tensor& a, const Tensor& b) {
  check_binary(a, b, "pow");
  Tensor out = map2(a, b, "pow", [](auto x, auto y) { return std::pow(x, y); });
  if (needs_grad(a, b)) {
    record("pow", out, {&a, &b}, [ka = a.detach(), kb = b.detach()](const Tensor& g, GradSlots& gs) {
      if (gs.needed[0]) {
        // b * a^(b-1); exactly 0 where b == 0 (torch), avoiding 0 * inf at a == 0.
        Tensor ga = map3(g, ka, kb, "pow", [](auto gv, auto x, auto y) {
          using T = decltype(x);
          return y == T(0) ? T(0) : gv * y * std::pow(x, y - T(1));
        });
        gs.g[0] = reduce_sum_to(ga, ka.shape());
      }
      if (gs.needed[1]) {
        // a^b * log(a); torch defines it as 0 where a == 0 and b >= 0 (the limit from a > 0).
        Tensor gb = map3(g, ka, kb, "pow", [](auto gv, auto x, auto y) {
          using T = decltype(x);
          return (x == T(0) && y >= T(0)) ? T(0) : gv * std::pow(x, y) * std::log(x);
        });
        gs.g[1] = reduce_sum_to(gb, kb.shape());
      }
    });
  }
  return out;
}

// ---------------------------------------------------------------- with a scalar

Tensor add(const Tensor& a, double s) {
  check_float(a, "add");
  Tensor out = map1(a, "add", [s](auto x) { return x + static_cast<decltype(x)>(s); });
  if (needs_grad(a)) record("add", out, {&a}, [](const Tensor& g, GradSlots& gs) { gs.g[0] = g; });
  return out;
}

Tensor sub(const Tensor& a, double s) {
  check_float(a, "sub");
  Tensor out = map1(a, "sub", [s](auto x) { return x - static_cast<decltype(x)>(s); });
  if (needs_grad(a)) record("sub", out, {&a}, [](const Tensor& g, GradSlots& gs) { gs.g[0] = g; });
  return out;
}

Tensor rsub(const Tensor& a, double s) {
  check_float(a, "rsub");
  Tensor out = map1(a, "rsub", [s](auto x) { return static_cast<decltype(x)>(s) - x; });
  if (needs_grad(a)) record("rsub", out, {&a}, [](const Tensor& g, GradSlots& gs) { gs.g[0] = neg(g); });
  return out;
}

Tensor mul(const Tensor& a, double s) {
  check_float(a, "mul");
  Tensor out = map1(a, "mul", [s](auto x) { return x * static_cast<decltype(x)>(s); });
  if (needs_grad(a)) record("mul", out, {&a}, [s](const Tensor& g, GradSlots& gs) { gs.g[0] = mul(g, s); });
  return out;
}

Tensor div(const Tensor& a, double s) {
  check_float(a, "div");
  Tensor out = map1(a, "div", [s](auto x) { return x / static_cast<decltype(x)>(s); });
  if (needs_grad(a)) record("div", out, {&a}, [s](const Tensor& g, GradSlots& gs) { gs.g[0] = div(g, s); });
  return out;
}

Tensor rdiv(const Tensor& a, double s) {
  check_float(a, "rdiv");
  Tensor out = map1(a, "rdiv", [s](auto x) { return static_cast<decltype(x)>(s) / x; });
  if (needs_grad(a)) {
    record("rdiv", out, {&a}, [ka = a.detach(), s](const Tensor& g, GradSlots& gs) {
      gs.g[0] =
          map2(g, ka, "rdiv", [s](auto gv, auto x) { return -gv * static_cast<decltype(x)>(s) / (x * x); });
    });
  }
  return out;
}

Tensor pow(const Tensor& a, double e) {
  check_float(a, "pow");
  Tensor out;
  // Exact shortcuts for the common exponents (std::pow is slow and not vectorised).
  if (e == 2.0) {
    out = map1(a, "pow", [](auto x) { return x * x; });
  } else if (e == 3.0) {
    out = map1(a, "pow", [](auto x) { return x * x * x; });
  } else if (e == 1.0) {
    out = map1(a, "pow", [](auto x) { return x; });
  } else if (e == 0.5) {
    out = map1(a, "pow", [](auto x) { return std::sqrt(x); });
  } else {
    out = map1(a, "pow", [e](auto x) { return std::pow(x, static_cast<decltype(x)>(e)); });
  }
  if (needs_grad(a)) {
    record("pow", out, {&a}, [ka = a.detach(), e](const Tensor& g, GradSlots& gs) {
      if (e == 0.0) return;  // constant output: zero gradient
      if (e == 2.0) {
        gs.g[0] = map2(g, ka, "pow", [](auto gv, auto x) { return gv * decltype(x)(2) * x; });
      } else {
        gs.g[0] = map2(g, ka, "pow", [e](auto gv, auto x) {
          using T = decltype(x);
          return gv * static_cast<T>(e) * std::pow(x, static_cast<T>(e - 1.0));
        });
      }
    });
  }
  return out;
}

// ---------------------------------------------------------------- unary

Tensor neg(const Tensor& a) {
  check_float(a, "neg");
  Tensor out = map1(a, "neg", [](auto x) { return -x; });
  if (needs_grad(a)) record("neg", out, {&a}, [](const Tensor& g, GradSlots& gs) { gs.g[0] = neg(g); });
  return out;
}

Tensor exp(const Tensor& a) {
  check_float(a, "exp");
  Tensor out = map1(a, "exp", [](auto x) { return vmath::exp(x); });
  if (needs_grad(a))
    record("exp", out, {&a}, [ko = out.detach()](const Tensor& g, GradSlots& gs) { gs.g[0] = mul(g, ko); });
  return out;
}

Tensor log(const Tensor& a) {
  check_float(a, "log");
  Tensor out = map1(a, "log", [](auto x) { return std::log(x); });
  if (needs_grad(a))
    record("log", out, {&a}, [ka = a.detach()](const Tensor& g, GradSlots& gs) { gs.g[0] = div(g, ka); });
  return out;
}

Tensor sqrt(const Tensor& a) {
  check_float(a, "sqrt");
  Tensor out = map1(a, "sqrt", [](auto x) { return std::sqrt(x); });
  if (needs_grad(a)) {
    record("sqrt", out, {&a}, [ko = out.detach()](const Tensor& g, GradSlots& gs) {
      gs.g[0] = map2(g, ko, "sqrt", [](auto gv, auto o) { return gv / (decltype(o)(2) * o); });
    });
  }
  return out;
}

Tensor rsqrt(const Tensor& a) {
  check_float(a, "rsqrt");
  Tensor out = map1(a, "rsqrt", [](auto x) { return decltype(x)(1) / std::sqrt(x); });
  if (needs_grad(a)) {
    // d(x^-1/2)/dx = -1/2 x^-3/2 = -1/2 out^3
    record("rsqrt", out, {&a}, [ko = out.detach()](const Tensor& g, GradSlots& gs) {
      gs.g[0] = map2(g, ko, "rsqrt", [](auto gv, auto o) { return decltype(o)(-0.5) * gv * o * o * o; });
    });
  }
  return out;
}

Tensor abs(const Tensor& a) {
  check_float(a, "abs");
  Tensor out = map1(a, "abs", [](auto x) { return std::abs(x); });
  if (needs_grad(a)) {
    record("abs", out, {&a}, [ka = a.detach()](const Tensor& g, GradSlots& gs) {
      gs.g[0] = map2(g, ka, "abs", [](auto gv, auto x) {
        using T = decltype(x);
        return x > T(0) ? gv : (x < T(0) ? -gv : T(0));
      });
    });
  }
  return out;
}

Tensor clamp(const Tensor& a, double lo, double hi) {
  check_float(a, "clamp");
  // min(max(x, lo), hi) written so that NaN passes through (as in torch) and lo > hi gives hi.
  Tensor out = map1(a, "clamp", [lo, hi](auto x) {
    using T = decltype(x);
    const T v = x < static_cast<T>(lo) ? static_cast<T>(lo) : x;
    return v > static_cast<T>(hi) ? static_cast<T>(hi) : v;
  });
  if (needs_grad(a)) {
    record("clamp", out, {&a}, [ka = a.detach(), lo, hi](const Tensor& g, GradSlots& gs) {
      gs.g[0] = map2(g, ka, "clamp", [lo, hi](auto gv, auto x) {
        using T = decltype(x);
        return (x >= static_cast<T>(lo) && x <= static_cast<T>(hi)) ? gv : T(0);
      });
    });
  }
  return out;
}

// ---------------------------------------------------------------- where

namespace {
// cond as a 0/1 tensor of dtype dt (cond itself when it already has dt: the kernels test != 0).
Tensor as_mask(const Tensor& cond, DType dt) {
  if (cond.dtype() == dt) return cond.detach();
  Tensor m = Tensor::empty(cond.shape(), dt);
  const void* src = cond.raw_data();
  void* dst = m.raw_data();
  const DType cdt = cond.dtype();
  int64_t i = 0;
  // Tested as != 0 in the source dtype, so tiny f64 values do not underflow to false in f32.
  for_each_offset<1>(cond.shape(), {cond.strides()}, {0}, [&](int64_t o) {
    store_from_double(dst, dt, i++, load_as_double(src, cdt, o) != 0.0 ? 1.0 : 0.0);
  });
  return m;
}
}  // namespace

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  check_defined(cond, "where");
  check_binary(a, b, "where");
  const Shape shape =
      broadcast_shapes(broadcast_shapes(cond.shape(), a.shape(), "where"), b.shape(), "where");
  (void)shape;  // validates all three shapes before any work
  Tensor mask = as_mask(cond, a.dtype());
  Tensor out = map3(mask, a, b, "where", [](auto c, auto x, auto y) { return c != decltype(c)(0) ? x : y; });
  if (needs_grad(a, b)) {
    record("where", out, {&a, &b}, [mask, sa = a.shape(), sb = b.shape()](const Tensor& g, GradSlots& gs) {
      if (gs.needed[0])
        gs.g[0] = reduce_sum_to(
            map2(mask, g, "where", [](auto c, auto gv) { return c != decltype(c)(0) ? gv : decltype(c)(0); }),
            sa);
      if (gs.needed[1])
        gs.g[1] = reduce_sum_to(
            map2(mask, g, "where", [](auto c, auto gv) { return c != decltype(c)(0) ? decltype(c)(0) : gv; }),
            sb);
    });
  }
  return out;
}

}  // namespace xfmr
