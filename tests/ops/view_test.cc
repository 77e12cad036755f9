#include <gtest/gtest.h>

#include "support/gradcheck.h"
#include "support/torch_parity.h"
#include "xfmr/ops/view.h"

using namespace xfmr;
using test::expect_gradcheck;

TEST(ViewGrad, AllViewOps) {
  expect_gradcheck([](auto& in) { return reshape(in[0], {4, 3}); }, {test::random_input({3, 4})});
  expect_gradcheck([](auto& in) { return reshape(in[0], {12}); }, {test::random_transposed_input({3, 4})});
  expect_gradcheck([](auto& in) { return transpose(in[0], 0, 2); }, {test::random_input({2, 3, 4})});
  expect_gradcheck([](auto& in) { return permute(in[0], {2, 0, 1}); }, {test::random_input({2, 3, 4})});
  expect_gradcheck([](auto& in) { return slice(in[0], 1, 1, 4, 2); }, {test::random_input({2, 5, 3})});
  expect_gradcheck([](auto& in) { return select(in[0], 0, 1); }, {test::random_transposed_input({3, 4})});
  expect_gradcheck([](auto& in) { return expand(in[0], {2, 3, 4}); }, {test::random_input({3, 1})});
  expect_gradcheck([](auto& in) { return unsqueeze(squeeze(in[0], 1), -1); }, {test::random_input({3, 1, 2})});
  expect_gradcheck([](auto& in) { return contiguous(in[0]); }, {test::random_transposed_input({3, 4})});
  expect_gradcheck([](auto& in) { return sum_to(in[0], {1, 4}); }, {test::random_input({2, 3, 4})});
  expect_gradcheck([](auto& in) { return flatten(in[0], 1); }, {test::random_input({2, 3, 4})});
}

TEST(ViewParity, Torch) {
  test::ParityBatch b;
  b.add("reshape", "reshape", {{"shape", {6, 4}}}, {b.randn({2, 3, 4})}, [](auto& in) { return reshape(in[0], {6, 4}); });
  b.add("transpose", "transpose", {{"dim0", 0}, {"dim1", 2}}, {b.randn({2, 3, 4})},
        [](auto& in) { return transpose(in[0], 0, 2); });
  b.add("permute", "permute", {{"dims", {1, 2, 0}}}, {b.randn({2, 3, 4})}, [](auto& in) { return permute(in[0], {1, 2, 0}); });
  b.add("slice", "slice", {{"dim", 1}, {"start", 1}, {"length", 4}, {"step", 2}}, {b.randn({2, 6})},
        [](auto& in) { return slice(in[0], 1, 1, 5, 2); });
  b.add("expand", "expand", {{"shape", {5, 3, 4}}}, {b.randn({3, 1})}, [](auto& in) { return expand(in[0], {5, 3, 4}); });
  b.run();
}
