// Decoding a token (LlamaModel::forward) must not touch the heap: activations and the KV cache are allocated
// in the constructor, the q8_0 activation buffer grows once. This binary replaces the global operator new to
// count every C++ heap allocation while a flag is on (its own binary, so the replacement does not meet
// test_alloc's).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "infer/stories_data.h"
#include "xfmr/core/parallel.h"
#include "xfmr/infer/llama.h"
#include "xfmr/infer/sampler.h"
#include "xfmr/io/llama_weights.h"

namespace {
std::atomic<bool> g_counting{false};
std::atomic<int64_t> g_news{0};
void* counted_alloc(size_t n) {
  if (g_counting.load(std::memory_order_relaxed)) g_news.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
}  // namespace

void* operator new(size_t n) {
  return counted_alloc(n);
}
void* operator new[](size_t n) {
  return counted_alloc(n);
}
void* operator new(size_t n, const std::nothrow_t&) noexcept {
  return g_counting ? (g_news++, std::malloc(n)) : std::malloc(n);
}
void* operator new[](size_t n, const std::nothrow_t&) noexcept {
  return g_counting ? (g_news++, std::malloc(n)) : std::malloc(n);
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, size_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, size_t) noexcept {
  std::free(p);
}

namespace xfmr::infer {
namespace {

int64_t allocations_while_decoding(LlamaModel& m, int threads) {
  set_num_threads(threads);
  int32_t tok = 1;
  for (int64_t pos = 0; pos < 4; ++pos)
    tok = Sampler::argmax(m.forward(tok, pos), m.config().vocab_size);  // warm
  g_news = 0;
  g_counting = true;
  for (int64_t pos = 4; pos < 64; ++pos) tok = Sampler::argmax(m.forward(tok, pos), m.config().vocab_size);
  g_counting = false;
  set_num_threads(0);
  return g_news.load();
}

TEST(DecodeAlloc, ForwardAllocatesNothing) {
  LlamaModel f32(io::load_llama_weights(test::stories_bin()), 64);
  EXPECT_EQ(allocations_while_decoding(f32, 1), 0);
  io::LlamaConfig c;
  c.dim = 256, c.hidden_dim = 512, c.n_layers = 2, c.n_heads = 4, c.n_kv_heads = 2, c.vocab_size = 1000,
  c.seq_len = 64;
  for (kernels::QType t : {kernels::QType::q8_0, kernels::QType::q4_0, kernels::QType::f16}) {
    LlamaModel q(io::random_llama_weights(c, t, 1), 64);
    EXPECT_EQ(allocations_while_decoding(q, 1), 0) << kernels::qtype_name(t);
    EXPECT_EQ(allocations_while_decoding(q, 2), 0) << kernels::qtype_name(t);
  }
}

}  // namespace
}  // namespace xfmr::infer
