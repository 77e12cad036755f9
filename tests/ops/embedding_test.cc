#include <gtest/gtest.h>

#include "support/gradcheck.h"
#include "support/strided_inputs.h"
#include "support/torch_parity.h"
#include "xfmr/ops/embedding.h"

using namespace xfmr;
using test::expect_gradcheck;

namespace {
Tensor ids_of(std::initializer_list<int64_t> v, const Shape& s, DType dt = DType::i64) {
  Tensor t = Tensor::from_vector(std::span<const int64_t>(v.begin(), v.size()), s);
  return dt == DType::i64 ? t : t.converted(dt);
}
}  // namespace

TEST(EmbeddingGrad, RepeatedIds) {
  const Tensor ids = ids_of({0, 3, 3, 1, 4, 0}, {2, 3});  // repeated ids accumulate
  expect_gradcheck([&](auto& in) { return embedding(in[0], ids); }, {test::random_input({5, 4}, 1)});
  expect_gradcheck([&](auto& in) { return embedding(in[0], ids); }, {test::random_transposed_input({5, 4}, 2)});
  expect_gradcheck([&](auto& in) { return embedding(in[0], ids); }, {test::random_strided_input({5, 4}, 3)});
  const Tensor ids32 = ids_of({2, 2, 4}, {3}, DType::i32);
  expect_gradcheck([&](auto& in) { return embedding(in[0], ids32); }, {test::random_input({5, 3}, 4)});
}

TEST(Embedding, ForwardValuesAndShapes) {
  Tensor w = Tensor::arange(6, DType::f32);
  w = w.as_strided({3, 2}, {2, 1}, 0);
  Tensor out = embedding(w, ids_of({2, 0}, {1, 2}));
  EXPECT_EQ(out.shape(), (Shape{1, 2, 2}));
  EXPECT_EQ(out.to_vector(), (std::vector<double>{4, 5, 0, 1}));
  // Non-contiguous ids (a transposed view).
  Tensor ids = ids_of({0, 1, 2, 0}, {2, 2}).as_strided({2, 2}, {1, 2}, 0);
  EXPECT_EQ(embedding(w, ids).to_vector(), (std::vector<double>{0, 1, 4, 5, 2, 3, 0, 1}));
  EXPECT_EQ(embedding(w, Tensor::empty({0}, DType::i64)).shape(), (Shape{0, 2}));
}

TEST(EmbeddingParity, Torch) {
  test::ParityBatch b;
  b.add("embedding_2d", "embedding", {}, {b.randn({11, 6}), b.randint(0, 11, {3, 5})},
        [](auto& in) { return embedding(in[0], in[1]); });
  b.add("embedding_1d", "embedding", {}, {b.randn({4, 3}), b.randint(0, 4, {9})},
        [](auto& in) { return embedding(in[0], in[1]); });
  b.run();
}

TEST(EmbeddingErrors, BadInputs) {
  const Tensor w = Tensor::ones({5, 3});
  test::expect_error([&] { embedding(w, ids_of({1, 5}, {2})); }, {"embedding", "id 5", "V=5", "[5, 3]"});
  test::expect_error([&] { embedding(w, ids_of({-1}, {1})); }, {"embedding", "id -1", "V=5"});
  test::expect_error([&] { embedding(w, Tensor::ones({2})); }, {"embedding", "f32", "[2]"});
  test::expect_error([&] { embedding(Tensor::ones({5}), ids_of({1}, {1})); }, {"embedding", "[5]"});
  test::expect_error([&] { embedding(Tensor::ones({5, 3}, DType::i64), ids_of({1}, {1})); }, {"embedding", "i64"});
}
