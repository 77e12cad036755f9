// Unfused scaled dot-product attention: the oracle for the fused kernel (ops/attention.h) and its peer in
// bench/bench_attention.cc. Same arguments, conventions and errors as scaled_dot_product_attention, but it
// materialises the scores and softmax probabilities P [B, Hq, T, S] with whole-head GEMMs and keeps P for the
// backward, so it costs O(T * S) memory per head.
#pragma once
#include "xfmr/ops/attention.h"

namespace xfmr {

// q: [B, Hq, T, D], k: [B, Hkv, S, D], v: [B, Hkv, S, Dv] -> [B, Hq, T, Dv]  (opt.block_q/block_k are ignored)
Tensor attention_reference(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& opt = {});

}  // namespace xfmr
