// A training step must not touch the heap once the optimizer exists: step(), zero_grad() and clip_grad_norm
// are run while every global operator new variant is counted (replaced below for this test binary; counting
// is only on inside the measured region) and while the caching allocator's system_allocs is watched.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <vector>

#include "xfmr/core/allocator.h"
#include "xfmr/core/rng.h"
#include "xfmr/nn/module.h"
#include "xfmr/train/clip.h"
#include "xfmr/train/optimizer.h"

namespace {
std::atomic<bool> g_counting{false};
std::atomic<int64_t> g_news{0};

void* counted_alloc(std::size_t n, std::size_t align = 0) {
  if (g_counting.load(std::memory_order_relaxed)) g_news.fetch_add(1, std::memory_order_relaxed);
  if (n == 0) n = 1;
  void* p;
  if (align > alignof(std::max_align_t))
    p = std::aligned_alloc(align, (n + align - 1) / align * align);
  else
    p = std::malloc(n);
  return p;
}
void* counted_alloc_or_throw(std::size_t n, std::size_t align = 0) {
  void* p = counted_alloc(n, align);
  if (!p) throw std::bad_alloc();
  return p;
}
// Out of line: once inlined into a delete-expression, GCC's -Wmismatched-new-delete sees free() meet a
// pointer from operator new and warns, although this file's operator new does return malloc'ed memory.
[[gnu::noinline]] void counted_free(void* p) noexcept {
  std::free(p);
}
}  // namespace

// Every replaceable allocation function (C++17): plain, array, aligned, nothrow. All deallocations use free.
void* operator new(std::size_t n) {
  return counted_alloc_or_throw(n);
}
void* operator new[](std::size_t n) {
  return counted_alloc_or_throw(n);
}
void* operator new(std::size_t n, std::align_val_t a) {
  return counted_alloc_or_throw(n, static_cast<size_t>(a));
}
void* operator new[](std::size_t n, std::align_val_t a) {
  return counted_alloc_or_throw(n, static_cast<size_t>(a));
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  return counted_alloc(n);
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  return counted_alloc(n);
}
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return counted_alloc(n, static_cast<size_t>(a));
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return counted_alloc(n, static_cast<size_t>(a));
}
void operator delete(void* p) noexcept {
  counted_free(p);
}
void operator delete[](void* p) noexcept {
  counted_free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  counted_free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  counted_free(p);
}
void operator delete(void* p, std::align_val_t) noexcept {
  counted_free(p);
}
void operator delete[](void* p, std::align_val_t) noexcept {
  counted_free(p);
}
void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
  counted_free(p);
}
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept {
  counted_free(p);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
  counted_free(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
  counted_free(p);
}
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  counted_free(p);
}
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  counted_free(p);
}

using namespace xfmr;

namespace {

// Counts heap traffic over `f`: operator new calls and caching-allocator misses.
struct HeapCount {
  int64_t news = 0, system_allocs = 0;
};
template <class F>
HeapCount count_heap(F&& f) {
  const int64_t sys0 = alloc_stats().system_allocs;
  g_news = 0;
  g_counting = true;
  f();
  g_counting = false;
  return {g_news.load(), alloc_stats().system_allocs - sys0};
}

// A model-like parameter set: f32 matrices (one above the threaded-path threshold), f64 ones, no-decay
// vectors.
struct Params : Module {
  Params() {
    Generator g(5);
    register_parameter("emb", randn({256, 160}, DType::f32, g));  // 40960 elements: multi-threaded loops
    register_parameter("w", randn({16, 16}, DType::f32, g));
    register_parameter("ln", randn({16}, DType::f32, g), false);
    register_parameter("w64", randn({8, 8}, DType::f64, g));
    register_parameter("b64", randn({8}, DType::f64, g), false);
    register_parameter("unused", randn({4}, DType::f32, g));  // never gets a gradient: skipped
    Generator gg(6);
    for (auto& p : named_parameters())
      if (p.name != "unused") p.tensor.set_grad(randn(p.tensor.shape(), p.tensor.dtype(), gg));
  }
};

}  // namespace

TEST(NoHeapInStep, CounterSeesAllocations) {
  static std::vector<int>* volatile sink;
  const HeapCount c = count_heap([] {
    sink = new std::vector<int>(100);
    delete sink;
  });
  EXPECT_GE(c.news, 2);                                             // the vector object and its buffer
  const HeapCount t = count_heap([] { Tensor::empty({123457}); });  // a fresh size: a cache miss
  EXPECT_GE(t.system_allocs, 1);
}

TEST(NoHeapInStep, OptimizersClipAndZeroGrad) {
  Params m;
  const std::vector<Tensor> plist = m.parameters();
  const auto named = m.named_parameters();
  SGD sgd(named, 0.01, 0.9, 0, true, 0.01);
  Adam adam(named, 1e-3, 0.9, 0.999, 1e-8, 0.01);
  AdamW adamw(named, 1e-3, 0.9, 0.95, 1e-8, 0.1);
  std::vector<Optimizer*> opts = {&sgd, &adam, &adamw};
  for (Optimizer* opt : opts) {
    SCOPED_TRACE(opt->name());
    // Includes the first step, which initialises the momentum buffers in place.
    const HeapCount c = count_heap([&] {
      for (int s = 0; s < 3; ++s) {
        opt->lr *= 0.9;
        opt->step();
      }
    });
    EXPECT_EQ(c.news, 0) << "operator new calls during step()";
    EXPECT_EQ(c.system_allocs, 0) << "caching-allocator misses during step()";
    EXPECT_EQ(opt->step_count(), 3);
  }
  const HeapCount c = count_heap([&] {
    double n = grad_norm(plist);
    n += clip_grad_norm(plist, 1e-3);  // clips (the norm is far above 1e-3)
    (void)n;
    adamw.zero_grad();
    m.zero_grad();
  });
  EXPECT_EQ(c.news, 0) << "operator new calls in clip_grad_norm / zero_grad";
  EXPECT_EQ(c.system_allocs, 0);
}
