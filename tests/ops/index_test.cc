#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "support/errors.h"
#include "support/gradcheck.h"
#include "support/torch_parity.h"
#include "xfmr/core/autograd.h"
#include "xfmr/core/parallel.h"
#include "xfmr/ops/index.h"
#include "xfmr/ops/view.h"

using xfmr::test::expect_error;

using namespace xfmr;
using test::expect_gradcheck;

namespace {

Tensor ids(const std::vector<int64_t>& v, const Shape& s, DType dt = DType::i64) {
  return Tensor::from_vector(std::span<const int64_t>(v), s, dt);
}

// A non-contiguous integer index of logical shape [a, b] (the transpose of a contiguous [b, a] tensor).
Tensor transposed_ids(const std::vector<int64_t>& v_ba, int64_t a, int64_t b, DType dt = DType::i64) {
  return transpose(ids(v_ba, {b, a}, dt), 0, 1);
}

// Runs f, expects an xfmr::Error whose message contains every fragment (the op name, the shapes...).

std::vector<Tensor> leaves(int n, const Shape& shape, uint64_t seed) {
  std::vector<Tensor> xs;
  for (int i = 0; i < n; ++i) xs.push_back(test::random_input(shape, seed + i));
  return xs;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// concat / stack

TEST(ConcatTest, ForwardValues) {
  Tensor a = Tensor::from_vector(std::vector<double>{1, 2, 3, 4}, {2, 2});
  Tensor b = Tensor::from_vector(std::vector<double>{5, 6}, {2, 1});
  EXPECT_EQ(concat({a, b}, 1).to_vector(), (std::vector<double>{1, 2, 5, 3, 4, 6}));
  EXPECT_EQ(concat({a, transpose(a, 0, 1)}, 0).to_vector(), (std::vector<double>{1, 2, 3, 4, 1, 3, 2, 4}));
  // Integer tensors concatenate too (no gradient).
  EXPECT_EQ(concat({ids({1, 2}, {2}), ids({3}, {1})}, 0).to_int_vector(), (std::vector<int64_t>{1, 2, 3}));
  // Zero-length pieces are allowed.
  EXPECT_EQ(concat({a, Tensor::zeros({2, 0})}, -1).shape(), (Shape{2, 2}));
}

TEST(ConcatTest, Gradcheck) {
  expect_gradcheck(
      [](auto& in) {
        return concat({in[0], in[1], in[2]}, 0);
      },
      {test::random_input({2, 3}, 1), test::random_input({1, 3}, 2), test::random_input({4, 3}, 3)});
  expect_gradcheck(
      [](auto& in) {
        return concat({in[0], in[1]}, 1);
      },
      {test::random_transposed_input({2, 3, 4}, 4), test::random_input({2, 2, 4}, 5)});
  expect_gradcheck(
      [](auto& in) {
        return concat({in[0], in[1], in[0]}, -1);
      },  // an input used twice
      {test::random_input({2, 3, 2}, 6), test::random_transposed_input({2, 3, 4}, 7)});
}

TEST(ConcatTest, ManyInputsBuildATree) {
  // 10 differentiable inputs: more than one node holds (kMaxNodeInputs = 8).
  expect_gradcheck([](auto& in) { return concat(in, 1); }, leaves(10, {2, 2}, 10));
  // 70 inputs: more than the on-stack member list, and a two-level tree.
  expect_gradcheck([](auto& in) { return concat(in, 0); }, leaves(70, {1, 2}, 100));
  // Differentiable inputs interleaved with constants.
  std::vector<Tensor> xs = leaves(12, {3, 1}, 200);
  for (int i = 0; i < 12; i += 3) xs[i] = xs[i].detach().contiguous_copy();
  expect_gradcheck([](auto& in) { return concat(in, -1); }, xs);
  // Gradients of a many-input concat are exactly the slices of the upstream gradient.
  std::vector<Tensor> ys = leaves(9, {2, 1}, 300);
  Tensor out = concat(ys, 1);
  Tensor g = Tensor::arange(18, DType::f64);
  out.backward(reshape(g, {2, 9}));
  for (int i = 0; i < 9; ++i)
    EXPECT_EQ(ys[i].grad().to_vector(), (std::vector<double>{double(i), double(9 + i)}));
}

TEST(ConcatTest, NoGradModeRecordsNothing) {
  Tensor a = test::random_input({2, 2});
  NoGradGuard ng;
  EXPECT_FALSE(concat({a, a}, 0).requires_grad());
  EXPECT_FALSE(stack({a, a}, 0).requires_grad());
}

TEST(StackTest, ForwardAndGradcheck) {
  Tensor a = Tensor::from_vector(std::vector<double>{1, 2}, {2});
  Tensor b = Tensor::from_vector(std::vector<double>{3, 4}, {2});
  EXPECT_EQ(stack({a, b}, 0).to_vector(), (std::vector<double>{1, 2, 3, 4}));
  EXPECT_EQ(stack({a, b}, -1).to_vector(), (std::vector<double>{1, 3, 2, 4}));
  EXPECT_EQ(stack({a, b}, 1).shape(), (Shape{2, 2}));
  EXPECT_EQ(stack({Tensor::scalar(1), Tensor::scalar(2)}, -1).to_vector(), (std::vector<double>{1, 2}));
  expect_gradcheck([](auto& in) { return stack(in, 0); }, leaves(3, Shape{}, 9));
  expect_gradcheck(
      [](auto& in) {
        return stack({in[0], in[1], in[2]}, 0);
      },
      {test::random_input({2, 3}, 1), test::random_transposed_input({2, 3}, 2),
       test::random_input({2, 3}, 3)});
  expect_gradcheck(
      [](auto& in) {
        return stack({in[0], in[1]}, 1);
      },
      {test::random_input({2, 3}, 4), test::random_transposed_input({2, 3}, 5)});
  expect_gradcheck(
      [](auto& in) {
        return stack({in[0], in[1]}, -1);
      },
      {test::random_input({2, 3}, 6), test::random_input({2, 3}, 7)});
  expect_gradcheck([](auto& in) { return stack(in, -2); }, leaves(11, {3, 2}, 8));
}

TEST(ConcatTest, BadInput) {
  Tensor a = Tensor::zeros({2, 3}), b = Tensor::zeros({2, 4});
  expect_error([&] { concat({a, b}, 0); }, {"concat", "[2, 4]", "[2, 3]"});
  expect_error([&] { concat({a, Tensor::zeros({2, 3, 1})}, 0); }, {"concat", "[2, 3, 1]"});
  expect_error([&] { concat({a, Tensor::zeros({2, 3}, DType::f64)}, 0); }, {"concat", "dtype", "f64"});
  expect_error([&] { concat({}, 0); }, {"concat", "empty"});
  expect_error([&] { concat({a, a}, 2); }, {"concat", "dimension 2"});
  expect_error([&] { concat({Tensor::scalar(1), Tensor::scalar(2)}, 0); }, {"concat", "zero-dimensional"});
  expect_error([&] { concat({a, Tensor()}, 0); }, {"concat", "undefined"});
  expect_error([&] { stack({a, b}, 0); }, {"stack", "[2, 4]", "[2, 3]"});
  expect_error([&] { stack({a, a}, 3); }, {"stack", "dimension 3"});
  expect_error([&] { stack({}, 0); }, {"stack", "empty"});
}

// ---------------------------------------------------------------------------------------------------------------
// split

TEST(SplitTest, Chunks) {
  Tensor x = Tensor::arange(10, DType::f64);
  auto p = split(x, 4, 0);
  ASSERT_EQ(p.size(), 3u);
  EXPECT_EQ(p[2].to_vector(), (std::vector<double>{8, 9}));
  EXPECT_TRUE(p[1].shares_storage(x));  // views
  auto q = split(reshape(x, {2, 5}), std::vector<int64_t>{1, 0, 4}, -1);
  ASSERT_EQ(q.size(), 3u);
  EXPECT_EQ(q[0].to_vector(), (std::vector<double>{0, 5}));
  EXPECT_EQ(q[1].shape(), (Shape{2, 0}));
  EXPECT_EQ(q[2].to_vector(), (std::vector<double>{1, 2, 3, 4, 6, 7, 8, 9}));
  EXPECT_EQ(split(Tensor::zeros({0, 3}), 2, 0).size(), 1u);
  EXPECT_EQ(split(x, 10, 0).size(), 1u);
  EXPECT_EQ(split(x, 20, 0).size(), 1u);
}

TEST(SplitTest, Gradcheck) {
  auto rev_cat = [](std::vector<Tensor> parts, int dim) {
    std::vector<Tensor> r(parts.rbegin(), parts.rend());
    return concat(r, dim);
  };
  expect_gradcheck([&](auto& in) { return rev_cat(split(in[0], 2, 1), 1); }, {test::random_input({2, 5, 3})});
  expect_gradcheck([&](auto& in) { return rev_cat(split(in[0], 3, -1), -1); },
                   {test::random_transposed_input({3, 7})});
  expect_gradcheck(
      [&](auto& in) {
        return rev_cat(split(in[0], std::vector<int64_t>{2, 1, 3}, 0), 0);
      },
      {test::random_transposed_input({6, 2, 3})});
  // One piece alone: gradient zero outside it.
  expect_gradcheck([](auto& in) { return split(in[0], 2, -2)[1]; }, {test::random_input({5, 2})});
}

TEST(SplitTest, BadInput) {
  Tensor x = Tensor::zeros({4, 6});
  expect_error([&] { split(x, 0, 1); }, {"split", "split_size", "[4, 6]"});
  expect_error([&] { split(x, std::vector<int64_t>{2, 3}, 1); }, {"split", "sum to 5", "[4, 6]"});
  expect_error([&] { split(x, std::vector<int64_t>{7, -1}, 1); }, {"split", "negative", "[4, 6]"});
  expect_error([&] { split(x, 2, -3); }, {"split", "dimension -3"});
}

// ---------------------------------------------------------------------------------------------------------------
// gather

TEST(GatherTest, ForwardValues) {
  // x = [[0, 1, 2], [3, 4, 5]]
  Tensor x = reshape(Tensor::arange(6, DType::f64), {2, 3});
  EXPECT_EQ(gather(x, 1, ids({2, 2, 0, 1}, {2, 2})).to_vector(), (std::vector<double>{2, 2, 3, 4}));
  EXPECT_EQ(gather(x, 0, ids({1, 0, 1}, {1, 3})).to_vector(), (std::vector<double>{3, 1, 5}));
  EXPECT_EQ(gather(x, -1, ids({1}, {1, 1}, DType::i32)).to_vector(), (std::vector<double>{1}));
  // Non-contiguous input and index.
  Tensor xt = transpose(x, 0, 1);  // [[0, 3], [1, 4], [2, 5]]
  EXPECT_EQ(gather(xt, 1, transposed_ids({1, 0, 0, 1, 1, 1}, 3, 2)).to_vector(),
            (std::vector<double>{3, 3, 1, 4, 2, 5}));
  // An empty index gives an empty output that still carries the graph.
  Tensor xg = test::random_input({2, 3});
  Tensor e = gather(xg, 1, Tensor::empty({2, 0}, DType::i64));
  EXPECT_EQ(e.shape(), (Shape{2, 0}));
  EXPECT_TRUE(e.requires_grad());
  // Integer tensors can be gathered (forward only).
  EXPECT_EQ(gather(ids({5, 6, 7}, {3}), 0, ids({2, 2, 0}, {3})).to_int_vector(),
            (std::vector<int64_t>{7, 7, 5}));
}

TEST(GatherTest, Gradcheck) {
  // Duplicate indices accumulate in the backward.
  Tensor i1 = ids({0, 0, 2, 1, 3, 3, 3, 0}, {2, 4});
  expect_gradcheck([&](auto& in) { return gather(in[0], 1, i1); }, {test::random_input({2, 4})});
  expect_gradcheck([&](auto& in) { return gather(in[0], -1, i1); }, {test::random_transposed_input({3, 5})});
  // dim 0 (the serial backward path), index smaller than x in the other dims, more rows than x along dim.
  Tensor i0 = ids({2, 0, 2, 1, 1, 1, 0, 0}, {4, 2});
  expect_gradcheck([&](auto& in) { return gather(in[0], 0, i0); }, {test::random_input({3, 3})});
  expect_gradcheck([&](auto& in) { return gather(in[0], -2, i0); }, {test::random_transposed_input({3, 3})});
  // Rank 3, i32 and non-contiguous index.
  Tensor i3 = reshape(ids({1, 0, 1, 1, 0, 0, 1, 0, 0, 1, 1, 1}, {2, 3, 2}, DType::i32), {2, 3, 2});
  expect_gradcheck([&](auto& in) { return gather(in[0], 2, i3); }, {test::random_input({2, 3, 4})});
  Tensor it = transposed_ids({0, 1, 2, 2, 1, 0}, 2, 3);
  expect_gradcheck([&](auto& in) { return gather(in[0], 1, it); }, {test::random_transposed_input({2, 4})});
}

TEST(GatherTest, BadInput) {
  Tensor x = Tensor::zeros({2, 3});
  expect_error([&] { gather(x, 1, ids({0, 3}, {2, 1})); }, {"gather", "index 3", "[0, 3)", "[2, 3]"});
  expect_error([&] { gather(x, 1, ids({-1, 0}, {2, 1})); }, {"gather", "index -1", "[0, 3)"});
  expect_error([&] { gather(x, 1, ids({0, 0}, {2})); }, {"gather", "rank", "[2, 3]", "[2]"});
  expect_error([&] { gather(x, 1, ids({0, 0, 0}, {3, 1})); }, {"gather", "[3, 1]", "[2, 3]", "dimension 0"});
  expect_error([&] { gather(x, 1, Tensor::zeros({2, 1})); }, {"gather", "i64 or i32", "f32"});
  expect_error([&] { gather(x, 2, ids({0, 0}, {2, 1})); }, {"gather", "dimension 2"});
}

// ---------------------------------------------------------------------------------------------------------------
// index_select

TEST(IndexSelectTest, ForwardValues) {
  Tensor x = reshape(Tensor::arange(6, DType::f64), {2, 3});
  EXPECT_EQ(index_select(x, 1, ids({2, 0, 2}, {3})).to_vector(), (std::vector<double>{2, 0, 2, 5, 3, 5}));
  EXPECT_EQ(index_select(x, 0, ids({1}, {1}, DType::i32)).to_vector(), (std::vector<double>{3, 4, 5}));
  EXPECT_EQ(index_select(transpose(x, 0, 1), 0, ids({2, 0}, {2})).to_vector(),
            (std::vector<double>{2, 5, 0, 3}));
  // (Tensor::empty: from_vector with an empty span passes a null pointer to memcpy in core/tensor.cc.)
  EXPECT_EQ(index_select(x, 0, Tensor::empty({0}, DType::i64)).shape(), (Shape{0, 3}));
  EXPECT_EQ(index_select(x, -1, Tensor::scalar(1, DType::i64)).to_vector(), (std::vector<double>{1, 4}));
}

TEST(IndexSelectTest, Gradcheck) {
  // Duplicates accumulate; dim 0 (embedding-style, column-parallel backward) and inner dims (outer-parallel).
  Tensor idx = ids({3, 1, 3, 0, 3}, {5});
  expect_gradcheck([&](auto& in) { return index_select(in[0], 0, idx); }, {test::random_input({4, 3})});
  expect_gradcheck([&](auto& in) { return index_select(in[0], 1, idx); },
                   {test::random_transposed_input({3, 4, 2})});
  expect_gradcheck([&](auto& in) { return index_select(in[0], -1, idx); },
                   {test::random_transposed_input({5, 4})});
  Tensor idx32 = ids({1, 1, 0}, {3}, DType::i32);
  expect_gradcheck([&](auto& in) { return index_select(in[0], -2, idx32); }, {test::random_input({2, 2, 3})});
  // Non-contiguous index (a strided view).
  Tensor strided = slice(ids({0, 9, 2, 9, 1, 9}, {6}), 0, 0, 6, 2);
  expect_gradcheck([&](auto& in) { return index_select(in[0], 0, strided); }, {test::random_input({3, 2})});
}

TEST(IndexSelectTest, BackwardIsThreadCountInvariant) {
  // Many duplicates of few rows, large enough for the parallel paths: results must match bit for bit.
  const int prev = num_threads();
  Generator g(3);
  Tensor idx = randint(0, 7, {4000}, DType::i64, g);
  Tensor w = randn({7, 64}, DType::f32, g);
  auto run = [&](int threads, int dim) {
    set_num_threads(threads);
    Tensor x = (dim == 0 ? w : transpose(w, 0, 1)).detach();
    x = x.contiguous_copy();
    x.set_requires_grad(true);
    Tensor out = index_select(x, dim, idx);
    Tensor up = Tensor::ones(out.shape());
    out.backward(up);
    return x.grad().to_vector();
  };
  for (int dim : {0, 1}) {
    const auto a = run(1, dim), b = run(2, dim);
    EXPECT_EQ(a, b) << "dim " << dim;
  }
  set_num_threads(prev);
}

TEST(IndexSelectTest, BadInput) {
  Tensor x = Tensor::zeros({2, 3});
  expect_error(
      [&] {
        index_select(x, 1, ids({0, 3}, {2}));
      },
      {"index_select", "index 3", "[0, 3)", "[2, 3]"});
  expect_error([&] { index_select(x, 0, ids({-2}, {1})); }, {"index_select", "index -2", "[0, 2)"});
  expect_error([&] { index_select(x, 0, ids({0, 0}, {1, 2})); }, {"index_select", "1-D", "[1, 2]", "[2, 3]"});
  expect_error([&] { index_select(x, 0, Tensor::zeros({2}, DType::f64)); },
               {"index_select", "i64 or i32", "f64"});
  expect_error([&] { index_select(Tensor::scalar(1), 0, ids({0}, {1})); }, {"index_select", "scalar"});
}

// ---------------------------------------------------------------------------------------------------------------
// one_hot

TEST(OneHotTest, Values) {
  Tensor oh = one_hot(ids({2, 0, 1, 2}, {2, 2}), 3);
  EXPECT_EQ(oh.shape(), (Shape{2, 2, 3}));
  EXPECT_EQ(oh.dtype(), DType::f32);
  EXPECT_EQ(oh.to_vector(), (std::vector<double>{0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1}));
  EXPECT_EQ(one_hot(ids({1}, {1}, DType::i32), 2, DType::f64).to_vector(), (std::vector<double>{0, 1}));
  EXPECT_EQ(one_hot(transposed_ids({0, 1, 1, 0}, 2, 2), 2, DType::i64).to_int_vector(),
            (std::vector<int64_t>{1, 0, 0, 1, 0, 1, 1, 0}));
  EXPECT_FALSE(one_hot(ids({0}, {1}), 1).requires_grad());
}

TEST(OneHotTest, BadInput) {
  expect_error([] { one_hot(ids({0, 3}, {2}), 3); }, {"one_hot", "id 3", "[0, 3)", "[2]"});
  expect_error([] { one_hot(ids({-1}, {1}), 3); }, {"one_hot", "id -1"});
  expect_error([] { one_hot(ids({0}, {1}), 0); }, {"one_hot", "num_classes", "[1]"});
  expect_error([] { one_hot(Tensor::zeros({2}), 3); }, {"one_hot", "i64 or i32", "f32"});
}

// ---------------------------------------------------------------------------------------------------------------
// PyTorch parity (f32, tol 1e-4)

TEST(IndexParity, Torch) {
  test::ParityBatch b;
  b.add("concat_dim0", "concat", {{"dim", 0}}, {b.randn({2, 3}), b.randn({4, 3}), b.randn({1, 3})},
        [](auto& in) { return concat(in, 0); });
  b.add("concat_dim_neg1", "concat", {{"dim", -1}}, {b.randn({2, 3, 2}), b.randn({2, 3, 5})},
        [](auto& in) { return concat(in, -1); });
  {
    std::vector<Tensor> ten;
    for (int i = 0; i < 10; ++i) ten.push_back(b.randn({3, 1 + i % 3}));
    b.add("concat_10", "concat", {{"dim", 1}}, ten, [](auto& in) { return concat(in, 1); });
  }
  b.add("stack_dim1", "stack", {{"dim", 1}}, {b.randn({2, 4}), b.randn({2, 4}), b.randn({2, 4})},
        [](auto& in) { return stack(in, 1); });
  b.add("stack_dim_neg1", "stack", {{"dim", -1}}, {b.randn({3, 2}), b.randn({3, 2})},
        [](auto& in) { return stack(in, -1); });
  b.add("gather_dim1", "gather", {{"dim", 1}}, {b.randn({4, 5}), b.randint(0, 5, {4, 7})},
        [](auto& in) { return gather(in[0], 1, in[1]); });
  b.add("gather_dim0", "gather", {{"dim", 0}}, {b.randn({3, 4, 2}), b.randint(0, 3, {5, 2, 2})},
        [](auto& in) { return gather(in[0], 0, in[1]); });
  b.add("gather_dim_neg1", "gather", {{"dim", -1}}, {b.randn({2, 3, 6}), b.randint(0, 6, {2, 3, 2})},
        [](auto& in) { return gather(in[0], -1, in[1]); });
  b.add("index_select_dim0", "index_select", {{"dim", 0}}, {b.randn({6, 4}), b.randint(0, 6, {9})},
        [](auto& in) { return index_select(in[0], 0, in[1]); });
  b.add("index_select_dim1", "index_select", {{"dim", 1}}, {b.randn({2, 5, 3}), b.randint(0, 5, {7})},
        [](auto& in) { return index_select(in[0], 1, in[1]); });
  b.add("index_select_dim_neg1", "index_select", {{"dim", -1}}, {b.randn({3, 4}), b.randint(0, 4, {2})},
        [](auto& in) { return index_select(in[0], -1, in[1]); });
  b.add("one_hot", "one_hot", {{"num_classes", 5}}, {b.randint(0, 5, {2, 3})},
        [](auto& in) { return one_hot(in[0], 5); });
  b.run();
}

TEST(SplitParity, Torch) {
  test::ParityBatch b;
  for (int piece = 0; piece < 3; ++piece)
    b.add("split_piece_" + std::to_string(piece), "split_piece",
          {{"split_size", 2}, {"dim", 1}, {"piece", piece}}, {b.randn({3, 5})},
          [piece](auto& in) { return split(in[0], 2, 1)[piece]; });
  b.add("split_sizes_piece", "split_piece", {{"sizes", {1, 3, 2}}, {"dim", -1}, {"piece", 1}},
        {b.randn({2, 2, 6})}, [](auto& in) {
          return split(in[0], std::vector<int64_t>{1, 3, 2}, -1)[1];
        });
  b.add("split_cat_reversed", "split_cat_reversed", {{"split_size", 3}, {"dim", 0}}, {b.randn({8, 3})},
        [](auto& in) {
          auto p = split(in[0], 3, 0);
          return concat({p[2], p[1], p[0]}, 0);
        });
  b.add("split_sizes_cat_reversed", "split_cat_reversed", {{"sizes", {2, 0, 3}}, {"dim", 1}},
        {b.randn({2, 5})}, [](auto& in) {
          auto p = split(in[0], std::vector<int64_t>{2, 0, 3}, 1);
          return concat({p[2], p[1], p[0]}, 1);
        });
  b.run();
}
