// The AVX512-BF16 GEMM (kernels/cpu/gemm_bf16.h) against the scalar reference (kernels/ref/gemm_bf16.h), which
// rounds the operands to bf16 the same way and sums in double: the two differ only by f32 accumulation order, so
// the tolerance is f32 rounding over K terms, not bf16's. Shapes cover every edge of the blocking (M, N, K not
// multiples of the 12 x 32 tile, odd K, K and N past one cache block, the 8- and 4-row remainders) and transposed
// operands (which select the A layout: row-major or pair-major).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <tuple>
#include <vector>

#include "support/generic_isa.h"
#include "support/precision_scope.h"
#include "xfmr/core/parallel.h"
#include "xfmr/core/rng.h"
#include "xfmr/kernels/cpu/gemm_blas.h"
#include "xfmr/kernels/cpu/gemm_bf16.h"
#include "xfmr/kernels/ref/gemm_bf16.h"
#include "xfmr/ops/attention.h"
#include "xfmr/ops/elementwise.h"
#include "xfmr/ops/matmul.h"
#include "xfmr/ops/reduce.h"
#include "xfmr/ops/view.h"

using namespace xfmr;
using namespace xfmr::kernels;

namespace {

std::vector<float> random_vec(int64_t n, Generator& g) {
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = static_cast<float>(g.next_normal());
  return v;
}

struct Case {
  int64_t M, N, K;
  bool ta, tb, accumulate;
  float alpha = 1.0f;
  bool bias = false;
};

}  // namespace

TEST(GemmBf16, Float2Bf16RoundsToNearestEven) {
  EXPECT_EQ(float_to_bf16(1.0f), 0x3f80);
  // 1 + 2^-8 is halfway between bf16 1 and 1 + 2^-7: ties to the even mantissa (1).
  EXPECT_EQ(float_to_bf16(1.00390625f), 0x3f80);
  // 1 + 3·2^-8 is halfway between 1 + 2^-7 (odd) and 1 + 2^-6: rounds up to the even one.
  EXPECT_EQ(float_to_bf16(1.01171875f), 0x3f82);
  EXPECT_EQ(float_to_bf16(-2.0f), 0xc000);
  EXPECT_TRUE(std::isnan(bf16_to_float(float_to_bf16(std::nanf("")))));
  EXPECT_TRUE(std::isinf(bf16_to_float(float_to_bf16(INFINITY))));
}

TEST(GemmBf16, MatchesTheReferenceOnEveryBlockingEdge) {
  if (!cpu_has_avx512_bf16()) GTEST_SKIP() << "CPU lacks AVX512-BF16";
  const Case cases[] = {
      {1, 1, 1, false, false, false},     {12, 32, 2, false, false, false},  {13, 33, 3, false, false, true},
      {7, 5, 64, true, false, false},     {100, 70, 129, false, true, true}, {1408, 64, 64, false, true, false},
      {64, 192, 1408, true, false, false}, {97, 530, 385, false, false, false}, {25, 1030, 800, true, true, true},
      {64, 64, 32, false, true, false, 0.17677670f}, {64, 32, 64, false, false, true, 0.5f},  // attention's scale
      // a linear layer's bias added in the final store (ignored with accumulate), with one and several K blocks
      {37, 45, 70, false, true, false, 1.0f, true}, {30, 70, 800, true, false, false, 1.0f, true},
      {13, 33, 3, false, false, true, 1.0f, true},  {5, 3, 0, false, false, false, 1.0f, true},
      {14, 2100, 20, false, true, false, 1.0f, true},  // N past one NC block
      // last micro-panels of 9-11, 8 and 5-8 rows (the 12-, 8- and 4-row kernels) in both A layouts, alpha != 1
      {11, 40, 50, true, false, true, 0.3f}, {22, 64, 30, false, true, false, 0.5f}, {8, 33, 17, true, true, false},
      {47, 31, 390, true, false, false, 1.0f, true}, {20, 45, 391, false, false, true, 2.0f},
      // K past one K block (at most 2048, cut into equal even blocks): 3 x 1500, and 1026 + 1023 (odd K)
      {20, 40, 4500, true, false, false, 1.0f, true}, {9, 70, 2049, false, true, true}, {26, 33, 2049, true, true, false},
  };
  Generator g(3);
  for (const Case& cs : cases) {
    const auto a = random_vec(cs.M * cs.K, g), b = random_vec(cs.K * cs.N, g), c0 = random_vec(cs.M * cs.N, g);
    const auto bias = random_vec(cs.N, g);
    const float* pbias = cs.bias ? bias.data() : nullptr;
    // a stored [M, K] (or [K, M] when transposed), b stored [K, N] (or [N, K]); c with a padded row.
    const int64_t sa_r = cs.ta ? 1 : cs.K, sa_c = cs.ta ? cs.M : 1;
    const int64_t sb_r = cs.tb ? 1 : cs.N, sb_c = cs.tb ? cs.K : 1;
    const int64_t ldc = cs.N + 3;
    std::vector<float> c(static_cast<size_t>(cs.M * ldc), 7.0f), want = c;
    for (int64_t i = 0; i < cs.M; ++i)
      for (int64_t j = 0; j < cs.N; ++j) c[i * ldc + j] = want[i * ldc + j] = c0[i * cs.N + j];
    std::vector<float> sums(static_cast<size_t>(cs.M), 0.0f), want_sums = sums;
    gemm_bf16(cs.M, cs.N, cs.K, a.data(), sa_r, sa_c, b.data(), sb_r, sb_c, c.data(), ldc, cs.accumulate, cs.alpha,
              pbias, sums.data());
    // A's row sums: f32, k in order, so exactly the plain loop's bits
    for (int64_t i = 0; i < cs.M; ++i)
      for (int64_t k = 0; k < cs.K; ++k) want_sums[static_cast<size_t>(i)] += a[static_cast<size_t>(i * sa_r + k * sa_c)];
    EXPECT_EQ(sums, want_sums) << cs.M << "x" << cs.N << "x" << cs.K << " ta " << cs.ta;
    // B packed ahead (gemm_bf16_pack_b, in panel-aligned column ranges as threads would) gives the same bits
    {
      std::vector<uint32_t> packed(static_cast<size_t>(gemm_bf16_packed_b_words(cs.K, cs.N)) + 1, 0xdeadbeefu);
      const int64_t step = 2 * gemm_bf16_panel_columns();
      for (int64_t j0 = 0; j0 < cs.N; j0 += step)
        gemm_bf16_pack_b(cs.K, cs.N, j0, std::min(cs.N, j0 + step), b.data(), sb_r, sb_c, packed.data());
      ASSERT_EQ(packed.back(), 0xdeadbeefu) << "packed past gemm_bf16_packed_b_words";
      std::vector<float> c2 = want, sums2(static_cast<size_t>(cs.M), 0.0f);
      gemm_bf16_packed(cs.M, cs.N, cs.K, a.data(), sa_r, sa_c, packed.data(), c2.data(), ldc, cs.accumulate,
                       cs.alpha, pbias, sums2.data());
      EXPECT_EQ(c2, c) << "packed B: " << cs.M << "x" << cs.N << "x" << cs.K << " ta " << cs.ta << " tb " << cs.tb;
      EXPECT_EQ(sums2, want_sums) << "packed B: " << cs.M << "x" << cs.N << "x" << cs.K;
    }
    ref::gemm_bf16(cs.M, cs.N, cs.K, a.data(), sa_r, sa_c, b.data(), sb_r, sb_c, want.data(), ldc, cs.accumulate,
                   cs.alpha, pbias);
    double worst = 0;
    for (int64_t i = 0; i < cs.M; ++i) {
      for (int64_t j = 0; j < cs.N; ++j) {
        // f32 summation of K products of N(0,1)-sized terms: error ~ K · 2^-24 · sqrt(K) at worst
        const double tol = 4e-7 * static_cast<double>(cs.K + 1) + 1e-6;
        worst = std::max(worst, std::abs(c[i * ldc + j] - want[i * ldc + j]) / tol);
      }
      for (int64_t j = cs.N; j < ldc; ++j) ASSERT_EQ(c[i * ldc + j], 7.0f) << "wrote past N";
    }
    EXPECT_LT(worst, 1.0) << cs.M << "x" << cs.N << "x" << cs.K << " ta " << cs.ta << " tb " << cs.tb << " bias "
                          << cs.bias;
  }
}

namespace {

struct LinearRun {
  std::vector<double> out, gx, gw, gb;
};

// out = linear(x, w, b) on x [3, 37, 70] (and a transposed view of it), w [50, 70]; gradients of sum(out * r).
LinearRun run_linear(MatmulPrecision p, int threads) {
  test::PrecisionScope scope(p);
  set_num_threads(threads);
  Generator g(11);
  Tensor x = Tensor::empty({3, 70, 37}), w = Tensor::empty({50, 70}), b = Tensor::empty({50});
  normal_(x, 0.0, 1.0, g);
  normal_(w, 0.0, 0.5, g);
  normal_(b, 0.0, 0.5, g);
  for (Tensor* t : {&x, &w, &b}) t->set_requires_grad(true);
  Tensor out = linear(transpose(x, 1, 2), w, b);  // non-contiguous input
  Tensor r = Tensor::empty(out.shape());
  normal_(r, 0.0, 1.0, g);
  sum(matmul(out, w) * matmul(r, w)).backward();  // matmul forward and backward too
  set_num_threads(1);
  return {out.to_vector(), x.grad().to_vector(), w.grad().to_vector(), b.grad().to_vector()};
}

double rel_norm_diff(const std::vector<double>& x, const std::vector<double>& y) {
  double d = 0, n = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    d += (x[i] - y[i]) * (x[i] - y[i]);
    n += y[i] * y[i];
  }
  return std::sqrt(d / n);
}

}  // namespace

TEST(GemmBf16, LinearAndMatmulInBf16AreWithinBf16ToleranceOfF32) {
  if (!cpu_has_avx512_bf16()) GTEST_SKIP() << "CPU lacks AVX512-BF16";
  const LinearRun f32 = run_linear(MatmulPrecision::f32, 1);
  for (int threads : {1, 2}) {
    const LinearRun bf = run_linear(MatmulPrecision::bf16, threads);
    // bf16 keeps 8 significant bits: each operand's relative rounding error is <= 2^-9, so a product of two
    // roundings is within ~2^-8 and sums of random-sign terms stay near that: 1% norm-wise is ~2.5x that bound.
    for (auto [a, b, name] : {std::tuple{&bf.out, &f32.out, "out"}, std::tuple{&bf.gx, &f32.gx, "grad x"},
                              std::tuple{&bf.gw, &f32.gw, "grad w"}, std::tuple{&bf.gb, &f32.gb, "grad b"}}) {
      const double e = rel_norm_diff(*a, *b);
      EXPECT_LT(e, 1e-2) << name << " threads " << threads;
      if (std::string(name) == "out") {
        EXPECT_GT(e, 1e-6) << "the bf16 path was not taken";
      }
    }
  }
}

TEST(GemmBf16, PrecisionNamesRoundTripAndUnknownNamesThrow) {
  EXPECT_EQ(parse_matmul_precision("bf16", "x"), MatmulPrecision::bf16);
  EXPECT_EQ(parse_matmul_precision("f32", "x"), MatmulPrecision::f32);
  EXPECT_STREQ(matmul_precision_name(MatmulPrecision::bf16), "bf16");
  try {
    parse_matmul_precision("fp8", "train.precision");
    FAIL() << "no throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("train.precision"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("fp8"), std::string::npos);
  }
}

namespace {

struct AttentionRun {
  std::vector<double> out, gq, gk, gv;
};

// Causal attention on q, k, v [2, 3, 70, 24] (two query tiles and a tile edge that is not a multiple of 12 or 32),
// or the given shapes, and the gradients of sum(out * r).
AttentionRun run_attention(MatmulPrecision p, Shape qs = {2, 3, 70, 24}, Shape ks = {2, 3, 70, 24},
                           Shape vs = {2, 3, 70, 24}, bool causal = true) {
  test::PrecisionScope scope(p);
  Generator g(5);
  Tensor q = Tensor::empty(qs), k = Tensor::empty(ks), v = Tensor::empty(vs);
  for (Tensor* t : {&q, &k, &v}) {
    normal_(*t, 0.0, 1.0, g);
    t->set_requires_grad(true);
  }
  AttentionOptions opt;
  opt.causal = causal;
  Tensor out = scaled_dot_product_attention(q, k, v, opt);
  Tensor r = Tensor::empty(out.shape());
  normal_(r, 0.0, 1.0, g);
  sum(out * r).backward();
  return {out.to_vector(), q.grad().to_vector(), k.grad().to_vector(), v.grad().to_vector()};
}

// XFMR_ISA=generic (here its test switch) makes the bf16 kernel unavailable, as on a CPU without AVX512-BF16:
// a bf16 run then multiplies in f32 (effective_matmul_precision).
TEST(GemmBf16, GenericIsaTurnsItOff) {
  const bool native = cpu_has_avx512_bf16();
  {
    test::GenericIsaScope generic(true);
    EXPECT_FALSE(cpu_has_avx512_bf16());
  }
  EXPECT_EQ(cpu_has_avx512_bf16(), native);
}

}  // namespace

// Precision bf16 also sends the attention tiles' products (scores, P·V and the four backward products) through
// the bf16 GEMM; the softmax stays f32, so the result is within bf16 rounding of f32 but not equal to it.
TEST(GemmBf16, AttentionInBf16IsWithinBf16ToleranceOfF32) {
  if (!cpu_has_avx512_bf16()) GTEST_SKIP() << "CPU lacks AVX512-BF16";
  const AttentionRun f32 = run_attention(MatmulPrecision::f32), bf = run_attention(MatmulPrecision::bf16);
  for (auto [a, b, name] : {std::tuple{&bf.out, &f32.out, "out"}, std::tuple{&bf.gq, &f32.gq, "grad q"},
                            std::tuple{&bf.gk, &f32.gk, "grad k"}, std::tuple{&bf.gv, &f32.gv, "grad v"}}) {
    const double e = rel_norm_diff(*a, *b);
    EXPECT_LT(e, 1e-2) << name;  // the bound argued for linear above
    EXPECT_GT(e, 1e-6) << name << ": the bf16 path was not taken";
  }
}

// The single-tile kernels (T, S <= 64: the ICL and small-model shapes) multiply in bf16 too in a bf16 run, with
// their own pair-word layouts: causal and not, an odd T (a zero pair at the end of every query column), S > T
// (keys aligned to the end), grouped-query heads (dK, dV summed over the group), Dv != D. A wrong layout would
// be an O(1) error; rounding to bf16 is ~1e-3.
TEST(GemmBf16, SingleTileAttentionInBf16IsWithinBf16ToleranceOfF32) {
  if (!cpu_has_avx512_bf16()) GTEST_SKIP() << "CPU lacks AVX512-BF16";
  struct Case {
    Shape q, k, v;
    bool causal;
  };
  const Case cases[] = {{{3, 2, 22, 32}, {3, 2, 22, 32}, {3, 2, 22, 32}, true},
                        {{2, 2, 21, 16}, {2, 2, 21, 16}, {2, 2, 21, 16}, false},
                        {{2, 4, 19, 32}, {2, 2, 45, 32}, {2, 2, 45, 48}, true},
                        {{1, 3, 64, 64}, {1, 1, 64, 64}, {1, 1, 64, 16}, true}};
  for (const Case& c : cases) {
    SCOPED_TRACE(::testing::Message() << "q " << c.q.str() << " k " << c.k.str() << " v " << c.v.str());
    const AttentionRun f32 = run_attention(MatmulPrecision::f32, c.q, c.k, c.v, c.causal),
                       bf = run_attention(MatmulPrecision::bf16, c.q, c.k, c.v, c.causal);
    for (auto [a, b, name] : {std::tuple{&bf.out, &f32.out, "out"}, std::tuple{&bf.gq, &f32.gq, "grad q"},
                              std::tuple{&bf.gk, &f32.gk, "grad k"}, std::tuple{&bf.gv, &f32.gv, "grad v"}}) {
      const double e = rel_norm_diff(*a, *b);
      EXPECT_LT(e, 1e-2) << name;
      EXPECT_GT(e, 1e-6) << name << ": the bf16 path was not taken";
    }
  }
}

namespace {

// linear(x, w, b) forward at `threads` threads, x [600, 256], w [520, 256]: 2·600·520·256 FLOPs, enough for
// gemm_into to split the rows across two threads.
std::vector<float> linear_forward(MatmulPrecision p, int threads, std::vector<float>& xs, std::vector<float>& ws,
                                  std::vector<float>& bs) {
  test::PrecisionScope scope(p);
  set_num_threads(threads);
  Generator g(17);
  xs = random_vec(600 * 256, g);
  ws = random_vec(520 * 256, g);
  bs = random_vec(520, g);
  const Tensor x = Tensor::from_vector(std::span<const float>(xs), {600, 256});
  const Tensor w = Tensor::from_vector(std::span<const float>(ws), {520, 256});
  const Tensor b = Tensor::from_vector(std::span<const float>(bs), {520});
  const Tensor y = linear(x, w, b);
  set_num_threads(1);
  std::vector<float> out(600 * 520);
  const float* py = y.data<float>();
  std::copy(py, py + out.size(), out.begin());
  return out;
}

}  // namespace

// The bias is added inside the GEMM (bf16: in the micro-kernel's store; f32: written per row block before the
// BLAS call): the result is the reference's and the same bits at one and two threads.
TEST(GemmBf16, LinearBiasInTheGemmMatchesTheReferenceAtAnyThreadCount) {
  std::vector<float> x, w, b;
  for (MatmulPrecision p : {MatmulPrecision::f32, MatmulPrecision::bf16}) {
    if (p == MatmulPrecision::bf16 && !cpu_has_avx512_bf16()) continue;
    const std::vector<float> one = linear_forward(p, 1, x, w, b), two = linear_forward(p, 2, x, w, b);
    EXPECT_EQ(one, two) << matmul_precision_name(p);
    std::vector<float> want(one.size());
    if (p == MatmulPrecision::bf16) {
      ref::gemm_bf16(600, 520, 256, x.data(), 256, 1, w.data(), 1, 256, want.data(), 520, false, 1.0f, b.data());
    } else {
      for (int64_t i = 0; i < 600; ++i)
        for (int64_t j = 0; j < 520; ++j) {
          double s = b[static_cast<size_t>(j)];
          for (int64_t k = 0; k < 256; ++k)
            s += static_cast<double>(x[static_cast<size_t>(i * 256 + k)]) * w[static_cast<size_t>(j * 256 + k)];
          want[static_cast<size_t>(i * 520 + j)] = static_cast<float>(s);
        }
    }
    double worst = 0;
    for (size_t i = 0; i < one.size(); ++i) worst = std::max(worst, static_cast<double>(std::abs(one[i] - want[i])));
    EXPECT_LT(worst, 4e-7 * 257 + 1e-6) << matmul_precision_name(p);  // f32 summation over K = 256 (see above)
  }
}

// in_features = 0 in bf16 too: the output rows are the bias.
TEST(GemmBf16, LinearWithEmptyContractionIsTheBias) {
  test::PrecisionScope scope(MatmulPrecision::bf16);
  const std::vector<double> bv{1.5, -2.0, 3.25};
  const Tensor y = linear(Tensor::ones({2, 0}), Tensor::ones({3, 0}), Tensor::from_vector(std::span<const double>(bv), {3}));
  EXPECT_EQ(y.to_vector(), (std::vector<double>{1.5, -2.0, 3.25, 1.5, -2.0, 3.25}));
}

// The bias gradient comes out of the weight gradient's GEMM (summed from dYᵀ while it is packed): with dY = r
// given exactly (loss sum(out * r)), db is the plain row-by-row f32 sum of r, bit for bit, in f32 and bf16
// precision and at one and two threads (x [1400, 160], w [300, 160]: large enough for dW to split across threads).
TEST(GemmBf16, LinearBiasGradientIsTheRowOrderSumInEveryPrecision) {
  Generator g(23);
  const auto xs = random_vec(1400 * 160, g), ws = random_vec(300 * 160, g), bs = random_vec(300, g),
             rs = random_vec(1400 * 300, g);
  std::vector<float> want(300, 0.0f);
  for (int64_t i = 0; i < 1400; ++i)
    for (int64_t j = 0; j < 300; ++j) want[static_cast<size_t>(j)] += rs[static_cast<size_t>(i * 300 + j)];
  for (MatmulPrecision p : {MatmulPrecision::f32, MatmulPrecision::bf16}) {
    if (p == MatmulPrecision::bf16 && !cpu_has_avx512_bf16()) continue;
    for (int threads : {1, 2}) {
      test::PrecisionScope scope(p);
      set_num_threads(threads);
      Tensor x = Tensor::from_vector(std::span<const float>(xs), {1400, 160});
      Tensor w = Tensor::from_vector(std::span<const float>(ws), {300, 160});
      Tensor b = Tensor::from_vector(std::span<const float>(bs), {300});
      for (Tensor* t : {&x, &w, &b}) t->set_requires_grad(true);
      const Tensor r = Tensor::from_vector(std::span<const float>(rs), {1400, 300});
      sum(linear(x, w, b) * r).backward();
      set_num_threads(1);
      const float* gb = b.grad().data<float>();
      EXPECT_EQ(std::vector<float>(gb, gb + 300), want) << matmul_precision_name(p) << " threads " << threads;
      // and without the weight gradient (the bias gradient's own loop)
      Tensor b2 = Tensor::from_vector(std::span<const float>(bs), {300});
      b2.set_requires_grad(true);
      sum(linear(x.detach(), w.detach(), b2) * r).backward();
      const float* gb2 = b2.grad().data<float>();
      EXPECT_EQ(std::vector<float>(gb2, gb2 + 300), want) << matmul_precision_name(p) << " no dW";
    }
  }
}

// In bf16 a linear layer packs its input in the forward for its weight gradient (gemm_into_packing_a, kept instead of x):
// dW is the same bits as the bf16 GEMM on x itself, at one and two threads (x [1400, 160] row-major and a
// transposed view [1401, 70], odd rows: the last K pair half empty; w [300, 160] splits dW's rows across threads).
TEST(GemmBf16, LinearWeightGradientFromTheInputPackedInTheForwardIsTheGemmOfTheInput) {
  if (!cpu_has_avx512_bf16()) GTEST_SKIP() << "CPU lacks AVX512-BF16";
  for (bool transposed : {false, true}) {
    const int64_t R = transposed ? 1401 : 1400, in = transposed ? 70 : 160;
    Generator g(29);
    const auto xs = random_vec(R * in, g), ws = random_vec(300 * in, g), rs = random_vec(R * 300, g);
    for (int threads : {1, 2}) {
      test::PrecisionScope scope(MatmulPrecision::bf16);
      set_num_threads(threads);
      Tensor x = transposed ? transpose(Tensor::from_vector(std::span<const float>(xs), {in, R}), 0, 1)
                            : Tensor::from_vector(std::span<const float>(xs), {R, in});
      Tensor w = Tensor::from_vector(std::span<const float>(ws), {300, in});
      w.set_requires_grad(true);
      const Tensor r = Tensor::from_vector(std::span<const float>(rs), {R, 300});
      sum(linear(x, w) * r).backward();
      // dW = rᵀ·x through gemm_into on the f32 operands
      Tensor want = Tensor::empty({300, in});
      gemm_into(transposed_view(r), x, want, false);
      set_num_threads(1);
      const float* got = w.grad().data<float>();
      const float* pw = want.data<float>();
      EXPECT_EQ(std::vector<float>(got, got + 300 * in), std::vector<float>(pw, pw + 300 * in))
          << "threads " << threads << " transposed " << transposed;
    }
  }
}

// The packed operand's own checks: its shape names the layout, and an operand that is not f32 is refused.
TEST(GemmBf16, PackedOperandShapeAndBadInput) {
  if (!cpu_has_avx512_bf16()) GTEST_SKIP() << "CPU lacks AVX512-BF16";
  test::PrecisionScope scope(MatmulPrecision::bf16);
  // a [7, 40] packed as the B of a product over its 7 rows: 2 panels of 32 columns, 4 row pairs.
  const Tensor p = gemm_into_packing_a(Tensor::ones({7, 40}), Tensor::ones({40, 3}), Tensor::empty({7, 3}));
  EXPECT_EQ(p.shape(), (Shape{2, 4, 32, 2}));
  EXPECT_EQ(p.dtype(), DType::bf16);
  EXPECT_THROW(gemm_into_packing_a(Tensor::ones({7, 40}, DType::f64), Tensor::ones({40, 3}, DType::f64),
                                   Tensor::empty({7, 3}, DType::f64)),
               Error);
  try {
    gemm_packed_b_into(Tensor::ones({3, 9}), p, Tensor::empty({3, 40}));  // K = 9, p packed for K = 7
    FAIL() << "no throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("gemm_packed_b_into"), std::string::npos) << e.what();
  }
}

// gemm_bf16_packing_a: the product of gemm_bf16 and, block by block, A packed as gemm_bf16_pack_b packs the
// [M, K] operand, also when the rows come in two calls (two threads' row blocks, split at an even row). Every
// blocking edge of A: rows past one 96-row block and odd M (the last pair half empty), K not a multiple of the
// 32-column panel, K past one K block (packed in one pass before the product), N past one N block, A transposed.
TEST(GemmBf16, PackingAWhileMultiplyingGivesTheProductAndThePackedOperand) {
  if (!cpu_has_avx512_bf16()) GTEST_SKIP() << "CPU lacks AVX512-BF16";
  struct PackCase {
    int64_t M, N, K;
    bool ta;
    int64_t split;  // first call's rows (even), 0 for one call
  };
  const PackCase cases[] = {{1, 1, 1, false, 0},     {2, 33, 32, false, 0},    {13, 40, 70, false, 0},
                            {1408, 64, 64, false, 704}, {1407, 70, 256, false, 702}, {193, 45, 96, true, 96},
                            {97, 2100, 33, false, 48}, {31, 20, 2049, false, 0}, {30, 21, 2100, true, 14},
                            {200, 3, 5, true, 0}};
  Generator g(31);
  for (const PackCase& cs : cases) {
    const auto a = random_vec(cs.M * cs.K, g), b = random_vec(cs.K * cs.N, g), bias = random_vec(cs.N, g);
    const int64_t sa_r = cs.ta ? 1 : cs.K, sa_c = cs.ta ? cs.M : 1;
    const int64_t words = gemm_bf16_packed_b_words(cs.M, cs.K);
    std::vector<uint32_t> want_packed(static_cast<size_t>(words)), packed(static_cast<size_t>(words) + 1, 0xdeadbeefu);
    gemm_bf16_pack_b(cs.M, cs.K, 0, cs.K, a.data(), sa_r, sa_c, want_packed.data());
    // the layout itself, from the scalar rounding: word (pair p, column k) of panel k / 32, zero past M and K
    const int64_t nr = gemm_bf16_panel_columns(), pairs = (cs.M + 1) / 2;
    for (int64_t q = 0; q < (cs.K + nr - 1) / nr; ++q)
      for (int64_t p = 0; p < pairs; ++p)
        for (int64_t j = 0; j < nr; ++j) {
          const int64_t k = q * nr + j;
          auto half = [&](int64_t i) -> uint32_t {
            return i < cs.M && k < cs.K ? float_to_bf16(a[static_cast<size_t>(i * sa_r + k * sa_c)]) : 0u;
          };
          ASSERT_EQ(want_packed[static_cast<size_t>((q * pairs + p) * nr + j)], half(2 * p) | half(2 * p + 1) << 16)
              << "pair " << p << " column " << k << " of " << cs.M << "x" << cs.K;
        }
    std::vector<float> want(static_cast<size_t>(cs.M * cs.N)), c(want.size());
    gemm_bf16(cs.M, cs.N, cs.K, a.data(), sa_r, sa_c, b.data(), cs.N, 1, want.data(), cs.N, false, 1.0f, bias.data());
    int64_t r0 = 0;
    for (int64_t r1 : {cs.split, cs.M}) {
      if (r1 <= r0) continue;
      gemm_bf16_packing_a(r1 - r0, cs.N, cs.K, a.data() + r0 * sa_r, sa_r, sa_c, b.data(), cs.N, 1,
                          c.data() + r0 * cs.N, cs.N, bias.data(), packed.data(), cs.M, r0);
      r0 = r1;
    }
    EXPECT_EQ(packed.back(), 0xdeadbeefu) << "packed past the operand";
    packed.pop_back();
    EXPECT_EQ(packed, want_packed) << cs.M << "x" << cs.N << "x" << cs.K << " ta " << cs.ta;
    EXPECT_EQ(c, want) << cs.M << "x" << cs.N << "x" << cs.K << " ta " << cs.ta;
  }
}
