// Strided operand layouts of the flash attention kernels (kernels/cpu/attention_flash.h FlashLayout): the kernels
// must compute exactly what they compute on contiguous buffers when q/k/v/out/dout/dq/dk/dv live inside larger
// padded buffers (packed qkv [B, T, 3C], merged [B, T, C] outputs, arbitrary gaps), and must not write outside
// their operands. Also: packed_self_attention and scaled_dot_product_attention on strided inputs against the
// unfused reference (odd B, T, H, D; causal or not; dropout on or off), bit-identical results for 1 and 2 threads.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "support/gradcheck.h"
#include "support/tensor_compare.h"
#include "xfmr/core/parallel.h"
#include "xfmr/kernels/cpu/attention_flash.h"
#include "xfmr/ops/attention.h"
#include "xfmr/ops/attention_reference.h"
#include "xfmr/ops/elementwise.h"
#include "xfmr/ops/reduce.h"
#include "xfmr/ops/view.h"

using namespace xfmr;
using test::max_abs_diff;
using kernels::FlashAttentionParams;
using kernels::FlashLayout;

namespace {

// One [B, H, R, W] operand stored with gaps: row stride W + pad_t, head stride R * row + pad_h, batch stride
// H * head + pad_b, filled with `fill` in the gaps so that stray reads show up as NaN and stray writes as changes.
template <class T>
struct Padded {
  int64_t B, H, R, W;
  FlashLayout l;
  std::vector<T> buf;
  Padded(int64_t B_, int64_t H_, int64_t R_, int64_t W_, int64_t pad_t, int64_t pad_h, int64_t pad_b, T fill)
      : B(B_), H(H_), R(R_), W(W_) {
    l.t = W + pad_t;
    l.h = R * l.t + pad_h;
    l.b = H * l.h + pad_b;
    buf.assign(static_cast<size_t>(B * l.b + 1), fill);
  }
  T& at(int64_t b, int64_t h, int64_t r, int64_t w) { return buf[static_cast<size_t>(b * l.b + h * l.h + r * l.t + w)]; }
  bool in_operand(size_t i) const {
    const int64_t x = static_cast<int64_t>(i), b = x / l.b, h = x % l.b / l.h, r = x % l.b % l.h / l.t,
                  w = x % l.b % l.h % l.t;
    return b < B && h < H && r < R && w < W;
  }
  // Gather into a contiguous [B, H, R, W] vector.
  std::vector<T> dense() {
    std::vector<T> d;
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t r = 0; r < R; ++r)
          for (int64_t w = 0; w < W; ++w) d.push_back(at(b, h, r, w));
    return d;
  }
  void randomize(Generator& g) {
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t r = 0; r < R; ++r)
          for (int64_t w = 0; w < W; ++w) at(b, h, r, w) = static_cast<T>(g.next_normal());
  }
  // Every element outside the operand still holds `fill`.
  bool gaps_untouched(T fill) const {
    for (size_t i = 0; i < buf.size(); ++i)
      if (!in_operand(i) && std::memcmp(&buf[i], &fill, sizeof(T)) != 0) return false;
    return true;
  }
};

template <class T>
bool bit_equal(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

struct KernelCase {
  std::string name;
  int64_t B, Hq, Hkv, T, S, D, Dv;
  bool causal;
  double dropout;
  int64_t block;  // 0 = default tiles
};

template <class T>
void check_kernel_layouts(const KernelCase& c) {
  const T nan = std::numeric_limits<T>::quiet_NaN(), sentinel = T(-12345.5);
  Generator g(17);
  Padded<T> q(c.B, c.Hq, c.T, c.D, 3, 5, 7, nan), k(c.B, c.Hkv, c.S, c.D, 1, 0, 2, nan),
      v(c.B, c.Hkv, c.S, c.Dv, 4, 2, 0, nan), dout(c.B, c.Hq, c.T, c.Dv, 2, 1, 3, nan);
  q.randomize(g), k.randomize(g), v.randomize(g), dout.randomize(g);
  Padded<T> out(c.B, c.Hq, c.T, c.Dv, 5, 3, 1, sentinel), dq(c.B, c.Hq, c.T, c.D, 2, 0, 4, sentinel),
      dk(c.B, c.Hkv, c.S, c.D, 3, 1, 0, sentinel), dv(c.B, c.Hkv, c.S, c.Dv, 1, 2, 2, sentinel);

  FlashAttentionParams p;
  p.B = c.B, p.Hq = c.Hq, p.Hkv = c.Hkv, p.T = c.T, p.S = c.S, p.D = c.D, p.Dv = c.Dv;
  p.scale = 1.0 / std::sqrt(static_cast<double>(c.D));
  p.causal = c.causal;
  p.block_q = p.block_k = c.block;
  p.dropout_p = c.dropout;
  p.dropout_seed = 4242;

  // Contiguous run (the layouts default to contiguous).
  const std::vector<T> qd = q.dense(), kd = k.dense(), vd = v.dense(), dod = dout.dense();
  std::vector<T> o0(static_cast<size_t>(c.B * c.Hq * c.T * c.Dv)), lse0(static_cast<size_t>(c.B * c.Hq * c.T));
  std::vector<T> dq0(qd.size()), dk0(kd.size()), dv0(vd.size());
  kernels::flash_attention_forward<T>(p, qd.data(), kd.data(), vd.data(), nullptr, o0.data(), lse0.data());
  kernels::flash_attention_backward<T>(p, qd.data(), kd.data(), vd.data(), nullptr, o0.data(), lse0.data(),
                                       dod.data(), dq0.data(), dk0.data(), dv0.data());

  // Strided run.
  FlashAttentionParams ps = p;
  ps.q_layout = q.l, ps.k_layout = k.l, ps.v_layout = v.l, ps.out_layout = out.l;
  ps.dout_layout = dout.l, ps.dq_layout = dq.l, ps.dk_layout = dk.l, ps.dv_layout = dv.l;
  std::vector<T> lse1(lse0.size());
  kernels::flash_attention_forward<T>(ps, q.buf.data(), k.buf.data(), v.buf.data(), nullptr, out.buf.data(),
                                      lse1.data());
  kernels::flash_attention_backward<T>(ps, q.buf.data(), k.buf.data(), v.buf.data(), nullptr, out.buf.data(),
                                       lse1.data(), dout.buf.data(), dq.buf.data(), dk.buf.data(), dv.buf.data());

  EXPECT_TRUE(bit_equal(o0, out.dense()));
  EXPECT_TRUE(bit_equal(lse0, lse1));
  EXPECT_TRUE(bit_equal(dq0, dq.dense()));
  EXPECT_TRUE(bit_equal(dk0, dk.dense()));
  EXPECT_TRUE(bit_equal(dv0, dv.dense()));
  EXPECT_TRUE(out.gaps_untouched(sentinel));
  EXPECT_TRUE(dq.gaps_untouched(sentinel));
  EXPECT_TRUE(dk.gaps_untouched(sentinel));
  EXPECT_TRUE(dv.gaps_untouched(sentinel));
  // No NaN read from an input's gaps reached a result.
  for (T x : out.dense()) ASSERT_FALSE(std::isnan(x));
  for (T x : dq.dense()) ASSERT_FALSE(std::isnan(x));
}

std::vector<KernelCase> kernel_cases() {
  return {
      {"causal_odd", 3, 3, 3, 7, 7, 5, 5, true, 0, 0},
      {"causal_tiles", 2, 2, 2, 9, 9, 3, 4, true, 0, 4},
      {"full_T<S", 1, 2, 2, 5, 11, 4, 3, false, 0, 3},
      {"causal_T>S", 1, 2, 2, 9, 5, 4, 4, true, 0, 2},
      {"gqa_dropout", 2, 4, 2, 13, 13, 6, 5, true, 0.3, 4},
      {"mqa_split_keys", 1, 3, 1, 11, 17, 4, 3, true, 0.2, 4},  // one kv head: dQ split across threads
      {"icl_like", 3, 2, 2, 22, 22, 32, 32, true, 0, 0},
      {"long", 1, 2, 2, 70, 70, 8, 8, true, 0.1, 0},
  };
}

}  // namespace

TEST(AttentionLayout, KernelStridedEqualsContiguous) {
  const int saved = num_threads();
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    for (const KernelCase& c : kernel_cases()) {
      SCOPED_TRACE(testing::Message() << c.name << " threads " << threads);
      check_kernel_layouts<double>(c);
      check_kernel_layouts<float>(c);
    }
  }
  set_num_threads(saved);
}

namespace {

// The unfused oracle on the [B, H, T, D] split of qkv [B, T, 3C].
Tensor packed_reference(const Tensor& qkv, int64_t H, bool causal, double p, uint64_t seed) {
  const int64_t B = qkv.size(0), T = qkv.size(1), C = qkv.size(2) / 3;
  auto heads = [&](int64_t i) {
    return contiguous(transpose(reshape(slice(qkv, 2, i * C, (i + 1) * C), {B, T, H, C / H}), 1, 2));
  };
  AttentionOptions o;
  o.causal = causal;
  o.dropout_p = p;
  o.dropout_seed = seed;
  return reshape(transpose(attention_reference(heads(0), heads(1), heads(2), o), 1, 2), {B, T, C});
}

}  // namespace

TEST(AttentionLayout, PackedMatchesReference) {
  struct Case {
    int64_t B, T, H, D;
  };
  for (const Case& c : {Case{3, 7, 3, 5}, Case{1, 22, 2, 32}, Case{2, 1, 1, 3}, Case{5, 13, 1, 7}}) {
    for (bool causal : {true, false}) {
      for (double p : {0.0, 0.25}) {
        SCOPED_TRACE(testing::Message() << "B" << c.B << " T" << c.T << " H" << c.H << " D" << c.D
                                        << (causal ? " causal" : " full") << " p " << p);
        const Shape s{c.B, c.T, 3 * c.H * c.D};
        // A strided qkv (a slice of a wider buffer: row stride 3C + 4, unit last stride) read in place, and the
        // same values contiguous for the oracle.
        Tensor wide = test::random_input({c.B, c.T, 3 * c.H * c.D + 4}, 5);
        Tensor a = slice(wide, 2, 2, 2 + 3 * c.H * c.D).detach();
        a.set_requires_grad(true);
        Tensor b = contiguous(a).detach();
        b.set_requires_grad(true);
        Tensor ya = packed_self_attention(a, c.H, causal, p, 77), yb = packed_reference(b, c.H, causal, p, 77);
        EXPECT_LT(max_abs_diff(ya, yb), 1e-12);
        // A non-contiguous upstream gradient with unit last stride: w is a slice of a wider buffer.
        Tensor wwide = test::random_input({c.B, c.T, c.H * c.D + 3}, 9);
        Tensor w = slice(wwide, 2, 1, 1 + c.H * c.D).detach();
        ya.backward(w);
        yb.backward(contiguous(w));
        EXPECT_LT(max_abs_diff(a.grad(), b.grad()), 1e-12);
      }
    }
  }
}

TEST(AttentionLayout, PackedGradcheckStrided) {
  // qkv as a unit-last-stride slice of a wider buffer (read in place by the kernel), causal and not, dropout.
  for (bool causal : {true, false}) {
    for (double p : {0.0, 0.3}) {
      SCOPED_TRACE(testing::Message() << (causal ? "causal" : "full") << " p " << p);
      test::expect_gradcheck(
          [&](auto& in) { return packed_self_attention(slice(in[0], 2, 1, 1 + 3 * 3 * 3), 3, causal, p, 5); },
          {test::random_input({3, 5, 3 * 3 * 3 + 2}, 1)});
    }
  }
}

TEST(AttentionLayout, SdpaHeadTransposedInputsMatchReference) {
  // [B, T, H, D] projections viewed as [B, H, T, D] (unit last stride): read in place.
  const int64_t B = 3, T = 9, S = 11, Hq = 4, Hkv = 2, D = 5;
  for (double p : {0.0, 0.2}) {
    SCOPED_TRACE(testing::Message() << "p " << p);
    AttentionOptions o;
    o.causal = true;
    o.dropout_p = p;
    o.dropout_seed = 3;
    Tensor q0 = test::random_input({B, T, Hq, D}, 1), k0 = test::random_input({B, S, Hkv, D}, 2),
           v0 = test::random_input({B, S, Hkv, D}, 3);
    q0.set_requires_grad(true), k0.set_requires_grad(true), v0.set_requires_grad(true);
    Tensor q1 = contiguous(q0).detach(), k1 = contiguous(k0).detach(), v1 = contiguous(v0).detach();
    q1.set_requires_grad(true), k1.set_requires_grad(true), v1.set_requires_grad(true);
    Tensor ya = scaled_dot_product_attention(transpose(q0, 1, 2), transpose(k0, 1, 2), transpose(v0, 1, 2), o);
    Tensor yb = attention_reference(contiguous(transpose(q1, 1, 2)), contiguous(transpose(k1, 1, 2)),
                                    contiguous(transpose(v1, 1, 2)), o);
    EXPECT_LT(max_abs_diff(ya, yb), 1e-12);
    const Tensor w = test::random_input(ya.shape(), 4);
    sum(ya * w).backward();
    sum(yb * w).backward();
    EXPECT_LT(max_abs_diff(q0.grad(), q1.grad()), 1e-12);
    EXPECT_LT(max_abs_diff(k0.grad(), k1.grad()), 1e-12);
    EXPECT_LT(max_abs_diff(v0.grad(), v1.grad()), 1e-12);
  }
}

TEST(AttentionLayout, PackedSameForAnyThreadCount) {
  const int saved = num_threads();
  Tensor x = test::random_input({4, 22, 3 * 2 * 32}, 3, 0, DType::f32);
  std::vector<std::vector<double>> outs, grads;
  for (int threads : {1, 2, 3}) {
    set_num_threads(threads);
    Tensor a = x.detach();
    a.set_requires_grad(true);
    Tensor y = packed_self_attention(a, 2, true, 0.1, 9);
    y.backward(test::random_input(y.shape(), 4, 0, DType::f32).detach());
    outs.push_back(y.to_vector());
    grads.push_back(a.grad().to_vector());
  }
  set_num_threads(saved);
  for (size_t i = 1; i < outs.size(); ++i) {
    EXPECT_TRUE(bit_equal(outs[0], outs[i]));
    EXPECT_TRUE(bit_equal(grads[0], grads[i]));
  }
}
