// Scalar reference for the inference weight kernels of kernels/cpu/quant.h: quantize, dequantize and the
// matrix-vector product for f32 / f16 / q8_0 / q4_0 rows (layouts in kernels/quant_types.h). The scales are
// rounded to f16 *before* the codes are chosen, and rounded up in magnitude (the next f16 when
// round-to-nearest went below), so every element lies within the codes' range under the scale actually stored
// and a round trip errs by at most d/2 per element (q8_0; q4_0 see below), even for scales in f16's subnormal
// range, where round-to-nearest alone could shrink d by a large fraction (or to 0) and clamp the block's
// largest elements.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "xfmr/core/dtype.h"
#include "xfmr/kernels/quant_types.h"

namespace xfmr::kernels::ref {

inline float load_f16(const void* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return f16_to_f32(h);
}

// v rounded (by `round`) and clamped to [lo, hi]; NaN (from inf or NaN inputs) gives 0 rather than an
// undefined float-to-int conversion.
template <class Round>
inline int code_of(float v, float lo, float hi, Round round) {
  if (!(v == v)) return 0;
  return static_cast<int>(std::clamp(round(v), lo, hi));
}

// The smallest f16 (as bits) whose value is >= v, for finite v >= 0 below f16's largest value.
inline uint16_t f16_at_least(float v) {
  uint16_t h = f32_to_f16(v);
  if (f16_to_f32(h) < v) ++h;  // positive f16 bit patterns are ordered like their values
  return h;
}

// q8_0: d = max|x| / 127 (rounded up to an f16), q = round(x / d) clamped to [-127, 127].
inline void quantize_row_q8_0(const float* x, BlockQ8_0* out, int64_t n) {
  for (int64_t b = 0; b < n / kQBlock; ++b) {
    const float* xb = x + b * kQBlock;
    float amax = 0;
    for (int i = 0; i < kQBlock; ++i) amax = std::max(amax, std::fabs(xb[i]));
    const uint16_t dh = f16_at_least(amax / 127.0f);
    const float d = f16_to_f32(dh);
    const float id = d != 0 ? 1.0f / d : 0.0f;
    out[b].d = dh;
    for (int i = 0; i < kQBlock; ++i)
      out[b].q[i] = static_cast<int8_t>(
          code_of(xb[i] * id, -127.0f, 127.0f, [](float v) { return std::nearbyint(v); }));
  }
}

// q4_0 (GGML's scheme): the element m of largest magnitude maps to code 0, i.e. d = m / -8 (its magnitude
// rounded up to an f16); q = floor(x / d + 8.5) clamped to [0, 15], value (q - 8) * d. Every element with x/d
// <= 7.5 errs by at most |d|/2; an element of the opposite sign to m with x/d in (7.5, 8] is clamped to code
// 15 and errs by at most |d|.
inline void quantize_row_q4_0(const float* x, BlockQ4_0* out, int64_t n) {
  for (int64_t b = 0; b < n / kQBlock; ++b) {
    const float* xb = x + b * kQBlock;
    float amax = 0, m = 0;
    for (int i = 0; i < kQBlock; ++i)
      if (std::fabs(xb[i]) > amax) {
        amax = std::fabs(xb[i]);
        m = xb[i];
      }
    const uint16_t dh = static_cast<uint16_t>(f16_at_least(std::fabs(m) / 8.0f) | (m > 0 ? 0x8000u : 0u));
    const float d = f16_to_f32(dh);
    const float id = d != 0 ? 1.0f / d : 0.0f;
    out[b].d = dh;
    for (int i = 0; i < kQBlock / 2; ++i) {
      const auto code = [&](float v) {
        return static_cast<uint8_t>(
            code_of(v * id + 8.5f, 0.0f, 15.0f, [](float u) { return std::floor(u); }));
      };
      out[b].qs[i] = static_cast<uint8_t>(code(xb[i]) | (code(xb[i + kQBlock / 2]) << 4));
    }
  }
}

// Quantizes n floats into `out` (qtype_row_bytes(t, n) bytes).
inline void quantize_row(QType t, const float* x, void* out, int64_t n) {
  switch (t) {
    case QType::f32:
      std::memcpy(out, x, static_cast<size_t>(n) * 4);
      break;
    case QType::f16:
      for (int64_t i = 0; i < n; ++i) {
        const uint16_t h = f32_to_f16(x[i]);
        std::memcpy(static_cast<uint8_t*>(out) + 2 * i, &h, 2);
      }
      break;
    case QType::q8_0:
      quantize_row_q8_0(x, static_cast<BlockQ8_0*>(out), n);
      break;
    case QType::q4_0:
      quantize_row_q4_0(x, static_cast<BlockQ4_0*>(out), n);
      break;
  }
}

// Element i of a row stored as type t.
inline float dequantize_elem(QType t, const void* row, int64_t i) {
  const auto* p = static_cast<const uint8_t*>(row);
  switch (t) {
    case QType::f32: {
      float v;
      std::memcpy(&v, p + 4 * i, 4);
      return v;
    }
    case QType::f16:
      return load_f16(p + 2 * i);
    case QType::q8_0: {
      const auto* b = p + (i / kQBlock) * sizeof(BlockQ8_0);
      return load_f16(b) * static_cast<float>(static_cast<int8_t>(b[2 + i % kQBlock]));
    }
    case QType::q4_0: {
      const auto* b = p + (i / kQBlock) * sizeof(BlockQ4_0);
      const int64_t j = i % kQBlock;
      const int nib = j < kQBlock / 2 ? (b[2 + j] & 0xF) : (b[2 + j - kQBlock / 2] >> 4);
      return load_f16(b) * static_cast<float>(nib - 8);
    }
  }
  return 0;
}

inline void dequantize_row(QType t, const void* row, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = dequantize_elem(t, row, i);
}

// y[r] = Σ_c W[r, c] x[c] for W [rows, cols] stored row by row as type t; accumulates in T.
template <class T>
void matvec(QType t, const void* w, const float* x, float* y, int64_t rows, int64_t cols) {
  const int64_t rb = qtype_row_bytes(t, cols);
  for (int64_t r = 0; r < rows; ++r) {
    const void* row = static_cast<const uint8_t*>(w) + r * rb;
    T s = 0;
    for (int64_t c = 0; c < cols; ++c) s += static_cast<T>(dequantize_elem(t, row, c)) * static_cast<T>(x[c]);
    y[r] = static_cast<float>(s);
  }
}

// The integer path for block weights (llama.cpp's scheme): x is first quantized to q8_0 blocks
// (quantize_row_q8_0), then y[r] = Σ_b d_w,b · d_x,b · Σ_i c_w,bi · q_x,bi, the inner sums exact in integers,
// where c_w is the q8_0 code or the q4_0 nibble - 8. Accumulates the block terms in T. t must be q8_0 or
// q4_0, cols a multiple of 32.
template <class T>
void matvec_q8_activations(QType t, const void* w, const float* x, float* y, int64_t rows, int64_t cols) {
  const int64_t nb = cols / kQBlock, rb = qtype_row_bytes(t, cols);
  std::vector<BlockQ8_0> xq(static_cast<size_t>(nb));
  quantize_row_q8_0(x, xq.data(), cols);
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t* row = static_cast<const uint8_t*>(w) + r * rb;
    T s = 0;
    for (int64_t b = 0; b < nb; ++b) {
      const uint8_t* blk = row + b * qtype_block_bytes(t);
      // int64 accumulation on purpose: GCC 12.2 with -march=native (AVX512-VNNI) vectorises an int32 sum of
      // int8(uint8 byte) * int8 products as a mixed-sign dot product and treats the re-signed bytes as
      // unsigned, giving wrong sums (seen here: -4006 instead of -7078 for one block); widening to int64
      // avoids the pattern.
      int64_t dot = 0;
      for (int64_t i = 0; i < kQBlock; ++i) {
        const int32_t c = t == QType::q8_0 ? static_cast<int8_t>(blk[2 + i])
                                           : (i < 16 ? (blk[2 + i] & 0xF) : (blk[2 + i - 16] >> 4)) - 8;
        dot += static_cast<int64_t>(c) * xq[static_cast<size_t>(b)].q[i];
      }
      s += static_cast<T>(load_f16(blk)) * static_cast<T>(f16_to_f32(xq[static_cast<size_t>(b)].d)) *
           static_cast<T>(dot);
    }
    y[r] = static_cast<float>(s);
  }
}

}  // namespace xfmr::kernels::ref
