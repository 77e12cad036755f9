// Element types. f32 trains, f64 checks gradients, bf16/f16 store weights, i32/i64 hold indices.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "xfmr/core/check.h"

namespace xfmr {

enum class DType : uint8_t { f32, f64, bf16, f16, i32, i64 };

constexpr size_t dtype_size(DType t) {
  switch (t) {
    case DType::f32: return 4;
    case DType::f64: return 8;
    case DType::bf16: return 2;
    case DType::f16: return 2;
    case DType::i32: return 4;
    case DType::i64: return 8;
  }
  return 0;
}

constexpr const char* dtype_name(DType t) {
  switch (t) {
    case DType::f32: return "f32";
    case DType::f64: return "f64";
    case DType::bf16: return "bf16";
    case DType::f16: return "f16";
    case DType::i32: return "i32";
    case DType::i64: return "i64";
  }
  return "?";
}

constexpr bool dtype_is_float(DType t) {
  return t == DType::f32 || t == DType::f64 || t == DType::bf16 || t == DType::f16;
}
constexpr bool dtype_is_int(DType t) { return t == DType::i32 || t == DType::i64; }

// The dtype of a C++ element type, for typed accessors.
template <class T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::f32; }
template <> constexpr DType dtype_of<double>() { return DType::f64; }
template <> constexpr DType dtype_of<int32_t>() { return DType::i32; }
template <> constexpr DType dtype_of<int64_t>() { return DType::i64; }

// bf16: the top 16 bits of an f32, rounded to nearest even; NaN stays NaN.
inline uint16_t f32_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}
inline float bf16_to_f32(uint16_t h) {
  uint32_t u = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// IEEE 754 binary16, round to nearest even, with subnormals, infinities and NaN.
uint16_t f32_to_f16(float f);
float f16_to_f32(uint16_t h);

// Calls fn.template operator()<T>() with T = float or double for the floating compute dtypes; throws otherwise.
#define XF_DISPATCH_FLOAT(dtype, opname, ...)                                                        \
  [&] {                                                                                              \
    switch (dtype) {                                                                                 \
      case ::xfmr::DType::f32: { using scalar_t = float; return __VA_ARGS__(); }                      \
      case ::xfmr::DType::f64: { using scalar_t = double; return __VA_ARGS__(); }                     \
      default:                                                                                       \
        throw ::xfmr::Error(::xfmr::detail::concat(opname, ": unsupported dtype ",                  \
                                                   ::xfmr::dtype_name(dtype), " (expected f32 or f64)")); \
    }                                                                                                \
  }()

}  // namespace xfmr
