// A steady-state training step (forward, backward, gradient clipping, AdamW) must not touch the heap:
// tensors come from the caching allocator, graph nodes from the small-object pool, and the engine reuses its
// buffers. This binary replaces the global operator new to count every C++ heap allocation while a flag is on.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <new>

#include "xfmr/core/allocator.h"
#include "xfmr/core/rng.h"
#include "xfmr/kernels/cpu/gemm_blas.h"
#include "xfmr/nn/linear.h"
#include "xfmr/nn/lstm.h"
#include "xfmr/nn/transformer_block.h"
#include "xfmr/ops/elementwise.h"
#include "xfmr/ops/loss.h"
#include "xfmr/ops/reduce.h"
#include "xfmr/ops/view.h"
#include "xfmr/train/clip.h"
#include "xfmr/train/optimizer.h"

namespace {
std::atomic<bool> g_counting{false};
std::atomic<int64_t> g_news{0};
void* counted_alloc(size_t n) {
  if (g_counting.load(std::memory_order_relaxed)) g_news.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
}  // namespace

void* operator new(size_t n) { return counted_alloc(n); }
void* operator new[](size_t n) { return counted_alloc(n); }
void* operator new(size_t n, const std::nothrow_t&) noexcept { return g_counting ? (g_news++, std::malloc(n)) : std::malloc(n); }
void* operator new[](size_t n, const std::nothrow_t&) noexcept { return g_counting ? (g_news++, std::malloc(n)) : std::malloc(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }

using namespace xfmr;

namespace {
// Two GPT blocks with a read-in and a scalar read-out, as in the ICL model.
struct TinyModel : Module {
  TinyModel(Generator& g) : read_in(5, 32, true, g), b1(32, 4, 2, g), b2(32, 4, 2, g), read_out(32, 1, true, g) {
    register_module("read_in", read_in);
    register_module("b1", b1);
    register_module("b2", b2);
    register_module("read_out", read_out);
  }
  Tensor forward(const Tensor& x) const { return read_out.forward(b2.forward(b1.forward(read_in.forward(x)))); }
  nn::Linear read_in;
  nn::PreLNBlock b1, b2;
  nn::Linear read_out;
};
}  // namespace

namespace {
// Three warm-up steps (caches fill), then three counted ones: no operator new, no tensor buffer missing the cache.
void expect_steady_state_step_allocates_nothing(Module& model, const std::function<Tensor(const Tensor&)>& forward,
                                                Generator& g, const char* what) {
  AdamW opt(model.named_parameters(), 1e-3, 0.9, 0.999, 1e-8, 0.01);
  const std::vector<Tensor> params = model.parameters();
  Tensor x = Tensor::empty({8, 22, 5}), y = Tensor::empty({8, 22, 1});
  auto step = [&] {
    normal_(x, 0.0, 1.0, g);
    normal_(y, 0.0, 1.0, g);
    opt.zero_grad();
    Tensor loss = mse_loss(forward(x), y);
    loss.backward();
    clip_grad_norm(params, 1.0);
    opt.step();
    return loss.item();
  };
  for (int i = 0; i < 3; ++i) step();
  const int64_t sys_before = alloc_stats().system_allocs;
  g_news = 0;
  g_counting = true;
  double l = 0;
  for (int i = 0; i < 3; ++i) l += step();
  g_counting = false;
  EXPECT_TRUE(std::isfinite(l)) << what;
  EXPECT_EQ(g_news.load(), 0) << "operator new calls during steady-state steps: " << what;
  EXPECT_EQ(alloc_stats().system_allocs - sys_before, 0) << "tensor buffers that missed the cache: " << what;
}
}  // namespace

TEST(Allocation, SteadyStateTrainingStepAllocatesNothing) {
  Generator g(0);
  TinyModel model(g);
  expect_steady_state_step_allocates_nothing(model, [&](const Tensor& x) { return model.forward(x); }, g, "f32");
}

TEST(Allocation, SteadyStateBf16TrainingStepAllocatesNothing) {
  // The bf16 GEMM packs operands into per-thread buffers that grow during warm-up and are then reused.
  const MatmulPrecision old = matmul_precision();
  set_matmul_precision(MatmulPrecision::bf16);
  Generator g(0);
  TinyModel model(g);
  expect_steady_state_step_allocates_nothing(model, [&](const Tensor& x) { return model.forward(x); }, g, "bf16");
  set_matmul_precision(old);
}

TEST(Allocation, SteadyStateLstmTrainingStepAllocatesNothing) {
  // The ICL attention-free baseline: 22 time steps through two LSTM layers (backpropagation through time).
  struct LstmModel : Module {
    explicit LstmModel(Generator& g) : lstm(5, 16, 2, g), read_out(16, 1, true, g) {
      register_module("lstm", lstm);
      register_module("read_out", read_out);
    }
    nn::Lstm lstm;
    nn::Linear read_out;
  };
  Generator g(0);
  LstmModel model(g);
  expect_steady_state_step_allocates_nothing(
      model, [&](const Tensor& x) { return model.read_out.forward(model.lstm.forward(x)); }, g, "lstm");
}
