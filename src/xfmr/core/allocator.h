// Memory for tensors and graph nodes. Steady-state training steps allocate the same buffers every step, so
// both allocators keep freed blocks on free lists and hand them back: after the first step nothing reaches malloc.
//   - buffer_alloc: 64-byte aligned tensor storage, cached by exact byte size.
//   - small_alloc: tensor headers, storages and autograd nodes, cached by 16-byte size class.
#pragma once
#include <cstddef>
#include <cstdint>

namespace xfmr {

void* buffer_alloc(size_t nbytes);
void buffer_free(void* p, size_t nbytes);

void* small_alloc(size_t nbytes);
void small_free(void* p, size_t nbytes);

struct AllocStats {
  int64_t bytes_in_use = 0;     // tensor storage handed out and not yet freed
  int64_t peak_bytes_in_use = 0;
  int64_t bytes_cached = 0;     // freed storage kept for reuse
  int64_t system_allocs = 0;    // buffer requests that reached the system allocator
};
AllocStats alloc_stats();
void reset_peak_bytes();
// Returns all cached blocks to the system (e.g. between runs of different shapes).
void release_cached_memory();

// Base for objects allocated from the small-object pool.
struct PooledObject {
  static void* operator new(size_t n) { return small_alloc(n); }
  static void operator delete(void* p, size_t n) { small_free(p, n); }
};

}  // namespace xfmr
