#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "support/gradcheck.h"
#include "support/strided_inputs.h"
#include "support/torch_parity.h"
#include "xfmr/core/allocator.h"
#include "xfmr/ops/attention.h"
#include "xfmr/ops/attention_reference.h"

using namespace xfmr;
using test::expect_gradcheck;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// An additive [T, S] mask: a finite bias everywhere, -inf on a scattered pattern that never blocks a whole row.
Tensor bias_mask(int64_t T, int64_t S, DType dt, uint64_t seed = 3) {
  Generator g(seed);
  std::vector<double> m(static_cast<size_t>(T * S));
  for (int64_t t = 0; t < T; ++t)
    for (int64_t s = 0; s < S; ++s) m[t * S + s] = (s != t % S && (s * 7 + t * 3) % 5 == 0) ? -kInf : g.next_normal();
  return Tensor::from_vector(std::span<const double>(m), {T, S}, dt);
}

// A key-padding mask [B, 1, 1, S]: batch b blocks its last b + 1 keys.
Tensor padding_mask(int64_t B, int64_t S, DType dt) {
  std::vector<double> m(static_cast<size_t>(B * S), 0.0);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t s = S - b - 1; s < S; ++s) m[b * S + s] = -kInf;
  return Tensor::from_vector(std::span<const double>(m), {B, 1, 1, S}, dt);
}

AttentionOptions tiled(AttentionOptions o, int64_t bq, int64_t bk) {
  o.block_q = bq;
  o.block_k = bk;
  return o;
}

struct Case {
  std::string name;
  int64_t B, Hq, Hkv, T, S, D, Dv;
  AttentionOptions opt;
};

// Small shapes for the finite-difference checks; tiles of 3 x 2 make every T and S here a partial last tile.
std::vector<Case> small_cases() {
  AttentionOptions causal;
  causal.causal = true;
  AttentionOptions masked;
  masked.mask = bias_mask(5, 7, DType::f64);
  AttentionOptions masked_causal = masked;
  masked_causal.causal = true;
  AttentionOptions padded;
  padded.mask = padding_mask(2, 7, DType::f64);
  AttentionOptions scaled;
  scaled.scale = 0.3;
  AttentionOptions strided_mask;  // a non-contiguous [T, S] view (transpose of an [S, T] buffer)
  strided_mask.mask = transpose(bias_mask(7, 5, DType::f64, 4), 0, 1);
  return {
      {"plain", 2, 2, 2, 5, 7, 4, 3, {}},
      {"causal_T<S", 2, 2, 2, 5, 7, 4, 3, causal},
      {"causal_T>S", 1, 2, 2, 7, 5, 4, 4, causal},  // rows 0, 1 see no key
      {"causal_T=S", 1, 2, 1, 6, 6, 3, 5, causal},
      {"gqa", 2, 4, 2, 5, 7, 4, 3, causal},
      {"mqa_split_keys", 1, 3, 1, 5, 8, 4, 3, causal},  // one kv head: backward splits key tiles across threads
      {"mask", 2, 2, 1, 5, 7, 4, 3, masked},
      {"mask_causal", 1, 2, 2, 5, 7, 4, 3, masked_causal},
      {"padding_mask", 2, 2, 2, 4, 7, 3, 3, padded},
      {"scale", 1, 2, 2, 4, 4, 5, 2, scaled},
      {"strided_mask", 1, 2, 2, 5, 7, 3, 3, strided_mask},
  };
}

}  // namespace

TEST(AttentionGrad, FusedSmallShapes) {
  for (const Case& c : small_cases()) {
    SCOPED_TRACE(c.name);
    const AttentionOptions o = tiled(c.opt, 3, 2);
    expect_gradcheck([&](auto& in) { return scaled_dot_product_attention(in[0], in[1], in[2], o); },
                     {test::random_input({c.B, c.Hq, c.T, c.D}, 1), test::random_input({c.B, c.Hkv, c.S, c.D}, 2),
                      test::random_input({c.B, c.Hkv, c.S, c.Dv}, 3)});
  }
}

TEST(AttentionGrad, FusedDefaultTiles) {
  AttentionOptions o;
  o.causal = true;
  expect_gradcheck([&](auto& in) { return scaled_dot_product_attention(in[0], in[1], in[2], o); },
                   {test::random_input({1, 2, 6, 4}, 1), test::random_input({1, 1, 9, 4}, 2),
                    test::random_input({1, 1, 9, 3}, 3)});
}

TEST(AttentionGrad, ReferenceSmallShapes) {
  for (const Case& c : small_cases()) {
    SCOPED_TRACE(c.name);
    expect_gradcheck([&](auto& in) { return attention_reference(in[0], in[1], in[2], c.opt); },
                     {test::random_input({c.B, c.Hq, c.T, c.D}, 1), test::random_input({c.B, c.Hkv, c.S, c.D}, 2),
                      test::random_input({c.B, c.Hkv, c.S, c.Dv}, 3)});
  }
}

TEST(AttentionGrad, NonContiguousInputs) {
  AttentionOptions o = tiled({}, 2, 3);
  o.causal = true;
  // q and v are transposes of contiguous buffers; k is a strided slice.
  expect_gradcheck(
      [&](auto& in) { return scaled_dot_product_attention(in[0], in[1], in[2], o); },
      {test::random_transposed_input({1, 2, 5, 4}, 1), test::random_transposed_input({1, 2, 6, 4}, 2),
       test::random_transposed_input({1, 2, 6, 3}, 3)});
}

// Runs op forward and backward with a fixed upstream gradient; returns [out, dq, dk, dv] as vectors.
template <class Op>
std::vector<std::vector<double>> forward_backward(Op op, const Shape& qs, const Shape& ks, const Shape& vs, DType dt,
                                                  const AttentionOptions& o) {
  Tensor q = test::random_input(qs, 11, 0, dt), k = test::random_input(ks, 12, 0, dt), v = test::random_input(vs, 13, 0, dt);
  Tensor out = op(q, k, v, o);
  Generator g(99);
  Tensor up = randn(out.shape(), dt, g);
  out.backward(up);
  return {out.to_vector(), q.grad().to_vector(), k.grad().to_vector(), v.grad().to_vector()};
}

void expect_fused_matches_reference(const Shape& qs, const Shape& ks, const Shape& vs, const AttentionOptions& o,
                                    DType dt, double tol) {
  auto fused = forward_backward(
      [](auto& q, auto& k, auto& v, auto& opt) { return scaled_dot_product_attention(q, k, v, opt); }, qs, ks, vs, dt, o);
  auto ref = forward_backward([](auto& q, auto& k, auto& v, auto& opt) { return attention_reference(q, k, v, opt); },
                              qs, ks, vs, dt, o);
  const char* names[] = {"out", "dq", "dk", "dv"};
  for (int i = 0; i < 4; ++i) EXPECT_LT(test::rel_error(fused[i], ref[i]), tol) << names[i];
}

TEST(Attention, FusedMatchesReferenceLarger) {
  const Shape qs{2, 4, 150, 32}, ks{2, 2, 200, 32}, vs{2, 2, 200, 48};
  AttentionOptions causal;
  causal.causal = true;
  AttentionOptions masked;
  masked.mask = bias_mask(150, 200, DType::f64);
  AttentionOptions padded;
  padded.mask = padding_mask(2, 200, DType::f64);
  padded.causal = true;
  for (DType dt : {DType::f64, DType::f32}) {
    // Rounding differs only by summation order: ~1e-15 in f64, ~1e-6 in f32 for these O(1) values.
    const double tol = dt == DType::f64 ? 1e-12 : 2e-5;
    for (auto [name, base] : {std::pair<const char*, AttentionOptions>{"plain", {}}, {"causal", causal},
                              {"masked", masked}, {"padded_causal", padded}}) {
      AttentionOptions o = base;
      if (o.mask.defined()) o.mask = o.mask.converted(dt);
      for (int64_t tile : {int64_t{0}, int64_t{13}}) {
        SCOPED_TRACE(std::string(name) + " " + dtype_name(dt) + " tile " + std::to_string(tile));
        expect_fused_matches_reference(qs, ks, vs, tiled(o, tile, tile), dt, tol);
      }
    }
  }
}

TEST(Attention, FusedMatchesReferenceSingleKvHead) {
  // B * Hkv = 1 < threads: the backward splits each head's key tiles across workers, each with its own dQ copy.
  AttentionOptions o;
  o.causal = true;
  for (DType dt : {DType::f64, DType::f32}) {
    SCOPED_TRACE(dtype_name(dt));
    expect_fused_matches_reference({1, 4, 300, 32}, {1, 1, 300, 32}, {1, 1, 300, 32}, o, dt,
                                   dt == DType::f64 ? 1e-12 : 2e-5);
  }
}

TEST(Attention, DecodeStepAgainstCache) {
  // One new query against 100 cached keys: causal sees all of them (aligned to the end).
  AttentionOptions o;
  o.causal = true;
  expect_fused_matches_reference({1, 4, 1, 16}, {1, 2, 100, 16}, {1, 2, 100, 16}, o, DType::f64, 1e-12);
  Tensor q = test::random_input({1, 2, 1, 8}, 1), k = test::random_input({1, 2, 30, 8}, 2),
         v = test::random_input({1, 2, 30, 8}, 3);
  const auto a = scaled_dot_product_attention(q, k, v, o).to_vector();
  const auto b = scaled_dot_product_attention(q, k, v, {}).to_vector();
  EXPECT_LT(test::rel_error(a, b), 1e-14);
  // And the last row of a full causal pass equals the decode step for that position.
  Tensor qf = test::random_input({1, 2, 30, 8}, 4);
  const Tensor full = scaled_dot_product_attention(qf, k, v, o);
  const Tensor last = scaled_dot_product_attention(slice(qf, 2, 29, 30), k, v, o);
  EXPECT_LT(test::rel_error(slice(full, 2, 29, 30).to_vector(), last.to_vector()), 1e-14);
}

TEST(Attention, RowsWithoutKeysAreZero) {
  // Causal with T > S: rows t < T - S see nothing. A mask row of all -inf likewise.
  AttentionOptions o;
  o.causal = true;
  Tensor q = test::random_input({1, 1, 6, 4}, 1), k = test::random_input({1, 1, 4, 4}, 2),
         v = test::random_input({1, 1, 4, 4}, 3);
  Tensor out = scaled_dot_product_attention(q, k, v, tiled(o, 4, 4));
  out.backward(Tensor::ones(out.shape(), out.dtype()));
  for (int64_t t = 0; t < 2; ++t)
    for (int64_t d = 0; d < 4; ++d) {
      EXPECT_EQ(out.at({0, 0, t, d}), 0.0);
      EXPECT_EQ(q.grad().at({0, 0, t, d}), 0.0);
    }
  for (double x : out.to_vector()) EXPECT_TRUE(std::isfinite(x));
  for (double x : k.grad().to_vector()) EXPECT_TRUE(std::isfinite(x));

  std::vector<double> m(4 * 4, 0.0);
  for (int s = 0; s < 4; ++s) m[2 * 4 + s] = -kInf;  // row 2 fully blocked
  AttentionOptions mo;
  mo.mask = Tensor::from_vector(std::span<const double>(m), {4, 4}, DType::f64);
  Tensor q2 = test::random_input({1, 1, 4, 4}, 5);
  for (auto* f : {&scaled_dot_product_attention, &attention_reference}) {
    Tensor o2 = (*f)(q2, k, v, mo);
    for (int64_t d = 0; d < 4; ++d) EXPECT_EQ(o2.at({0, 0, 2, d}), 0.0);
    for (double x : o2.to_vector()) EXPECT_TRUE(std::isfinite(x));
  }
}

TEST(Attention, FusedMemoryIsLinearInT) {
  // Forward + backward at T = S = 1024 with one head of D = 16: the score matrix alone would be 4 MiB in f32;
  // the fused op's extra memory must stay far below that (it holds O(T * D) tensors plus small tiles).
  const int64_t T = 1024, D = 16;
  Tensor q = test::random_input({1, 1, T, D}, 1, 0, DType::f32), k = test::random_input({1, 1, T, D}, 2, 0, DType::f32),
         v = test::random_input({1, 1, T, D}, 3, 0, DType::f32);
  Tensor up = Tensor::ones({1, 1, T, D}, DType::f32);
  AttentionOptions o;
  o.causal = true;
  auto extra = [&](auto op) {
    q.set_grad(Tensor()), k.set_grad(Tensor()), v.set_grad(Tensor());
    release_cached_memory();
    const int64_t base = alloc_stats().bytes_in_use;
    reset_peak_bytes();
    op(q, k, v, o).backward(up);
    return alloc_stats().peak_bytes_in_use - base;
  };
  const int64_t fused = extra([](auto&... a) { return scaled_dot_product_attention(a...); });
  const int64_t ref = extra([](auto&... a) { return attention_reference(a...); });
  const int64_t scores = T * T * 4;
  EXPECT_LT(fused, scores / 4) << "fused peak " << fused << " bytes";
  EXPECT_GT(ref, scores) << "reference peak " << ref << " bytes";
}

// JSON cannot carry -inf: a copy of the mask with blocked entries as -1e30, turned back into -inf in python.
Tensor json_safe(const Tensor& mask) {
  std::vector<double> m = mask.to_vector();
  for (double& x : m)
    if (x == -kInf) x = -1e30;
  return Tensor::from_vector(std::span<const double>(m), mask.shape(), mask.dtype());
}

TEST(Attention, SteadyStateStepAllocatesNothingNew) {
  // After one step has warmed the caching allocator, a forward + backward reaches the system allocator 0 times.
  Tensor q = test::random_input({1, 4, 200, 32}, 1, 0, DType::f32), k = test::random_input({1, 2, 200, 32}, 2, 0, DType::f32),
         v = test::random_input({1, 2, 200, 32}, 3, 0, DType::f32);
  Tensor up = Tensor::ones({1, 4, 200, 32}, DType::f32);
  AttentionOptions o;
  o.causal = true;
  auto step = [&] {
    q.set_grad(Tensor()), k.set_grad(Tensor()), v.set_grad(Tensor());
    scaled_dot_product_attention(q, k, v, o).backward(up);
  };
  step();
  const int64_t before = alloc_stats().system_allocs;
  for (int i = 0; i < 3; ++i) step();
  EXPECT_EQ(alloc_stats().system_allocs, before);
}

TEST(AttentionParity, Torch) {
  test::ParityBatch b;
  auto add = [&](const std::string& name, nlohmann::json params, Shape qs, Shape ks, Shape vs, AttentionOptions o,
                 bool with_mask = false) {
    std::vector<Tensor> in{b.randn(qs), b.randn(ks), b.randn(vs)};
    if (with_mask) in.push_back(json_safe(o.mask));  // the C++ side below uses o.mask itself, with its -inf
    b.add(name, "sdpa", params, in, [o](auto& x) { return scaled_dot_product_attention(x[0], x[1], x[2], o); });
  };
  AttentionOptions causal;
  causal.causal = true;
  AttentionOptions scaled;
  scaled.scale = 0.2;
  AttentionOptions masked;
  masked.mask = bias_mask(33, 70, DType::f32);
  AttentionOptions padded;
  padded.mask = padding_mask(2, 70, DType::f32);
  padded.causal = true;
  add("sdpa_plain", {}, {2, 3, 33, 16}, {2, 3, 70, 16}, {2, 3, 70, 8}, {});
  add("sdpa_causal", {{"causal", true}}, {2, 2, 70, 16}, {2, 2, 70, 16}, {2, 2, 70, 16}, causal);
  add("sdpa_causal_T<S", {{"causal", true}}, {1, 2, 33, 16}, {1, 2, 70, 16}, {1, 2, 70, 16}, causal);
  add("sdpa_gqa_causal", {{"causal", true}}, {2, 4, 65, 32}, {2, 2, 65, 32}, {2, 2, 65, 24}, causal);
  add("sdpa_mqa", {{"causal", true}}, {1, 4, 40, 16}, {1, 1, 40, 16}, {1, 1, 40, 16}, causal);
  add("sdpa_scale", {{"scale", 0.2}}, {1, 2, 20, 8}, {1, 2, 20, 8}, {1, 2, 20, 8}, scaled);
  add("sdpa_mask", {}, {2, 2, 33, 16}, {2, 1, 70, 16}, {2, 1, 70, 16}, masked, true);
  add("sdpa_padding_causal", {{"causal", true}}, {2, 2, 70, 16}, {2, 2, 70, 16}, {2, 2, 70, 16}, padded, true);
  b.run();
}

TEST(Attention, BadInput) {
  auto expect_error = [](auto f, const char* needle) { test::expect_error(f, {"scaled_dot_product_attention", needle}); };
  const Tensor q = Tensor::zeros({1, 4, 5, 8}), k = Tensor::zeros({1, 2, 6, 8}), v = Tensor::zeros({1, 2, 6, 8});
  auto sdpa = [](Tensor a, Tensor b, Tensor c, AttentionOptions o = {}) {
    return [=] { scaled_dot_product_attention(a, b, c, o); };
  };
  expect_error(sdpa(Tensor::zeros({1, 3, 5, 8}), k, v), "[1, 3, 5, 8]");            // 3 % 2 != 0
  expect_error(sdpa(Tensor::zeros({1, 4, 5, 7}), k, v), "head dims differ");        // D mismatch
  expect_error(sdpa(q, k, Tensor::zeros({1, 2, 5, 8})), "k and v");                  // S mismatch
  expect_error(sdpa(q, Tensor::zeros({2, 2, 6, 8}), Tensor::zeros({2, 2, 6, 8})), "batch");
  expect_error(sdpa(Tensor::zeros({4, 5, 8}), k, v), "[4, 5, 8]");                   // rank
  expect_error(sdpa(q, k, Tensor::zeros({1, 2, 6, 8}, DType::f64)), "dtype");
  expect_error(sdpa(Tensor::zeros({1, 4, 5, 8}, DType::i64), k, v), "i64");
  AttentionOptions bad_mask;
  bad_mask.mask = Tensor::zeros({5, 5});
  expect_error(sdpa(q, k, v, bad_mask), "[5, 5]");
  bad_mask.mask = Tensor::zeros({5, 6}, DType::f64);
  expect_error(sdpa(q, k, v, bad_mask), "additive");
  bad_mask.mask = Tensor::zeros({5, 6});
  bad_mask.mask.set_requires_grad(true);
  expect_error(sdpa(q, k, v, bad_mask), "no gradient");
  AttentionOptions bad_scale;
  bad_scale.scale = -1;
  expect_error(sdpa(q, k, v, bad_scale), "scale");
  EXPECT_THROW(attention_reference(Tensor::zeros({1, 3, 5, 8}), k, v), Error);
}
