// Counter-based random numbers (Philox4x32-10, Salmon et al. 2011, "Parallel random numbers: as easy as 1, 2, 3").
// Element i of a draw depends only on (seed, stream offset, i), never on the thread that computes it, so the same
// seed gives bit-identical tensors for any thread count. Each draw advances the generator's offset.
#pragma once
#include <array>
#include <cstdint>

#include "xfmr/core/tensor.h"

namespace xfmr {

// One Philox4x32-10 block: 4 random 32-bit words for a 128-bit counter and a 64-bit key.
std::array<uint32_t, 4> philox4x32(std::array<uint32_t, 4> counter, std::array<uint32_t, 2> key);

class Generator {
 public:
  explicit Generator(uint64_t seed = 0) : seed_(seed) {}
  uint64_t seed() const { return seed_; }
  uint64_t offset() const { return offset_; }
  void set_state(uint64_t seed, uint64_t offset) {
    seed_ = seed;
    offset_ = offset;
  }
  // Reserves n blocks of the stream and returns the first block's index.
  uint64_t advance(uint64_t blocks) {
    const uint64_t o = offset_;
    offset_ += blocks;
    return o;
  }
  // One block of 4 words at an absolute block index.
  std::array<uint32_t, 4> block(uint64_t index) const;

  // Scalar draws (each consumes one block; for loops on one thread, e.g. data generation).
  double next_uniform();           // [0, 1)
  double next_normal();            // N(0, 1)
  uint64_t next_u64();
  int64_t next_int(int64_t n);     // uniform in [0, n), unbiased

 private:
  uint64_t seed_;
  uint64_t offset_ = 0;
};

// The process-wide default generator (seeded by manual_seed).
Generator& default_generator();
void manual_seed(uint64_t seed);

// In-place fills; f32 or f64 unless noted.
void uniform_(Tensor& t, double lo, double hi, Generator& g = default_generator());
void normal_(Tensor& t, double mean, double std, Generator& g = default_generator());
void bernoulli_(Tensor& t, double p, Generator& g = default_generator());  // 1 with probability p, else 0
void randint_(Tensor& t, int64_t lo, int64_t hi, Generator& g = default_generator());  // i32/i64/f32/f64

// New tensors.
Tensor randn(const Shape& s, DType dt = DType::f32, Generator& g = default_generator());
Tensor rand(const Shape& s, DType dt = DType::f32, Generator& g = default_generator());
Tensor randint(int64_t lo, int64_t hi, const Shape& s, DType dt = DType::i64, Generator& g = default_generator());
Tensor randperm(int64_t n, Generator& g = default_generator());  // i64

}  // namespace xfmr
