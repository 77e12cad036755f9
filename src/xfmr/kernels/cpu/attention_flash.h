// Tiled ("flash") attention kernels on contiguous row-major buffers (FlashAttention, Dao et al. 2022, Alg. 1 and
// the backward of its Alg. 4 / FlashAttention-2 Alg. 2, adapted to CPU). The op layer (ops/attention.cc) checks
// shapes and handles autograd; these functions only compute.
//
// Layouts:  q, dq: [B, Hq, T, D]   k, dk: [B, Hkv, S, D]   v, dv: [B, Hkv, S, Dv]   out, dout: [B, Hq, T, Dv]
//           lse: [B, Hq, T] (contiguous)
// Each of q, k, v, out, dout, dq, dk, dv is addressed through its own FlashLayout (the element strides of its
// batch, head and row dimensions; the head-dim elements of a row are contiguous), contiguous by default. So the
// packed self-attention of a fused qkv projection reads q/k/v straight out of qkv [B, T, 3C] (row t of head h of
// q at b*T*3C + t*3C + h*D) and writes out [B, T, C] and dqkv [B, T, 3C] in place, with no head-split copies.
// Outputs must not overlap each other or the inputs.
// mask (optional) is read through `mask_strides`, the strides of the mask broadcast to [B, Hq, T, S] (0 along
// broadcast dimensions), and is added to the scaled scores. Causal: query t sees keys s <= t + (S - T).
// A query row that sees no key at all gets output 0, lse = +inf, and zero gradients.
//
// Heads that fit one tile (T, S <= 64 at the default tiles) without an additive mask take a single-tile path
// (register-blocked row products instead of per-tile GEMM calls, see the .cc); its products are f32 also when the
// matmul precision is bf16, whereas the tiled path sends its tile products through kernels/cpu/attention_gemm.h.
//
// Dropout on the attention probabilities (dropout_p > 0): out = (Z ∘ softmax(scores)) V with Z = keep / (1 - p),
// as torch's scaled_dot_product_attention(dropout_p) and nanoGPT's attn_dropout compute it. The softmax
// normaliser (and so lse) is the undropped one. The keep bit of element (b, h, t, s) is a pure function of
// (dropout_seed, b, h, t, s) (attention_dropout_keep below), so backward regenerates exactly the forward's mask
// tile by tile instead of storing a T x S matrix.
#pragma once
#include <cstdint>

namespace xfmr::kernels {

// Element strides of the batch, head and row (t) dimensions of one [B, H, T, D] operand; its D elements are
// contiguous. t == 0 means the contiguous layout {H*T*D, T*D, D}.
struct FlashLayout {
  int64_t b = 0, h = 0, t = 0;
};

struct FlashAttentionParams {
  int64_t B = 0, Hq = 0, Hkv = 0, T = 0, S = 0, D = 0, Dv = 0;
  double scale = 1.0;
  bool causal = false;
  int64_t mask_strides[4] = {0, 0, 0, 0};
  int64_t block_q = 0, block_k = 0;  // tile edges; 0 picks them from D (see flash_block_size)
  double dropout_p = 0;       // in [0, 1); 0 = no dropout (the code path is then the undropped one)
  uint64_t dropout_seed = 0;  // keys the mask (see attention_dropout_keep)
  FlashLayout q_layout, k_layout, v_layout, out_layout;     // forward and backward operands
  FlashLayout dout_layout, dq_layout, dk_layout, dv_layout;  // backward only
};

// The 32-bit threshold below which a random word drops its element: round(p * 2^32), so an element is kept with
// probability 1 - threshold / 2^32 (= 1 - p up to 2^-33).
uint32_t attention_dropout_threshold(double p);

// Four random words for keys 4*s4 .. 4*s4+3 of query row t of head h in batch b: one Philox4x32-10 block
// (core/rng.h) with counter (s4, t, h, b) and key dropout_seed. Key s uses word s % 4.
void attention_dropout_words(uint64_t seed, int64_t b, int64_t h, int64_t t, int64_t s4, uint32_t words[4]);

// Whether element (b, h, t, s) of the probability matrix is kept (not dropped) under (seed, p). The fused
// kernel, the unfused reference and tests all use this one definition.
bool attention_dropout_keep(uint64_t seed, double p, int64_t b, int64_t h, int64_t t, int64_t s);

// The default tile edge: 64, halved until one tile GEMM (edge * edge * max(D, Dv) multiply-adds) stays within
// OpenBLAS's single-thread threshold (65536 * 4; its small-matrix kernels, which the NN tile products hit, are
// single-threaded anyway), so GEMMs issued from our worker threads run on those threads. 64 x 64 measured
// fastest of {32, 64, 128}^2 at D = 64.
int64_t flash_block_size(int64_t D, int64_t Dv);

// out[B,Hq,T,Dv] (through out_layout) and lse[B,Hq,T] are written in full. `mask` may be null.
template <class T>
void flash_attention_forward(const FlashAttentionParams& p, const T* q, const T* k, const T* v, const T* mask,
                             T* out, T* lse);

// Gradients of the forward above from its saved out and lse. dq, dk, dv are written in full (not accumulated).
template <class T>
void flash_attention_backward(const FlashAttentionParams& p, const T* q, const T* k, const T* v, const T* mask,
                              const T* out, const T* lse, const T* dout, T* dq, T* dk, T* dv);

}  // namespace xfmr::kernels
