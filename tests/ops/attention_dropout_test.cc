// Attention-probability dropout inside the fused attention kernel (AttentionOptions::dropout_p, nanoGPT's
// attn_dropout): out = (Z ∘ softmax(scale q kᵀ + mask)) v, Z = keep / (1 - p), the keep bit a Philox function of
// (seed, b, h, t, s) that backward regenerates. Proven by: p = 0 bit-identical to no dropout; f64 gradcheck with
// a fixed seed (fused and packed, partial tiles, GQA, masks); equality with the unfused reference and with a
// composite of existing ops (softmax, mul, matmul) given the same mask; the kept fraction; bad input.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "support/gradcheck.h"
#include "support/tensor_compare.h"
#include "xfmr/kernels/cpu/attention_flash.h"
#include "xfmr/ops/attention.h"
#include "xfmr/ops/attention_reference.h"
#include "xfmr/ops/elementwise.h"
#include "xfmr/ops/matmul.h"
#include "xfmr/ops/reduce.h"
#include "xfmr/ops/softmax.h"
#include "xfmr/ops/view.h"

using namespace xfmr;
using test::max_abs_diff;
using test::expect_gradcheck;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

AttentionOptions drop_opts(double p, uint64_t seed, bool causal = true, int64_t bq = 0, int64_t bk = 0) {
  AttentionOptions o;
  o.causal = causal;
  o.dropout_p = p;
  o.dropout_seed = seed;
  o.block_q = bq;
  o.block_k = bk;
  return o;
}

AttentionOptions tiled_no_drop(AttentionOptions o) {
  o.dropout_p = 0;
  return o;
}

// Z [B, Hq, T, S]: keep / (1 - p) from the kernel's own mask function.
Tensor dropout_scale(int64_t B, int64_t H, int64_t T, int64_t S, double p, uint64_t seed, DType dt) {
  std::vector<double> z(static_cast<size_t>(B * H * T * S));
  size_t i = 0;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t t = 0; t < T; ++t)
        for (int64_t s = 0; s < S; ++s)
          z[i++] = kernels::attention_dropout_keep(seed, p, b, h, t, s) ? 1.0 / (1.0 - p) : 0.0;
  return Tensor::from_vector(std::span<const double>(z), {B, H, T, S}, dt);
}

// [T, S] additive causal mask aligned to the end of the keys (T <= S: every row sees a key).
Tensor causal_mask(int64_t T, int64_t S, DType dt) {
  std::vector<double> m(static_cast<size_t>(T * S));
  for (int64_t t = 0; t < T; ++t)
    for (int64_t s = 0; s < S; ++s) m[t * S + s] = s <= t + (S - T) ? 0.0 : -kInf;
  return Tensor::from_vector(std::span<const double>(m), {T, S}, dt);
}

// The composite from existing differentiable ops (MHA): (Z ∘ softmax(scale q kᵀ + causal)) v.
Tensor composite(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& z, bool causal) {
  const int64_t T = q.size(2), S = k.size(2);
  Tensor s = matmul(q, transpose(k, 2, 3)) * (1.0 / std::sqrt(static_cast<double>(q.size(3))));
  if (causal) s = s + causal_mask(T, S, q.dtype());
  return matmul(softmax(s, -1) * z, v);
}

bool bit_equal(const Tensor& a, const Tensor& b) {
  const auto x = a.to_vector(), y = b.to_vector();
  if (x.size() != y.size()) return false;
  for (size_t i = 0; i < x.size(); ++i)
    if (std::memcmp(&x[i], &y[i], sizeof(double)) != 0) return false;
  return true;
}

struct Grads {
  Tensor out, dq, dk, dv;
};

template <class Op>
Grads run(Op op, const Shape& qs, const Shape& ks, const Shape& vs, DType dt) {
  Tensor q = test::random_input(qs, 11, 0, dt), k = test::random_input(ks, 12, 0, dt),
         v = test::random_input(vs, 13, 0, dt);
  Tensor out = op(q, k, v);
  Generator g(99);
  out.backward(randn(out.shape(), dt, g));
  return {out.detach(), q.grad(), k.grad(), v.grad()};
}

}  // namespace

TEST(AttentionDropout, ZeroPIsBitIdenticalToNoDropout) {
  for (DType dt : {DType::f32, DType::f64}) {
    for (bool causal : {true, false}) {
      SCOPED_TRACE(std::string(dtype_name(dt)) + (causal ? " causal" : " full"));
      AttentionOptions plain;
      plain.causal = causal;
      const Shape qs{2, 4, 70, 16}, ks{2, 2, 90, 16};
      Grads a = run([&](auto& q, auto& k, auto& v) { return scaled_dot_product_attention(q, k, v, plain); }, qs,
                    ks, ks, dt);
      Grads b = run([&](auto& q, auto& k, auto& v) {
        return scaled_dot_product_attention(q, k, v, drop_opts(0.0, 12345, causal));
      }, qs, ks, ks, dt);
      EXPECT_TRUE(bit_equal(a.out, b.out));
      EXPECT_TRUE(bit_equal(a.dq, b.dq));
      EXPECT_TRUE(bit_equal(a.dk, b.dk));
      EXPECT_TRUE(bit_equal(a.dv, b.dv));
    }
  }
  Tensor x = test::random_input({2, 9, 3 * 4 * 8}, 3);
  EXPECT_TRUE(bit_equal(packed_self_attention(x, 4, true), packed_self_attention(x, 4, true, 0.0, 777)));
}

TEST(AttentionDropout, Gradcheck) {
  AttentionOptions masked = drop_opts(0.3, 5, false, 3, 2);
  {
    Generator g(3);
    masked.mask = randn({5, 7}, DType::f64, g);
  }
  struct Case {
    std::string name;
    Shape qs, ks, vs;
    AttentionOptions o;
  };
  const std::vector<Case> cases = {
      {"causal_tiles", {2, 2, 5, 4}, {2, 2, 7, 4}, {2, 2, 7, 3}, drop_opts(0.3, 1, true, 3, 2)},
      {"full_default_tiles", {1, 2, 6, 4}, {1, 2, 9, 4}, {1, 2, 9, 3}, drop_opts(0.5, 2, false)},
      {"gqa_causal", {2, 4, 5, 4}, {2, 2, 7, 4}, {2, 2, 7, 3}, drop_opts(0.2, 3, true, 2, 3)},
      {"mqa_split_keys", {1, 3, 5, 4}, {1, 1, 8, 4}, {1, 1, 8, 3}, drop_opts(0.4, 4, true, 3, 2)},
      {"causal_T>S", {1, 2, 7, 4}, {1, 2, 5, 4}, {1, 2, 5, 4}, drop_opts(0.3, 6, true, 3, 2)},
      {"mask", {1, 2, 5, 4}, {1, 2, 7, 4}, {1, 2, 7, 3}, masked},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    expect_gradcheck([&](auto& in) { return scaled_dot_product_attention(in[0], in[1], in[2], c.o); },
                     {test::random_input(c.qs, 1), test::random_input(c.ks, 2), test::random_input(c.vs, 3)});
    expect_gradcheck([&](auto& in) { return attention_reference(in[0], in[1], in[2], c.o); },
                     {test::random_input(c.qs, 1), test::random_input(c.ks, 2), test::random_input(c.vs, 3)});
  }
  // Non-contiguous inputs.
  const AttentionOptions o = drop_opts(0.3, 9, true, 2, 3);
  expect_gradcheck([&](auto& in) { return scaled_dot_product_attention(in[0], in[1], in[2], o); },
                   {test::random_transposed_input({1, 2, 5, 4}, 1), test::random_transposed_input({1, 2, 6, 4}, 2),
                    test::random_transposed_input({1, 2, 6, 3}, 3)});
  // Packed (GPT-2's c_attn output), contiguous and transposed.
  expect_gradcheck([&](auto& in) { return packed_self_attention(in[0], 2, true, 0.3, 21); },
                   {test::random_input({2, 5, 3 * 2 * 3}, 1)});
  expect_gradcheck([&](auto& in) { return packed_self_attention(transpose(in[0], 1, 2), 3, true, 0.25, 22); },
                   {test::random_input({1, 3 * 3 * 2, 4}, 2)});
}

TEST(AttentionDropout, FusedMatchesReferenceAndComposite) {
  const double p = 0.2;
  const uint64_t seed = 0xC0FFEE;
  for (DType dt : {DType::f64, DType::f32}) {
    const double tol = dt == DType::f64 ? 1e-12 : 3e-5;
    for (bool causal : {true, false}) {
      for (int64_t tile : {int64_t{0}, int64_t{13}}) {
        SCOPED_TRACE(std::string(dtype_name(dt)) + (causal ? " causal" : " full") + " tile " + std::to_string(tile));
        const Shape qs{2, 3, 70, 16}, ks{2, 3, 90, 16}, vs{2, 3, 90, 24};
        const AttentionOptions o = drop_opts(p, seed, causal, tile, tile);
        Grads f = run([&](auto& q, auto& k, auto& v) { return scaled_dot_product_attention(q, k, v, o); }, qs, ks,
                      vs, dt);
        Grads r = run([&](auto& q, auto& k, auto& v) { return attention_reference(q, k, v, o); }, qs, ks, vs, dt);
        const Tensor z = dropout_scale(2, 3, 70, 90, p, seed, dt);
        Grads c = run([&](auto& q, auto& k, auto& v) { return composite(q, k, v, z, causal); }, qs, ks, vs, dt);
        for (const Grads* other : {&r, &c}) {
          EXPECT_LT(test::rel_error(f.out.to_vector(), other->out.to_vector()), tol);
          EXPECT_LT(test::rel_error(f.dq.to_vector(), other->dq.to_vector()), tol);
          EXPECT_LT(test::rel_error(f.dk.to_vector(), other->dk.to_vector()), tol);
          EXPECT_LT(test::rel_error(f.dv.to_vector(), other->dv.to_vector()), tol);
        }
        // Dropout changed something (the composite without Z differs).
        const AttentionOptions no_drop = tiled_no_drop(o);
        Grads n = run([&](auto& q, auto& k, auto& v) { return scaled_dot_product_attention(q, k, v, no_drop); },
                      qs, ks, vs, dt);
        EXPECT_GT(max_abs_diff(f.out, n.out), 1e-3);
      }
    }
  }
}

TEST(AttentionDropout, PackedMatchesSplitHeads) {
  // packed_self_attention keys its mask by the (b, h) of the [B, H, T, D] split, like the 4-D op.
  const int64_t B = 2, T = 33, H = 3, D = 8, C = H * D;
  Tensor a = test::random_input({B, T, 3 * C}, 7), b = test::random_input({B, T, 3 * C}, 7);
  Tensor ya = packed_self_attention(a, H, true, 0.3, 42);
  auto heads = [&](int64_t i) { return transpose(reshape(slice(b, 2, i * C, (i + 1) * C), {B, T, H, D}), 1, 2); };
  Tensor yb = reshape(transpose(scaled_dot_product_attention(heads(0), heads(1), heads(2), drop_opts(0.3, 42)), 1, 2),
                      {B, T, C});
  EXPECT_LT(max_abs_diff(ya, yb), 1e-12);
  const Tensor w = test::random_input(ya.shape(), 9);
  sum(ya * w).backward();
  sum(yb * w).backward();
  EXPECT_LT(max_abs_diff(a.grad(), b.grad()), 1e-12);
}

TEST(AttentionDropout, KeptFractionIsOneMinusP) {
  for (double p : {0.1, 0.2, 0.5}) {
    SCOPED_TRACE(p);
    // The mask function over 4 x 4 x 256 x 256 elements: within 5 standard errors of 1 - p.
    int64_t kept = 0, n = 0;
    for (int64_t b = 0; b < 4; ++b)
      for (int64_t h = 0; h < 4; ++h)
        for (int64_t t = 0; t < 256; ++t)
          for (int64_t s = 0; s < 256; ++s, ++n) kept += kernels::attention_dropout_keep(17, p, b, h, t, s);
    const double frac = static_cast<double>(kept) / static_cast<double>(n);
    EXPECT_NEAR(frac, 1.0 - p, 5 * std::sqrt(p * (1 - p) / static_cast<double>(n)));
    // Through the op: uniform probabilities (q = k = 0) and v = 1 make each output the row's kept fraction
    // / (1 - p); the mean over rows estimates 1.
    const int64_t B = 2, H = 4, T = 128, S = 256;
    Tensor q = Tensor::zeros({B, H, T, 8}, DType::f64), k = Tensor::zeros({B, H, S, 8}, DType::f64);
    Tensor v = Tensor::ones({B, H, S, 1}, DType::f64);
    const auto out = scaled_dot_product_attention(q, k, v, drop_opts(p, 23, false)).to_vector();
    double mean = 0;
    for (double x : out) mean += x;
    mean /= static_cast<double>(out.size());
    const double cells = static_cast<double>(B * H * T * S);
    EXPECT_NEAR(mean, 1.0, 5 * std::sqrt(p / (1 - p) / cells));
  }
}

TEST(AttentionDropout, MaskDependsOnSeedAndPosition) {
  // Keys 0..511 of row (b, h, t) under `seed` against row (0, 0, 3) under seed 1: about half differ at p = 0.5.
  auto differing = [](uint64_t seed, int64_t b, int64_t h, int64_t t) {
    int n = 0;
    for (int64_t s = 0; s < 512; ++s)
      n += kernels::attention_dropout_keep(1, 0.5, 0, 0, 3, s) != kernels::attention_dropout_keep(seed, 0.5, b, h, t, s);
    return n;
  };
  EXPECT_EQ(differing(1, 0, 0, 3), 0);
  EXPECT_GT(differing(2, 0, 0, 3), 150);  // seed
  EXPECT_GT(differing(1, 0, 1, 3), 150);  // head
  EXPECT_GT(differing(1, 1, 0, 3), 150);  // batch
  EXPECT_GT(differing(1, 0, 0, 4), 150);  // row
  // Same seed, same output; new seed, new output.
  Tensor q = test::random_input({1, 2, 20, 8}, 1), k = test::random_input({1, 2, 20, 8}, 2),
         v = test::random_input({1, 2, 20, 8}, 3);
  const Tensor a = scaled_dot_product_attention(q, k, v, drop_opts(0.3, 5));
  EXPECT_TRUE(bit_equal(a, scaled_dot_product_attention(q, k, v, drop_opts(0.3, 5))));
  EXPECT_GT(max_abs_diff(a, scaled_dot_product_attention(q, k, v, drop_opts(0.3, 6))), 1e-3);
}

TEST(AttentionDropout, BadInput) {
  Tensor q = test::random_input({1, 2, 4, 8}, 1);
  for (double p : {1.0, -0.1, 1.5}) {
    SCOPED_TRACE(p);
    try {
      scaled_dot_product_attention(q, q, q, drop_opts(p, 1));
      ADD_FAILURE() << "no error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("scaled_dot_product_attention"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("dropout_p"), std::string::npos) << e.what();
    }
    try {
      attention_reference(q, q, q, drop_opts(p, 1));
      ADD_FAILURE() << "no error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("attention_reference"), std::string::npos) << e.what();
    }
    try {
      packed_self_attention(test::random_input({1, 4, 3 * 8}, 2), 2, true, p, 1);
      ADD_FAILURE() << "no error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("packed_self_attention"), std::string::npos) << e.what();
    }
  }
}
