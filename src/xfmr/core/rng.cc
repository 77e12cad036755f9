#include "xfmr/core/rng.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "xfmr/core/parallel.h"

namespace xfmr {

std::array<uint32_t, 4> philox4x32(std::array<uint32_t, 4> c, std::array<uint32_t, 2> k) {
  constexpr uint32_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u, W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    const uint64_t p0 = static_cast<uint64_t>(M0) * c[0];
    const uint64_t p1 = static_cast<uint64_t>(M1) * c[2];
    const uint32_t hi0 = static_cast<uint32_t>(p0 >> 32), lo0 = static_cast<uint32_t>(p0);
    const uint32_t hi1 = static_cast<uint32_t>(p1 >> 32), lo1 = static_cast<uint32_t>(p1);
    c = {hi1 ^ c[1] ^ k[0], lo1, hi0 ^ c[3] ^ k[1], lo0};
    k[0] += W0;
    k[1] += W1;
  }
  return c;
}

std::array<uint32_t, 4> Generator::block(uint64_t index) const {
  return philox4x32({static_cast<uint32_t>(index), static_cast<uint32_t>(index >> 32), 0u, 0u},
                    {static_cast<uint32_t>(seed_), static_cast<uint32_t>(seed_ >> 32)});
}

namespace {
constexpr double kTwoPi = 6.283185307179586476925286766559;
// 53 random bits -> [0, 1)
inline double u53(uint32_t a, uint32_t b) {
  return static_cast<double>((static_cast<uint64_t>(a) << 21) ^ (b >> 11)) * 0x1.0p-53;
}
// 24 random bits -> [0, 1)
inline float u24(uint32_t a) { return static_cast<float>(a >> 8) * 0x1.0p-24f; }
// Box–Muller from two words; u1 in (0, 1] so the log is finite.
inline double box_muller(uint32_t a, uint32_t b) {
  const double u1 = (static_cast<double>(a) + 1.0) * 0x1.0p-32;
  const double u2 = static_cast<double>(b) * 0x1.0p-32;
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(kTwoPi * u2);
}
inline double box_muller53(const std::array<uint32_t, 4>& w) {
  const double u1 = 1.0 - u53(w[0], w[1]);
  const double u2 = u53(w[2], w[3]);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(kTwoPi * u2);
}

// Fills a contiguous buffer: element i -> value(i), in parallel, then copies into t if it is a strided view.
template <class F>
void fill_elements(Tensor& t, F&& value) {
  Tensor dst = t.is_contiguous() ? t : Tensor::empty(t.shape(), t.dtype());
  const DType dt = dst.dtype();
  void* base = dst.raw_data();
  parallel_for(dst.numel(), 4096, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) value(base, dt, i);
  });
  if (!t.is_contiguous()) t.copy_(dst);
}

// Fills a contiguous buffer from the Philox stream: element i takes part i % kPer of block base + i / kPer, via
// value(buffer, dtype, i, words, part). Each block is computed once for its kPer elements (a per-element callback
// that computed the block anew for each of them spent most of its time in Philox: ~4.5k normal draws a step in
// the ICL training benchmark). The values do not depend on how the elements are split across threads.
template <int kPer, class F>
void fill_from_blocks(Tensor& t, const Generator& g, uint64_t base, F&& value) {
  Tensor dst = t.is_contiguous() ? t : Tensor::empty(t.shape(), t.dtype());
  const DType dt = dst.dtype();
  void* buf = dst.raw_data();
  parallel_for(dst.numel(), 4096, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e;) {
      const auto w = g.block(base + static_cast<uint64_t>(i / kPer));
      for (const int64_t end = std::min(e, (i / kPer + 1) * kPer); i < end; ++i)
        value(buf, dt, i, w, static_cast<int>(i % kPer));
    }
  });
  if (!t.is_contiguous()) t.copy_(dst);
}

inline void store(void* base, DType dt, int64_t i, double v) {
  switch (dt) {
    case DType::f32: static_cast<float*>(base)[i] = static_cast<float>(v); break;
    case DType::f64: static_cast<double*>(base)[i] = v; break;
    case DType::i32: static_cast<int32_t*>(base)[i] = static_cast<int32_t>(v); break;
    case DType::i64: static_cast<int64_t*>(base)[i] = static_cast<int64_t>(v); break;
    default: break;
  }
}
}  // namespace

uint64_t Generator::next_u64() {
  const auto w = block(advance(1));
  return (static_cast<uint64_t>(w[0]) << 32) | w[1];
}
double Generator::next_uniform() {
  const auto w = block(advance(1));
  return u53(w[0], w[1]);
}
double Generator::next_normal() { return box_muller53(block(advance(1))); }
int64_t Generator::next_int(int64_t n) {
  XF_CHECK(n > 0, "next_int: range must be positive, got ", n);
  // Lemire's multiply-shift: bias at most n / 2^64.
  const unsigned __int128 p = static_cast<unsigned __int128>(next_u64()) * static_cast<uint64_t>(n);
  return static_cast<int64_t>(p >> 64);
}

Generator& default_generator() {
  static Generator g(0);
  return g;
}
void manual_seed(uint64_t seed) { default_generator().set_state(seed, 0); }

void uniform_(Tensor& t, double lo, double hi, Generator& g) {
  check_float(t, "uniform_");
  if (t.dtype() == DType::f32) {
    const uint64_t base = g.advance((static_cast<uint64_t>(t.numel()) + 3) / 4);
    fill_from_blocks<4>(t, g, base, [&](void* p, DType dt, int64_t i, const std::array<uint32_t, 4>& w, int part) {
      store(p, dt, i, lo + (hi - lo) * u24(w[part]));
    });
  } else {
    const uint64_t base = g.advance((static_cast<uint64_t>(t.numel()) + 1) / 2);
    fill_from_blocks<2>(t, g, base, [&](void* p, DType dt, int64_t i, const std::array<uint32_t, 4>& w, int part) {
      store(p, dt, i, lo + (hi - lo) * u53(w[2 * part], w[2 * part + 1]));
    });
  }
}

void normal_(Tensor& t, double mean, double std, Generator& g) {
  check_float(t, "normal_");
  if (t.dtype() == DType::f32) {
    const uint64_t base = g.advance((static_cast<uint64_t>(t.numel()) + 1) / 2);
    fill_from_blocks<2>(t, g, base, [&](void* p, DType dt, int64_t i, const std::array<uint32_t, 4>& w, int part) {
      store(p, dt, i, mean + std * box_muller(w[2 * part], w[2 * part + 1]));
    });
  } else {
    const uint64_t base = g.advance(static_cast<uint64_t>(t.numel()));
    fill_elements(t, [&](void* p, DType dt, int64_t i) {
      store(p, dt, i, mean + std * box_muller53(g.block(base + static_cast<uint64_t>(i))));
    });
  }
}

void bernoulli_(Tensor& t, double prob, Generator& g) {
  check_float(t, "bernoulli_");
  XF_CHECK(prob >= 0.0 && prob <= 1.0, "bernoulli_: probability ", prob, " outside [0, 1]");
  const uint64_t base = g.advance((static_cast<uint64_t>(t.numel()) + 3) / 4);
  fill_from_blocks<4>(t, g, base, [&](void* p, DType dt, int64_t i, const std::array<uint32_t, 4>& w, int part) {
    store(p, dt, i, static_cast<double>(w[part]) * 0x1.0p-32 < prob ? 1.0 : 0.0);
  });
}

void randint_(Tensor& t, int64_t lo, int64_t hi, Generator& g) {
  check_defined(t, "randint_");
  XF_CHECK(hi > lo, "randint_: empty range [", lo, ", ", hi, ")");
  XF_CHECK(t.dtype() != DType::bf16 && t.dtype() != DType::f16, "randint_: unsupported dtype ",
           dtype_name(t.dtype()));
  const uint64_t n = static_cast<uint64_t>(hi - lo);
  const uint64_t base = g.advance(static_cast<uint64_t>(t.numel()));
  fill_elements(t, [&](void* p, DType dt, int64_t i) {
    const auto w = g.block(base + static_cast<uint64_t>(i));
    const uint64_t x = (static_cast<uint64_t>(w[0]) << 32) | w[1];
    const int64_t v = lo + static_cast<int64_t>((static_cast<unsigned __int128>(x) * n) >> 64);
    if (dt == DType::i64)
      static_cast<int64_t*>(p)[i] = v;
    else
      store(p, dt, i, static_cast<double>(v));
  });
}

Tensor randn(const Shape& s, DType dt, Generator& g) {
  Tensor t = Tensor::empty(s, dt);
  normal_(t, 0.0, 1.0, g);
  return t;
}
Tensor rand(const Shape& s, DType dt, Generator& g) {
  Tensor t = Tensor::empty(s, dt);
  uniform_(t, 0.0, 1.0, g);
  return t;
}
Tensor randint(int64_t lo, int64_t hi, const Shape& s, DType dt, Generator& g) {
  Tensor t = Tensor::empty(s, dt);
  randint_(t, lo, hi, g);
  return t;
}
Tensor randperm(int64_t n, Generator& g) {
  XF_CHECK(n >= 0, "randperm: negative length ", n);
  Tensor t = Tensor::empty(Shape{n}, DType::i64);
  int64_t* p = t.data<int64_t>();
  for (int64_t i = 0; i < n; ++i) p[i] = i;
  for (int64_t i = n - 1; i > 0; --i) std::swap(p[i], p[g.next_int(i + 1)]);  // Fisher–Yates
  return t;
}

}  // namespace xfmr
