// Token (or position) embedding table: a [num, dim] weight read by row (ops/embedding.h).
#pragma once
#include "xfmr/core/rng.h"
#include "xfmr/nn/module.h"

namespace xfmr::nn {

class Embedding : public Module {
 public:
  // weight ~ N(0, init_std²); `decay` = whether weight decay applies (nanoGPT decays every 2-D tensor).
  Embedding(int64_t num, int64_t dim, Generator& gen, double init_std = 0.02, DType dtype = DType::f32,
            bool decay = true);
  // ids: i64/i32 [...] -> [..., dim]
  Tensor forward(const Tensor& ids) const;
  Tensor weight;  // [num, dim]
};

}  // namespace xfmr::nn
