// The fused linear ops (ops/linear_fused.h) against the unfused compositions they replace: bit-identical outputs
// and gradients (f32 BLAS, bf16 kernel, 1 and 2 threads, shapes that cross the GEMMs' row, column and K blocks),
// f64 gradcheck, the GEMM epilogue's contract, and bad input.
#include <gtest/gtest.h>

#include <vector>

#include "support/errors.h"
#include "support/gradcheck.h"
#include "support/precision_scope.h"
#include "support/tensor_compare.h"
#include "xfmr/core/autograd.h"
#include "xfmr/core/parallel.h"
#include "xfmr/kernels/cpu/gemm_bf16.h"
#include "xfmr/kernels/ref/gemm_bf16.h"
#include "xfmr/ops/activation.h"
#include "xfmr/ops/elementwise.h"
#include "xfmr/ops/linear_fused.h"
#include "xfmr/ops/matmul.h"
#include "xfmr/ops/reduce.h"

using namespace xfmr;
using test::expect_gradcheck;
using test::max_abs_diff;
using test::random_input;
using test::random_transposed_input;

namespace {

struct Shape3 {
  int64_t rows, in, out;
};

// Products that cross the blocks: rows not a multiple of the bf16 kernel's 96-row or the BLAS path's 128-row
// blocks, out > 2048 (two column blocks of the bf16 kernel), in > 2048 (two K blocks: the epilogue must wait for
// the last), and a product big enough to be split across 2 threads.
const Shape3 kShapes[] = {{1, 3, 5}, {37, 70, 50}, {200, 16, 2100}, {13, 2500, 40}, {1500, 96, 384}};

struct Run {
  Tensor out, gx, gw, gb, gr;
};

// The MLP branch with its residual add, fused (mlp_residual) or as linear, gelu, linear, add; x [rows, in],
// hidden [rows, out], output [rows, in]. Gradients of sum(out * up), all six inputs.
std::vector<Tensor> run_mlp(bool fused, const Shape3& s, GeluApprox approx, uint64_t seed) {
  Generator g(seed);
  Tensor x = randn({s.rows, s.in}, DType::f32, g), w1 = mul(randn({s.out, s.in}, DType::f32, g), 0.2),
         b1 = randn({s.out}, DType::f32, g), w2 = mul(randn({s.in, s.out}, DType::f32, g), 0.2),
         b2 = randn({s.in}, DType::f32, g), r = randn({s.rows, s.in}, DType::f32, g),
         up = randn({s.rows, s.in}, DType::f32, g);
  for (Tensor* t : {&x, &w1, &b1, &w2, &b2, &r}) t->set_requires_grad();
  const Tensor out = fused ? mlp_residual(x, w1, b1, w2, b2, r, approx)
                           : add(r, linear(gelu(linear(x, w1, b1), approx), w2, b2));
  sum(mul(out, up)).backward();
  return {out.detach(), x.grad(), w1.grad(), b1.grad(), w2.grad(), b2.grad(), r.grad()};
}

// fused = true: linear_gelu or linear_residual; false: gelu(linear(...)) or r + linear(...). Gradients of
// sum(out * up).
Run run(bool gelu_op, bool fused, const Shape3& s, GeluApprox approx, uint64_t seed) {
  Generator g(seed);
  Tensor x = randn({s.rows, s.in}, DType::f32, g), w = mul(randn({s.out, s.in}, DType::f32, g), 0.2),
         b = randn({s.out}, DType::f32, g), r = randn({s.rows, s.out}, DType::f32, g),
         up = randn({s.rows, s.out}, DType::f32, g);
  for (Tensor* t : {&x, &w, &b, &r}) t->set_requires_grad();
  Tensor out;
  if (gelu_op)
    out = fused ? linear_gelu(x, w, b, approx) : gelu(linear(x, w, b), approx);
  else
    out = fused ? linear_residual(x, w, b, r) : add(r, linear(x, w, b));
  sum(mul(out, up)).backward();
  return {out.detach(), x.grad(), w.grad(), b.grad(), gelu_op ? Tensor() : r.grad()};
}

void expect_identical(const Run& a, const Run& b, const char* what) {
  EXPECT_EQ(max_abs_diff(a.out, b.out), 0.0) << what << ": output";
  EXPECT_EQ(max_abs_diff(a.gx, b.gx), 0.0) << what << ": dx";
  EXPECT_EQ(max_abs_diff(a.gw, b.gw), 0.0) << what << ": dW";
  EXPECT_EQ(max_abs_diff(a.gb, b.gb), 0.0) << what << ": db";
  if (a.gr.defined()) {
    EXPECT_EQ(max_abs_diff(a.gr, b.gr), 0.0) << what << ": d(residual)";
  }
}

void check_same_as_unfused(MatmulPrecision precision) {
  test::PrecisionScope scope(precision);
  const int saved = num_threads();
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    uint64_t seed = 1;
    for (const Shape3& s : kShapes) {
      for (GeluApprox approx : {GeluApprox::none, GeluApprox::tanh}) {
        SCOPED_TRACE(::testing::Message() << s.rows << "x" << s.in << "->" << s.out << " threads " << threads
                                          << " tanh " << (approx == GeluApprox::tanh));
        expect_identical(run(true, true, s, approx, seed), run(true, false, s, approx, seed), "linear_gelu");
        ++seed;
      }
      SCOPED_TRACE(::testing::Message() << s.rows << "x" << s.in << "->" << s.out << " threads " << threads);
      expect_identical(run(false, true, s, GeluApprox::none, seed), run(false, false, s, GeluApprox::none, seed),
                       "linear_residual");
      ++seed;
      const std::vector<Tensor> fused = run_mlp(true, s, GeluApprox::none, seed), plain = run_mlp(false, s, GeluApprox::none, seed);
      const char* names[] = {"output", "dx", "dW1", "db1", "dW2", "db2", "d(residual)"};
      for (size_t i = 0; i < fused.size(); ++i) EXPECT_EQ(max_abs_diff(fused[i], plain[i]), 0.0) << "mlp_residual " << names[i];
      ++seed;
    }
  }
  set_num_threads(saved);
}

}  // namespace

TEST(LinearFused, SameBitsAsUnfusedF32) { check_same_as_unfused(MatmulPrecision::f32); }

TEST(LinearFused, SameBitsAsUnfusedBf16) {
  if (!kernels::cpu_has_avx512_bf16()) GTEST_SKIP() << "no AVX512-BF16: bf16 matmuls run as f32";
  check_same_as_unfused(MatmulPrecision::bf16);
}

// bf16 training keeps GELU's slope rounded to bf16 (detail::gelu_slope_dtype): the input gradient is exactly
// g · bf16(gelu'(x)), for gelu() and for the fused linear_gelu (whose pre-activation is x·Wᵀ with W = I, exact
// in bf16 for inputs that are bf16 values); in f32 mode it is g · gelu'(x) unrounded.
TEST(LinearFused, Bf16TrainingKeepsGeluSlopeInBf16) {
  if (!kernels::cpu_has_avx512_bf16()) GTEST_SKIP() << "no AVX512-BF16: bf16 matmuls run as f32";
  const int64_t n = 40;
  Generator gen(11);
  // bf16-representable inputs spanning GELU's curved range, and an upstream gradient that is not.
  std::vector<float> xv(static_cast<size_t>(3 * n));
  for (size_t i = 0; i < xv.size(); ++i) xv[i] = kernels::round_to_bf16(-4.0f + 8.0f * static_cast<float>(i) / 119.0f);
  const Tensor up = randn({3, n}, DType::f32, gen);
  std::vector<float> eye(static_cast<size_t>(n * n), 0.0f);
  for (int64_t i = 0; i < n; ++i) eye[static_cast<size_t>(i * n + i)] = 1.0f;
  const Tensor w = Tensor::from_vector(eye, {n, n}, DType::f32);
  for (GeluApprox approx : {GeluApprox::none, GeluApprox::tanh}) {
    // The f32 slope: the gradient of sum(gelu(x)) in f32 mode.
    Tensor x = Tensor::from_vector(xv, {3, n}, DType::f32);
    x.set_requires_grad();
    sum(gelu(x, approx)).backward();
    const Tensor slope = x.grad();
    std::vector<float> want_f32(xv.size()), want_bf16(xv.size());
    for (size_t i = 0; i < xv.size(); ++i) {
      const float s = slope.data<float>()[i], g = up.data<float>()[i];
      want_f32[i] = s * g;
      want_bf16[i] = kernels::round_to_bf16(s) * g;
    }
    for (MatmulPrecision p : {MatmulPrecision::f32, MatmulPrecision::bf16}) {
      test::PrecisionScope scope(p);
      const std::vector<float>& want = p == MatmulPrecision::bf16 ? want_bf16 : want_f32;
      for (bool fused : {false, true}) {
        SCOPED_TRACE(::testing::Message() << "bf16 " << (p == MatmulPrecision::bf16) << " fused " << fused
                                          << " tanh " << (approx == GeluApprox::tanh));
        Tensor xi = Tensor::from_vector(xv, {3, n}, DType::f32);
        xi.set_requires_grad();
        sum(mul(fused ? linear_gelu(xi, w, Tensor(), approx) : gelu(xi, approx), up)).backward();
        const float* got = xi.grad().data<float>();
        if (!fused) {
          for (size_t i = 0; i < xv.size(); ++i) ASSERT_EQ(got[i], want[i]) << "element " << i;
        } else {
          // The fused op's dx is the bf16 product dh·W: each value passes through bf16 once more (packing).
          for (size_t i = 0; i < xv.size(); ++i)
            ASSERT_EQ(got[i], p == MatmulPrecision::bf16 ? kernels::round_to_bf16(want[i]) : want[i]) << i;
        }
      }
    }
  }
}

// Without gradients the GELU epilogue computes values only; they are still gelu(linear(...)).
TEST(LinearFused, InferenceSameAsUnfused) {
  Generator g(5);
  const Tensor x = randn({2, 33, 24}, DType::f32, g), w = randn({40, 24}, DType::f32, g), b = randn({40}, DType::f32, g);
  EXPECT_EQ(max_abs_diff(linear_gelu(x, w, b), gelu(linear(x, w, b))), 0.0);
  EXPECT_EQ(max_abs_diff(linear_gelu(x, w, Tensor(), GeluApprox::tanh), gelu(linear(x, w), GeluApprox::tanh)), 0.0);
  EXPECT_EQ(linear_gelu(x, w, b).shape(), Shape({2, 33, 40}));
}

TEST(LinearFused, Gradcheck) {
  auto lg = [](auto& in) { return linear_gelu(in[0], in[1], in[2]); };
  auto lg_tanh_nb = [](auto& in) { return linear_gelu(in[0], in[1], Tensor(), GeluApprox::tanh); };
  auto lr = [](auto& in) { return linear_residual(in[0], in[1], in[2], in[3]); };
  auto lr_nb = [](auto& in) { return linear_residual(in[0], in[1], Tensor(), in[2]); };
  auto mlp = [](auto& in) { return mlp_residual(in[0], in[1], in[2], in[3], in[4], in[5]); };
  auto mlp_tanh_nb = [](auto& in) { return mlp_residual(in[0], in[1], Tensor(), in[2], Tensor(), in[3], GeluApprox::tanh); };
  expect_gradcheck(lg, {random_input({2, 3, 4}, 1), random_input({5, 4}, 2), random_input({5}, 3)});
  expect_gradcheck(lg, {random_transposed_input({3, 4}, 4), random_transposed_input({5, 4}, 5), random_input({5}, 6)});
  expect_gradcheck(lg_tanh_nb, {random_input({3, 4}, 7), random_input({6, 4}, 8)});
  expect_gradcheck(lr, {random_input({2, 3, 4}, 9), random_input({5, 4}, 10), random_input({5}, 11),
                        random_input({2, 3, 5}, 12)});
  expect_gradcheck(lr_nb, {random_transposed_input({3, 4}, 13), random_input({5, 4}, 14),
                           random_transposed_input({3, 5}, 15)});
  expect_gradcheck(mlp, {random_input({2, 3, 4}, 16), random_input({6, 4}, 17), random_input({6}, 18),
                         random_input({4, 6}, 19), random_input({4}, 20), random_input({2, 3, 4}, 21)});
  expect_gradcheck(mlp_tanh_nb, {random_transposed_input({3, 4}, 22), random_input({5, 4}, 23),
                                 random_transposed_input({3, 5}, 24), random_input({3, 3}, 25)});
}

// The bf16 kernel calls the epilogue once per finished block: every element exactly once, after its final value
// is stored (with K cut into two blocks, N into two column blocks and M into several row blocks).
TEST(LinearFused, Bf16EpilogueSeesEachFinalValueOnce) {
  if (!kernels::cpu_has_avx512_bf16()) GTEST_SKIP() << "no AVX512-BF16";
  const int64_t M = 150, N = 2100, K = 2500, row_base = 1000;
  Generator g(3);
  const Tensor a = randn({M, K}, DType::f32, g), b = randn({K, N}, DType::f32, g);
  std::vector<float> c(static_cast<size_t>(M * N)), ref(c.size()), seen(c.size(), 0.0f);
  std::vector<int> visits(c.size(), 0);
  kernels::gemm_bf16(M, N, K, a.data<float>(), K, 1, b.data<float>(), N, 1, ref.data(), N, false);
  struct Ctx {
    float* c;
    std::vector<int>* visits;
    std::vector<float>* seen;
    int64_t n, row_base;
    bool ok_pointer = true;
  } ctx{c.data(), &visits, &seen, N, row_base};
  const kernels::GemmEpilogue ep{
      [](const void* p, void* cb, int64_t ldc, int64_t row0, int64_t rows, int64_t col0, int64_t cols) {
        auto& x = *const_cast<Ctx*>(static_cast<const Ctx*>(p));
        const int64_t r0 = row0 - x.row_base;
        if (static_cast<float*>(cb) != x.c + r0 * x.n + col0 || ldc != x.n) x.ok_pointer = false;
        for (int64_t r = r0; r < r0 + rows; ++r)
          for (int64_t j = col0; j < col0 + cols; ++j) {
            ++(*x.visits)[static_cast<size_t>(r * x.n + j)];
            (*x.seen)[static_cast<size_t>(r * x.n + j)] = x.c[r * x.n + j];
          }
      },
      &ctx};
  kernels::gemm_bf16(M, N, K, a.data<float>(), K, 1, b.data<float>(), N, 1, c.data(), N, false, 1.0f, nullptr,
                     nullptr, ep, row_base);
  EXPECT_TRUE(ctx.ok_pointer) << "the block pointer is element (row0, col0) of C";
  for (size_t i = 0; i < c.size(); ++i) {
    ASSERT_EQ(visits[i], 1) << "element " << i;
    ASSERT_EQ(seen[i], ref[i]) << "element " << i << " seen before its final value";
    ASSERT_EQ(c[i], ref[i]);
  }
}

TEST(LinearFused, BadInput) {
  const Tensor x = Tensor::zeros({4, 3}), w = Tensor::zeros({5, 3}), b = Tensor::zeros({5});
  test::expect_error([&] { linear_gelu(x, Tensor::zeros({5, 4}), b); }, {"linear_gelu"});
  test::expect_error([&] { linear_gelu(x, w, Tensor::zeros({4})); }, {"linear_gelu"});
  test::expect_error([&] { linear_residual(x, w, b, Tensor::zeros({4, 6})); }, {"linear_residual: residual [4, 6]"});
  test::expect_error([&] { linear_residual(x, w, b, Tensor::zeros({5})); }, {"does not match the output [4, 5]"});
  test::expect_error([&] { linear_residual(x, w, b, Tensor::zeros({4, 5}, DType::f64)); }, {"linear_residual"});
  test::expect_error([&] { linear_gelu(Tensor::zeros({4, 3}, DType::i64), w, b); }, {"linear_gelu"});
  const Tensor w2 = Tensor::zeros({3, 5});
  test::expect_error([&] { mlp_residual(x, w, b, Tensor::zeros({3, 4}), Tensor(), x); }, {"mlp_residual", "[3, 4]"});
  test::expect_error([&] { mlp_residual(x, w, b, w2, Tensor(), Tensor::zeros({4, 5})); },
                     {"mlp_residual: residual [4, 5] does not match the output [4, 3]"});
}
