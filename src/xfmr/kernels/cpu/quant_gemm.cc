#include "xfmr/kernels/cpu/quant_gemm.h"

#include <cblas.h>

#include <algorithm>
#include <cstring>

#include "xfmr/core/dtype.h"
#include "xfmr/kernels/ref/quant.h"

#if defined(__F16C__)
#include <immintrin.h>
#endif

namespace xfmr::kern {

using kernels::BlockQ4_0;
using kernels::BlockQ8_0;
using kernels::kQBlock;
using kernels::QType;

namespace {

// Plain loops over one block that the compiler vectorises (int8 -> f32 conversion, the nibble split).
void dequant_q8_0(const BlockQ8_0* b, int64_t nb, float* out) {
  for (int64_t k = 0; k < nb; ++k, out += kQBlock) {
    const float d = f16_to_f32(b[k].d);
    for (int i = 0; i < kQBlock; ++i) out[i] = d * static_cast<float>(b[k].q[i]);
  }
}

void dequant_q4_0(const BlockQ4_0* b, int64_t nb, float* out) {
  for (int64_t k = 0; k < nb; ++k, out += kQBlock) {
    const float d = f16_to_f32(b[k].d);
    for (int i = 0; i < kQBlock / 2; ++i) {
      out[i] = d * static_cast<float>((b[k].qs[i] & 0xF) - 8);
      out[i + kQBlock / 2] = d * static_cast<float>((b[k].qs[i] >> 4) - 8);
    }
  }
}

void dequant_f16(const uint16_t* h, int64_t n, float* out) {
  int64_t i = 0;
#if defined(__F16C__)
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h + i))));
#endif
  for (; i < n; ++i) out[i] = f16_to_f32(h[i]);
}

}  // namespace

void dequantize_rows(QType t, const void* w, int64_t cols, int64_t r0, int64_t r1, float* out) {
  const int64_t rb = kernels::qtype_row_bytes(t, cols);
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = static_cast<const uint8_t*>(w) + r * rb;
    float* o = out + (r - r0) * cols;
    switch (t) {
      case QType::f32:
        std::memcpy(o, row, static_cast<size_t>(cols) * 4);
        break;
      case QType::f16:
        dequant_f16(reinterpret_cast<const uint16_t*>(row), cols, o);
        break;
      case QType::q8_0:
        dequant_q8_0(reinterpret_cast<const BlockQ8_0*>(row), cols / kQBlock, o);
        break;
      case QType::q4_0:
        dequant_q4_0(reinterpret_cast<const BlockQ4_0*>(row), cols / kQBlock, o);
        break;
    }
  }
}

namespace {

// out [n, rows] (ld ldy) = x [n, cols] · wt [rows, cols]^T
void sgemm_nt(const float* x, int64_t n, int64_t cols, const float* wt, int64_t rows, float* out, int64_t ldy) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(n), static_cast<int>(rows),
              static_cast<int>(cols), 1.0f, x, static_cast<int>(cols), wt, static_cast<int>(cols), 0.0f, out,
              static_cast<int>(ldy));
}

}  // namespace

void matmul_rows(QType t, const void* w, int64_t cols, const float* x, int64_t n, float* y, int64_t ldy,
                 int64_t r0, int64_t r1, float* scratch) {
  if (r1 <= r0 || n <= 0) return;
  const auto gemm = [&](const float* wt, int64_t rows, float* out) { sgemm_nt(x, n, cols, wt, rows, out, ldy); };
  if (t == QType::f32) {
    gemm(static_cast<const float*>(w) + r0 * cols, r1 - r0, y + r0);
    return;
  }
  for (int64_t a = r0; a < r1; a += kGemmTileRows) {
    const int64_t b = std::min(r1, a + kGemmTileRows);
    dequantize_rows(t, w, cols, a, b, scratch);
    gemm(scratch, b - a, y + a);
  }
}

}  // namespace xfmr::kern
