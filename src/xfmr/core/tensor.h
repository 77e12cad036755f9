// Tensor: shared storage + dtype + shape + strides + offset (in elements), with an autograd slot.
// Copying a Tensor copies a handle (like torch.Tensor); views share storage. Differentiable operations
// (including the view ops reshape/transpose/slice/expand) are free functions in ops/; this header holds only
// what needs no autograd: construction, element access, raw strided views, copies and printing.
#pragma once
#include <atomic>
#include <memory>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "xfmr/core/allocator.h"
#include "xfmr/core/dtype.h"
#include "xfmr/core/ref.h"
#include "xfmr/core/shape.h"

namespace xfmr {

struct Node;

// A block of memory holding elements. Owned buffers come from buffer_alloc; external ones (e.g. a memory-mapped
// checkpoint) are borrowed and kept alive by `keep_alive` (e.g. the mapping object) as long as any view exists.
struct Storage : PooledObject {
  std::atomic<int> refcount{0};
  void* data = nullptr;
  size_t nbytes = 0;
  bool owned = true;
  std::shared_ptr<const void> keep_alive;
  ~Storage() {
    if (owned) buffer_free(data, nbytes);
  }
};

struct TensorImpl : PooledObject {
  std::atomic<int> refcount{0};
  Ref<Storage> storage;
  DType dtype = DType::f32;
  Shape shape;
  Strides strides;
  int64_t offset = 0;          // in elements
  bool requires_grad = false;  // leaf: user-set; non-leaf: set by the op that produced it
  Ref<Node> grad_fn;           // the node that produced this tensor (null for leaves)
  Ref<TensorImpl> grad;        // accumulated gradient (leaves only)
  ~TensorImpl();               // out of line: Node is incomplete here
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(Ref<TensorImpl> impl) : impl_(std::move(impl)) {}

  // ---- construction (uninitialised / filled / from host data) ----
  static Tensor empty(const Shape& shape, DType dtype = DType::f32);
  static Tensor zeros(const Shape& shape, DType dtype = DType::f32);
  static Tensor ones(const Shape& shape, DType dtype = DType::f32);
  static Tensor full(const Shape& shape, double value, DType dtype = DType::f32);
  static Tensor scalar(double value, DType dtype = DType::f32);
  static Tensor arange(int64_t n, DType dtype = DType::f32);
  // Copies `values` (row-major) into a new tensor of `shape`, converting to `dtype`.
  static Tensor from_vector(std::span<const double> values, const Shape& shape, DType dtype = DType::f32);
  static Tensor from_vector(std::span<const float> values, const Shape& shape, DType dtype = DType::f32);
  static Tensor from_vector(std::span<const int64_t> values, const Shape& shape, DType dtype = DType::i64);
  // Wraps memory owned elsewhere (no copy). `keep_alive` (e.g. a memory mapping) is held until the last view of
  // the storage dies; without it, the caller must keep the memory alive longer than every view.
  static Tensor borrow(void* data, const Shape& shape, DType dtype, std::shared_ptr<const void> keep_alive = {});

  // ---- metadata ----
  bool defined() const { return static_cast<bool>(impl_); }
  DType dtype() const { return impl_->dtype; }
  int dim() const { return impl_->shape.size(); }
  const Shape& shape() const { return impl_->shape; }
  const Strides& strides() const { return impl_->strides; }
  int64_t size(int d) const;
  int64_t stride(int d) const;
  int64_t offset() const { return impl_->offset; }
  int64_t numel() const { return impl_->shape.numel(); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype()); }
  bool is_contiguous() const;
  bool is_same(const Tensor& o) const { return impl_ == o.impl_; }
  bool shares_storage(const Tensor& o) const { return impl_->storage == o.impl_->storage; }
  TensorImpl* impl() const { return impl_.get(); }
  const Ref<TensorImpl>& impl_ref() const { return impl_; }

  // ---- element access (no autograd) ----
  void* raw_data() const;  // address of element 0 (offset applied)
  template <class T>
  T* data() const {
    XF_CHECK(dtype_of<T>() == dtype(), "data<", dtype_name(dtype_of<T>()), ">: tensor has dtype ", dtype_name(dtype()));
    return static_cast<T*>(raw_data());
  }
  double item() const;                       // the single element, as double
  double at(std::initializer_list<int64_t> index) const;  // one element by index, as double
  std::vector<double> to_vector() const;     // all elements in row-major order, as double
  std::vector<int64_t> to_int_vector() const;

  // ---- raw views and copies (no autograd: ops/view.h has the differentiable versions) ----
  Tensor as_strided(const Shape& shape, const Strides& strides, int64_t offset) const;
  Tensor contiguous_copy() const;            // always a fresh contiguous tensor
  Tensor converted(DType dtype) const;       // fresh contiguous tensor of another dtype
  void copy_(const Tensor& src);             // elementwise copy with broadcasting from src (shapes must broadcast)
  void fill_(double value);
  void zero_() { fill_(0.0); }

  // ---- autograd ----
  bool requires_grad() const { return impl_ && impl_->requires_grad; }
  // Marks a leaf as a trainable input; its gradient accumulates in grad().
  Tensor& set_requires_grad(bool on = true);
  bool is_leaf() const { return !impl_->grad_fn; }
  Node* grad_fn() const { return impl_->grad_fn.get(); }
  Tensor grad() const { return Tensor(impl_->grad); }
  void set_grad(const Tensor& g) { impl_->grad = g.impl_; }
  void zero_grad();  // zeroes the accumulated gradient in place (keeps its buffer)
  // A tensor sharing this one's storage with no autograd history.
  Tensor detach() const;
  // Reverse-mode differentiation from this tensor. Without `grad`, the tensor must hold one element.
  void backward(const Tensor& grad = Tensor()) const;

  std::string str(int max_per_dim = 6) const;  // for debugging

 private:
  Ref<TensorImpl> impl_;
};

std::ostream& operator<<(std::ostream& os, const Tensor& t);

// Checks used by ops: every message names the op.
void check_same_dtype(const Tensor& a, const Tensor& b, const char* op);
void check_float(const Tensor& a, const char* op);
void check_defined(const Tensor& a, const char* op);

}  // namespace xfmr
