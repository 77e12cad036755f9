// Rotary position embedding (RoFormer, Su et al. 2021, eq. 34): each pair of features (x_a, x_b) of the row at
// position p is rotated by the angle p * inv_freq_i, with inv_freq_i = theta^(-2i / D), i = 0 .. D/2 - 1:
//   y_a = x_a cos - x_b sin,   y_b = x_a sin + x_b cos.
// The two layouts in use pair different features:
//   interleaved: pair i = (2i, 2i+1)            (Meta's Llama reference, llama2.c, GPT-J)
//   half:        pair i = (i, i + D/2)          (Hugging Face rotate_half, GPT-NeoX)
// A checkpoint's q/k weights are permuted for one layout, so loading must use the matching style.
#pragma once
#include <cstdint>

#include "xfmr/core/tensor.h"

namespace xfmr {

enum class RopeStyle { interleaved, half };

// x: [B, H, T, D] (any number of leading dims: [..., T, D]), D even -> same shape. Row t has position
// pos_offset + t (pos_offset > 0 when decoding after a KV cache). Angles are computed in f64 and rounded to x's
// dtype. Backward rotates the gradient by the negative angle. f32 and f64; x may be non-contiguous.
Tensor rope(const Tensor& x, int64_t pos_offset = 0, double theta = 10000.0, RopeStyle style = RopeStyle::half);

}  // namespace xfmr
