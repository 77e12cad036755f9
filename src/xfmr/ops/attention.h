// Scaled dot-product attention, fused and tiled (FlashAttention, Dao et al. 2022, adapted to CPU).
//
//   q: [B, Hq, T, D]   k: [B, Hkv, S, D]   v: [B, Hkv, S, Dv]   ->   out: [B, Hq, T, Dv]
//   out = softmax(scale * q kᵀ + mask) v, row-wise over the S keys.
//
// - Grouped-query attention: Hq % Hkv == 0 and query head h reads kv head h / (Hq / Hkv) (Hkv == Hq is MHA,
//   Hkv == 1 is MQA).
// - causal: query t attends keys s <= t + (S - T), i.e. the mask is aligned to the *end* of the keys, so a
//   decoder that passes T new queries against S cached keys gets the usual lower-triangular pattern.
// - mask: optional ADDITIVE float mask of the inputs' dtype, broadcastable to [B, Hq, T, S] (e.g. [T, S],
//   [B, 1, 1, S]); it is added to the scaled scores. Use 0 to keep a key and -inf to block it (finite values act
//   as a bias, e.g. ALiBi). Combined with `causal` by intersection. The mask receives no gradient: passing a
//   mask that requires grad is an error.
// - A query row that can see no key at all (fully blocked by mask/causal, e.g. t < T - S when causal and T > S)
//   outputs 0 and passes no gradient, instead of PyTorch's NaN.
// - scale: 0 means 1 / sqrt(D).
// - dropout_p > 0: dropout on the attention probabilities, out = (Z ∘ softmax(...)) v with Z = keep / (1 - p)
//   (torch's scaled_dot_product_attention(dropout_p), nanoGPT's attn_dropout). Element (b, h, t, s) is kept iff
//   kernels::attention_dropout_keep(dropout_seed, dropout_p, b, h, t, s) (kernels/cpu/attention_flash.h): the
//   mask is a function of the seed, never stored, and backward regenerates it. The caller applies it only in
//   training (pass dropout_p = 0 in eval) and draws a fresh dropout_seed per call (e.g. Generator::next_u64).
// Inputs may be non-contiguous: the kernel reads any [B, H, T, D] strides whose D elements are contiguous (e.g. a
// [B, T, H, D] projection transposed to [B, H, T, D]) in place; other layouts are copied once. f32 and f64.
//
// Memory: the forward keeps only out and the per-row logsumexp [B, Hq, T] for backward, never a T x S matrix;
// backward recomputes scores tile by tile. See kernels/cpu/attention_flash.h for the algorithm.
#pragma once
#include <cstdint>

#include "xfmr/core/tensor.h"

namespace xfmr {

struct AttentionOptions {
  bool causal = false;
  Tensor mask;         // additive, broadcastable to [B, Hq, T, S]; undefined = none
  double scale = 0;    // 0 -> 1 / sqrt(D)
  // Tile edges of the fused kernel (query rows, key columns); 0 picks a default from D. Results do not depend on
  // them beyond rounding; tests set small tiles to exercise partial tiles.
  int64_t block_q = 0, block_k = 0;
  double dropout_p = 0;       // in [0, 1)
  uint64_t dropout_seed = 0;  // keys the dropout mask
};

Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                    const AttentionOptions& opt = {});

// Multi-head self-attention over the packed output of a fused q/k/v projection (GPT-2's c_attn):
//   qkv: [B, T, 3*C] = (q | k | v) along the last dim, each of C = n_head * D split into heads  ->  [B, T, C]
// with the heads concatenated again, i.e. the same as
//   q, k, v = split(qkv, C, -1) viewed as [B, T, H, D] and transposed to [B, H, T, D];
//   out = transpose(scaled_dot_product_attention(q, k, v, {causal}), 1, 2) reshaped to [B, T, C]
// (scale 1 / sqrt(D)), computed by the same kernel reading q, k, v in place from qkv and writing the merged heads
// straight into the [B, T, C] output (no head-split or merge copies), and a backward that reads dout in place
// and writes d(qkv) in one buffer instead of three zero-padded slices that autograd then sums.
// qkv may be non-contiguous. f32 and f64. dropout_p / dropout_seed: attention-probability dropout as in
// AttentionOptions (keyed by batch b and head h of the [B, H, T, D] split).
Tensor packed_self_attention(const Tensor& qkv, int64_t n_head, bool causal, double dropout_p = 0,
                             uint64_t dropout_seed = 0);

}  // namespace xfmr
