// Random weight matrices in a quantized storage type, for the kernel tests: N(0, 1) values quantized row by row
// with kern::quantize_rows (f32 / f16 / q8_0 / q4_0 row layout of kernels/quant_types.h).
#pragma once
#include <cstdint>
#include <random>
#include <vector>

#include "xfmr/kernels/cpu/quant.h"
#include "xfmr/kernels/quant_types.h"

namespace xfmr::test {

inline std::vector<uint8_t> random_quantized_rows(kernels::QType t, int64_t rows, int64_t cols,
                                                  std::mt19937_64& g) {
  std::normal_distribution<float> n(0, 1);
  std::vector<float> w(static_cast<size_t>(rows * cols));
  for (auto& v : w) v = n(g);
  std::vector<uint8_t> p(static_cast<size_t>(rows * kernels::qtype_row_bytes(t, cols)));
  kern::quantize_rows(t, w.data(), p.data(), rows, cols);
  return p;
}

}  // namespace xfmr::test
