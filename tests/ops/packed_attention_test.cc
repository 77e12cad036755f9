// packed_self_attention: multi-head self-attention straight from a fused q/k/v projection [B, T, 3C].
// Checked against the composite it replaces (split + transpose + scaled_dot_product_attention + merge) in f64,
// by gradcheck (contiguous and non-contiguous qkv, causal and not), against torch in f32, and for bad input.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "support/gradcheck.h"
#include "support/tensor_compare.h"
#include "support/torch_parity.h"
#include "xfmr/ops/attention.h"
#include "xfmr/ops/elementwise.h"
#include "xfmr/ops/reduce.h"
#include "xfmr/ops/view.h"

using namespace xfmr;
using test::max_abs_diff;
using test::expect_gradcheck;

namespace {

// The unfused composite: split, heads to [B, H, T, D], sdpa, merge.
Tensor composite(const Tensor& qkv, int64_t H, bool causal) {
  const int64_t B = qkv.size(0), T = qkv.size(1), C = qkv.size(2) / 3;
  auto heads = [&](int64_t i) {
    return transpose(reshape(slice(qkv, 2, i * C, (i + 1) * C), {B, T, H, C / H}), 1, 2);
  };
  AttentionOptions o;
  o.causal = causal;
  return reshape(transpose(scaled_dot_product_attention(heads(0), heads(1), heads(2), o), 1, 2), {B, T, C});
}

}  // namespace

TEST(PackedAttention, MatchesCompositeForwardAndBackward) {
  struct Case {
    int64_t B, T, H, D;
    bool causal;
  };
  for (const Case& c : {Case{2, 22, 2, 32, true}, Case{1, 70, 4, 8, true}, Case{3, 5, 1, 6, false},
                        Case{2, 1, 2, 4, true}}) {
    SCOPED_TRACE("T=" + std::to_string(c.T) + " H=" + std::to_string(c.H));
    Tensor a = test::random_input({c.B, c.T, 3 * c.H * c.D}, 7);
    Tensor b = test::random_input({c.B, c.T, 3 * c.H * c.D}, 7);
    a.set_requires_grad(true);
    b.set_requires_grad(true);
    Tensor ya = packed_self_attention(a, c.H, c.causal), yb = composite(b, c.H, c.causal);
    EXPECT_LT(max_abs_diff(ya, yb), 1e-12);
    const Tensor w = test::random_input(ya.shape(), 9);
    sum(ya * w).backward();
    sum(yb * w).backward();
    EXPECT_LT(max_abs_diff(a.grad(), b.grad()), 1e-12);
  }
}

TEST(PackedAttention, Gradcheck) {
  for (bool causal : {true, false}) {
    SCOPED_TRACE(causal ? "causal" : "full");
    expect_gradcheck([&](auto& in) { return packed_self_attention(in[0], 2, causal); },
                     {test::random_input({2, 5, 3 * 2 * 3}, 1)});
    // Non-contiguous qkv: [B, 3C, T] transposed to [B, T, 3C].
    expect_gradcheck([&](auto& in) { return packed_self_attention(transpose(in[0], 1, 2), 3, causal); },
                     {test::random_input({1, 3 * 3 * 2, 4}, 2)});
  }
}

TEST(PackedAttention, TorchParity) {
  test::ParityBatch b;
  auto add = [&](const std::string& name, Shape s, int64_t H, bool causal) {
    b.add(name, "packed_self_attention", {{"n_head", H}, {"causal", causal}}, {b.randn(s)},
          [H, causal](auto& x) { return packed_self_attention(x[0], H, causal); });
  };
  add("packed_icl_small", {4, 22, 3 * 64}, 2, true);
  add("packed_long", {2, 82, 3 * 64}, 4, true);
  add("packed_full", {2, 9, 3 * 12}, 3, false);
  b.run();
}

TEST(PackedAttention, BadInput) {
  auto expect_error = [](auto f) {
    try {
      f();
      ADD_FAILURE() << "no error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("packed_self_attention"), std::string::npos) << e.what();
    }
  };
  expect_error([] { packed_self_attention(Tensor::zeros({2, 3, 12}), 0, true); });   // no heads
  expect_error([] { packed_self_attention(Tensor::zeros({2, 3, 12}), 5, true); });   // 12 != 3 * 5 * D
  expect_error([] { packed_self_attention(Tensor::zeros({3, 12}), 2, true); });      // rank 2
  expect_error([] { packed_self_attention(Tensor::zeros({2, 3, 12}, DType::i64), 2, true); });
}
