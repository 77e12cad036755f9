// Tiled ("flash") attention kernels on contiguous row-major buffers (FlashAttention, Dao et al. 2022, Alg. 1 and
// the backward of its Alg. 4 / FlashAttention-2 Alg. 2, adapted to CPU). The op layer (ops/attention.cc) checks
// shapes and handles autograd; these functions only compute.
//
// Layouts (all contiguous):  q, dq: [B, Hq, T, D]   k, dk: [B, Hkv, S, D]   v, dv: [B, Hkv, S, Dv]
//                            out, dout: [B, Hq, T, Dv]   lse, delta: [B, Hq, T]
// mask (optional) is read through `mask_strides`, the strides of the mask broadcast to [B, Hq, T, S] (0 along
// broadcast dimensions), and is added to the scaled scores. Causal: query t sees keys s <= t + (S - T).
// A query row that sees no key at all gets output 0, lse = +inf, and zero gradients.
#pragma once
#include <cstdint>

namespace xfmr::kernels {

struct FlashAttentionParams {
  int64_t B = 0, Hq = 0, Hkv = 0, T = 0, S = 0, D = 0, Dv = 0;
  double scale = 1.0;
  bool causal = false;
  int64_t mask_strides[4] = {0, 0, 0, 0};
  int64_t block_q = 0, block_k = 0;  // tile edges; 0 picks them from D (see flash_block_size)
};

// The default tile edge: 64, halved until one tile GEMM (edge * edge * max(D, Dv) multiply-adds) stays within
// OpenBLAS's single-thread threshold (65536 * 4; its small-matrix kernels, which the NN tile products hit, are
// single-threaded anyway), so GEMMs issued from our worker threads run on those threads. 64 x 64 measured
// fastest of {32, 64, 128}^2 at D = 64.
int64_t flash_block_size(int64_t D, int64_t Dv);

// out[B,Hq,T,Dv] and lse[B,Hq,T] are written in full. `mask` may be null.
template <class T>
void flash_attention_forward(const FlashAttentionParams& p, const T* q, const T* k, const T* v, const T* mask,
                             T* out, T* lse);

// Gradients of the forward above from its saved out and lse. dq, dk, dv are written in full (not accumulated).
template <class T>
void flash_attention_backward(const FlashAttentionParams& p, const T* q, const T* k, const T* v, const T* mask,
                              const T* out, const T* lse, const T* dout, T* dq, T* dk, T* dv);

}  // namespace xfmr::kernels
