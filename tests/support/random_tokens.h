// n token ids drawn uniformly from [0, vocab) by a seeded std::mt19937_64: prompts for decoder tests.
#pragma once
#include <cstdint>
#include <random>
#include <vector>

namespace xfmr::test {

inline std::vector<int32_t> random_tokens(int64_t n, uint64_t seed, int64_t vocab) {
  std::mt19937_64 g(seed);
  std::vector<int32_t> t(static_cast<size_t>(n));
  for (auto& v : t) v = static_cast<int32_t>(g() % static_cast<uint64_t>(vocab));
  return t;
}

}  // namespace xfmr::test
