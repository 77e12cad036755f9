#include <gtest/gtest.h>

#include "support/gradcheck.h"
#include "support/strided_inputs.h"
#include "support/tensor_compare.h"
#include "support/torch_parity.h"
#include "xfmr/core/parallel.h"
#include "xfmr/ops/elementwise.h"
#include "xfmr/ops/norm.h"
#include "xfmr/ops/reduce.h"

using namespace xfmr;
using test::expect_gradcheck;
using test::random_input;

TEST(NormGrad, LayerNorm) {
  auto ln = [](auto& in) { return layer_norm(in[0], in[1], in[2]); };
  expect_gradcheck(ln, {random_input({3, 7}, 1), random_input({7}, 2), random_input({7}, 3)});
  expect_gradcheck(ln, {random_input({2, 3, 9}, 4), random_input({9}, 5), random_input({9}, 6)});
  expect_gradcheck(ln, {test::random_transposed_input({2, 5, 4}, 7), random_input({4}, 8), random_input({4}, 9)});
  expect_gradcheck([](auto& in) { return layer_norm(in[0], Tensor(), Tensor(), 1e-3); }, {random_input({4, 6}, 10)});
  expect_gradcheck([](auto& in) { return layer_norm(in[0], in[1], Tensor()); }, {random_input({4, 6}, 11), random_input({6}, 12)});
  // Enough rows to use several gradient blocks (the dw/db partial sums).
  expect_gradcheck(ln, {random_input({70, 3}, 13), random_input({3}, 14), random_input({3}, 15)});
}

TEST(NormGrad, RmsNorm) {
  auto rn = [](auto& in) { return rms_norm(in[0], in[1]); };
  expect_gradcheck(rn, {random_input({3, 7}, 1), random_input({7}, 2)});
  expect_gradcheck(rn, {test::random_transposed_input({2, 5, 4}, 3), random_input({4}, 4)});
  expect_gradcheck(rn, {random_input({2, 3, 8}, 5), test::random_strided_input({1, 8}, 6).as_strided({8}, {2}, 0)});
  expect_gradcheck([](auto& in) { return rms_norm(in[0], Tensor(), 1e-4); }, {random_input({5, 6}, 7)});
  expect_gradcheck(rn, {random_input({70, 3}, 8), random_input({3}, 9)});
}

TEST(Norm, ThreadCountDoesNotChangeResults) {
  // Big enough for parallel rows and blocks; gradients must be bit-identical for 1 and 2 threads.
  const int saved = num_threads();
  std::vector<double> ref;
  for (int nt : {1, 2}) {
    set_num_threads(nt);
    Tensor x = random_input({300, 257}, 1, 0.0, DType::f32), w = random_input({257}, 2, 0.0, DType::f32),
           b = random_input({257}, 3, 0.0, DType::f32);
    Tensor y = layer_norm(x, w, b);
    y.backward(random_input({300, 257}, 4, 0.0, DType::f32).detach());
    std::vector<double> v = x.grad().to_vector();
    for (double e : w.grad().to_vector()) v.push_back(e);
    for (double e : b.grad().to_vector()) v.push_back(e);
    if (ref.empty()) {
      ref = v;
    } else {
      EXPECT_EQ(ref, v);
    }
  }
  set_num_threads(saved);
}

// A pre-LN block's residual stream: x feeds the norm and, directly, another consumer. The norm folds the
// gradient that consumer passed into its dx pass (GradSlots::pending); x's gradient must be the two
// contributions added, bit for bit, whichever consumer the graph reaches first, f32 and f64, for row counts
// that fill the 16-row groups of the f32 kernel and ones that leave a tail.
TEST(Norm, FoldsTheResidualGradientWithTheSameBits) {
  for (DType dt : {DType::f32, DType::f64}) {
    for (int64_t rows : {5, 32, 37}) {
      for (bool norm_first : {true, false}) {
        SCOPED_TRACE(::testing::Message() << dtype_name(dt) << " rows " << rows << " norm first " << norm_first);
        Generator gen(static_cast<uint64_t>(rows));
        const Tensor x0 = randn({rows, 24}, dt, gen), w = randn({24}, dt, gen), b = randn({24}, dt, gen);
        const Tensor up_res = randn({rows, 24}, dt, gen), up_norm = randn({rows, 24}, dt, gen);
        // The two contributions, each from a graph of its own.
        Tensor xa = x0.detach();
        xa.set_requires_grad();
        sum(mul(layer_norm(xa, w, b, 1e-5), up_norm)).backward();
        const Tensor g_norm = xa.grad();
        // Together: x is a node's output (mul by 1, exact), so its gradient is accumulated in the graph.
        Tensor leaf = x0.detach();
        leaf.set_requires_grad();
        const Tensor x = mul(leaf, 1.0);
        const Tensor a = sum(mul(layer_norm(x, w, b, 1e-5), up_norm)), r = sum(mul(x, up_res));
        add(norm_first ? a : r, norm_first ? r : a).backward();
        const Tensor want = add(up_res, g_norm);
        EXPECT_EQ(test::max_abs_diff(leaf.grad(), want), 0.0);
      }
    }
  }
}

TEST(NormParity, Torch) {
  test::ParityBatch b;
  b.add("layer_norm_affine", "layer_norm", {}, {b.randn({4, 5, 16}, DType::f32, 3.0), b.randn({16}), b.randn({16})},
        [](auto& in) { return layer_norm(in[0], in[1], in[2]); });
  b.add("layer_norm_plain", "layer_norm", {{"has_weight", false}, {"has_bias", false}, {"eps", 1e-3}},
        {b.randn({6, 33})}, [](auto& in) { return layer_norm(in[0], Tensor(), Tensor(), 1e-3); });
  b.add("layer_norm_big", "layer_norm", {}, {b.randn({200, 96}), b.randn({96}), b.randn({96})},
        [](auto& in) { return layer_norm(in[0], in[1], in[2]); });
  b.add("layer_norm_transposed", "layer_norm", {}, {test::transposed_leaf(b.randn({12, 7})), b.randn({12}), b.randn({12})},
        [](auto& in) { return layer_norm(in[0], in[1], in[2]); });
  b.add("rms_norm_weight", "rms_norm", {}, {b.randn({3, 4, 16}), b.randn({16})},
        [](auto& in) { return rms_norm(in[0], in[1]); });
  b.add("rms_norm_plain", "rms_norm", {{"has_weight", false}, {"eps", 1e-5}}, {b.randn({7, 10})},
        [](auto& in) { return rms_norm(in[0], Tensor(), 1e-5); });
  b.add("rms_norm_big", "rms_norm", {}, {b.randn({200, 96}), b.randn({96})}, [](auto& in) { return rms_norm(in[0], in[1]); });
  b.run();
}

TEST(NormErrors, BadInputs) {
  const Tensor x = Tensor::ones({2, 4});
  test::expect_error([&] { layer_norm(x, Tensor::ones({3}), Tensor()); }, {"layer_norm", "weight", "[3]", "[2, 4]"});
  test::expect_error([&] { layer_norm(x, Tensor(), Tensor::ones({4, 1})); }, {"layer_norm", "bias", "[4, 1]"});
  test::expect_error([&] { layer_norm(x, Tensor::ones({4}, DType::f64), Tensor()); }, {"layer_norm", "dtype", "f64"});
  test::expect_error([&] { rms_norm(x, Tensor::ones({5})); }, {"rms_norm", "[5]", "[2, 4]"});
  test::expect_error([&] { rms_norm(Tensor::ones({2, 4}, DType::i64), Tensor()); }, {"rms_norm", "i64"});
  test::expect_error([&] { rms_norm(Tensor::scalar(1), Tensor()); }, {"rms_norm", "[]"});
}
