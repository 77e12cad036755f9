#include "xfmr/core/allocator.h"

#include <cstdlib>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

namespace xfmr {
namespace {

struct BufferCache {
  std::mutex mu;
  std::unordered_map<size_t, std::vector<void*>> free_blocks;  // exact rounded size -> blocks
  AllocStats stats;
};
BufferCache& buffer_cache() {
  static BufferCache* c = new BufferCache;  // never destroyed: tensors may outlive static destructors
  return *c;
}

size_t round_buffer(size_t n) { return ((n ? n : 1) + 63) & ~size_t{63}; }

constexpr size_t kSmallClass = 16;
constexpr size_t kSmallMax = 4096;
struct SmallPool {
  std::mutex mu;
  void* heads[kSmallMax / kSmallClass + 1] = {};
};
SmallPool& small_pool() {
  static SmallPool* p = new SmallPool;
  return *p;
}

}  // namespace

void* buffer_alloc(size_t nbytes) {
  const size_t n = round_buffer(nbytes);
  auto& c = buffer_cache();
  {
    std::lock_guard<std::mutex> lock(c.mu);
    c.stats.bytes_in_use += static_cast<int64_t>(n);
    if (c.stats.bytes_in_use > c.stats.peak_bytes_in_use) c.stats.peak_bytes_in_use = c.stats.bytes_in_use;
    auto it = c.free_blocks.find(n);
    if (it != c.free_blocks.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      c.stats.bytes_cached -= static_cast<int64_t>(n);
      return p;
    }
    c.stats.system_allocs++;
  }
  void* p = std::aligned_alloc(64, n);
  if (!p) throw std::bad_alloc();
  return p;
}

void buffer_free(void* p, size_t nbytes) {
  if (!p) return;
  const size_t n = round_buffer(nbytes);
  auto& c = buffer_cache();
  std::lock_guard<std::mutex> lock(c.mu);
  c.stats.bytes_in_use -= static_cast<int64_t>(n);
  c.stats.bytes_cached += static_cast<int64_t>(n);
  c.free_blocks[n].push_back(p);
}

AllocStats alloc_stats() {
  auto& c = buffer_cache();
  std::lock_guard<std::mutex> lock(c.mu);
  return c.stats;
}

void reset_peak_bytes() {
  auto& c = buffer_cache();
  std::lock_guard<std::mutex> lock(c.mu);
  c.stats.peak_bytes_in_use = c.stats.bytes_in_use;
}

void release_cached_memory() {
  auto& c = buffer_cache();
  std::lock_guard<std::mutex> lock(c.mu);
  for (auto& [n, blocks] : c.free_blocks) {
    for (void* p : blocks) std::free(p);
    blocks.clear();
  }
  c.stats.bytes_cached = 0;
}

void* small_alloc(size_t nbytes) {
  if (nbytes > kSmallMax) return ::operator new(nbytes);
  const size_t cls = (nbytes + kSmallClass - 1) / kSmallClass;
  auto& p = small_pool();
  {
    std::lock_guard<std::mutex> lock(p.mu);
    if (void* head = p.heads[cls]) {
      p.heads[cls] = *static_cast<void**>(head);
      return head;
    }
  }
  return ::operator new(cls * kSmallClass);
}

void small_free(void* ptr, size_t nbytes) {
  if (!ptr) return;
  if (nbytes > kSmallMax) {
    ::operator delete(ptr);
    return;
  }
  const size_t cls = (nbytes + kSmallClass - 1) / kSmallClass;
  auto& p = small_pool();
  std::lock_guard<std::mutex> lock(p.mu);
  *static_cast<void**>(ptr) = p.heads[cls];
  p.heads[cls] = ptr;
}

}  // namespace xfmr
