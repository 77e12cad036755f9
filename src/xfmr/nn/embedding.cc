#include "xfmr/nn/embedding.h"

#include "xfmr/ops/embedding.h"

namespace xfmr::nn {

Embedding::Embedding(int64_t num, int64_t dim, Generator& gen, double init_std, DType dtype, bool decay) {
  XF_CHECK(num > 0 && dim > 0, "Embedding: sizes must be positive, got num=", num, " dim=", dim);
  Tensor w = Tensor::empty({num, dim}, dtype);
  normal_(w, 0.0, init_std, gen);
  weight = register_parameter("weight", w, decay);
}

Tensor Embedding::forward(const Tensor& ids) const { return embedding(weight, ids); }

}  // namespace xfmr::nn
