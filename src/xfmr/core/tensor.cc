#include "xfmr/core/tensor.h"

#include <cmath>
#include <cstring>
#include <iomanip>
#include <ostream>
#include <sstream>

#include "xfmr/core/autograd.h"
#include "xfmr/core/strided.h"

namespace xfmr {

namespace {
Ref<TensorImpl> new_impl(const Shape& shape, DType dtype) {
  for (int i = 0; i < shape.size(); ++i)
    XF_CHECK(shape[i] >= 0, "tensor: negative extent in shape ", shape.str());
  auto st = make_ref<Storage>();
  st->nbytes = static_cast<size_t>(shape.numel()) * dtype_size(dtype);
  st->data = buffer_alloc(st->nbytes);
  auto impl = make_ref<TensorImpl>();
  impl->storage = std::move(st);
  impl->dtype = dtype;
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  return impl;
}
}  // namespace

double load_as_double(const void* base, DType dt, int64_t i) {
  switch (dt) {
    case DType::f32: return static_cast<const float*>(base)[i];
    case DType::f64: return static_cast<const double*>(base)[i];
    case DType::bf16: return bf16_to_f32(static_cast<const uint16_t*>(base)[i]);
    case DType::f16: return f16_to_f32(static_cast<const uint16_t*>(base)[i]);
    case DType::i32: return static_cast<const int32_t*>(base)[i];
    case DType::i64: return static_cast<double>(static_cast<const int64_t*>(base)[i]);
  }
  return 0;
}

void store_from_double(void* base, DType dt, int64_t i, double v) {
  switch (dt) {
    case DType::f32: static_cast<float*>(base)[i] = static_cast<float>(v); break;
    case DType::f64: static_cast<double*>(base)[i] = v; break;
    case DType::bf16: static_cast<uint16_t*>(base)[i] = f32_to_bf16(static_cast<float>(v)); break;
    case DType::f16: static_cast<uint16_t*>(base)[i] = f32_to_f16(static_cast<float>(v)); break;
    case DType::i32: static_cast<int32_t*>(base)[i] = static_cast<int32_t>(v); break;
    case DType::i64: static_cast<int64_t*>(base)[i] = static_cast<int64_t>(v); break;
  }
}

Strides broadcast_strides(const Tensor& t, const Shape& target) {
  Strides out;
  const int n = target.size(), r = t.dim();
  XF_CHECK(r <= n, "broadcast: cannot broadcast shape ", t.shape().str(), " to ", target.str());
  for (int i = 0; i < n; ++i) {
    const int j = r - n + i;
    if (j < 0) {
      out.push_back(0);
    } else {
      XF_CHECK(t.size(j) == target[i] || t.size(j) == 1, "broadcast: cannot broadcast shape ", t.shape().str(),
               " to ", target.str());
      out.push_back(t.size(j) == target[i] && target[i] != 1 ? t.stride(j) : 0);
    }
  }
  return out;
}

TensorImpl::~TensorImpl() = default;

Tensor Tensor::empty(const Shape& shape, DType dtype) { return Tensor(new_impl(shape, dtype)); }

Tensor Tensor::zeros(const Shape& shape, DType dtype) {
  Tensor t = empty(shape, dtype);
  std::memset(t.raw_data(), 0, t.nbytes());
  return t;
}
Tensor Tensor::ones(const Shape& shape, DType dtype) { return full(shape, 1.0, dtype); }
Tensor Tensor::full(const Shape& shape, double value, DType dtype) {
  Tensor t = empty(shape, dtype);
  t.fill_(value);
  return t;
}
Tensor Tensor::scalar(double value, DType dtype) { return full(Shape{}, value, dtype); }
Tensor Tensor::arange(int64_t n, DType dtype) {
  Tensor t = empty(Shape{n}, dtype);
  for (int64_t i = 0; i < n; ++i) store_from_double(t.raw_data(), dtype, i, static_cast<double>(i));
  return t;
}

template <class V>
static Tensor from_values(std::span<const V> values, const Shape& shape, DType dtype) {
  XF_CHECK(static_cast<int64_t>(values.size()) == shape.numel(), "from_vector: ", values.size(),
           " values do not fill shape ", shape.str());
  Tensor t = Tensor::empty(shape, dtype);
  for (size_t i = 0; i < values.size(); ++i)
    store_from_double(t.raw_data(), dtype, static_cast<int64_t>(i), static_cast<double>(values[i]));
  if constexpr (std::is_same_v<V, int64_t>) {  // exact for large indices
    if (dtype == DType::i64 && !values.empty()) std::memcpy(t.raw_data(), values.data(), values.size() * 8);
  }
  return t;
}
Tensor Tensor::from_vector(std::span<const double> v, const Shape& s, DType d) { return from_values(v, s, d); }
Tensor Tensor::from_vector(std::span<const float> v, const Shape& s, DType d) { return from_values(v, s, d); }
Tensor Tensor::from_vector(std::span<const int64_t> v, const Shape& s, DType d) { return from_values(v, s, d); }

Tensor Tensor::borrow(void* data, const Shape& shape, DType dtype, std::shared_ptr<const void> keep_alive) {
  auto st = make_ref<Storage>();
  st->keep_alive = std::move(keep_alive);
  st->data = data;
  st->nbytes = static_cast<size_t>(shape.numel()) * dtype_size(dtype);
  st->owned = false;
  auto impl = make_ref<TensorImpl>();
  impl->storage = std::move(st);
  impl->dtype = dtype;
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  return Tensor(std::move(impl));
}

int64_t Tensor::size(int d) const { return impl_->shape[wrap_dim(d, dim(), "size")]; }
int64_t Tensor::stride(int d) const { return impl_->strides[wrap_dim(d, dim(), "stride")]; }

bool Tensor::is_contiguous() const {
  int64_t expected = 1;
  for (int i = dim() - 1; i >= 0; --i) {
    if (impl_->shape[i] == 1) continue;
    if (impl_->strides[i] != expected) return false;
    expected *= impl_->shape[i];
  }
  return true;
}

void* Tensor::raw_data() const {
  return static_cast<char*>(impl_->storage->data) + impl_->offset * static_cast<int64_t>(dtype_size(dtype()));
}

double Tensor::item() const {
  XF_CHECK(defined(), "item: undefined tensor");
  XF_CHECK(numel() == 1, "item: tensor of shape ", shape().str(), " has ", numel(), " elements, expected 1");
  return load_as_double(raw_data(), dtype(), 0);
}

double Tensor::at(std::initializer_list<int64_t> index) const {
  XF_CHECK(static_cast<int>(index.size()) == dim(), "at: ", index.size(), " indices for a tensor of rank ", dim());
  int64_t off = 0;
  int d = 0;
  for (int64_t i : index) {
    XF_CHECK(i >= 0 && i < size(d), "at: index ", i, " out of range for dimension ", d, " of size ", size(d));
    off += i * stride(d);
    d++;
  }
  return load_as_double(raw_data(), dtype(), off);
}

std::vector<double> Tensor::to_vector() const {
  std::vector<double> out;
  out.reserve(static_cast<size_t>(numel()));
  const void* base = raw_data();
  const DType dt = dtype();
  for_each_offset<1>(shape(), {strides()}, {0}, [&](int64_t o) { out.push_back(load_as_double(base, dt, o)); });
  return out;
}

std::vector<int64_t> Tensor::to_int_vector() const {
  std::vector<int64_t> out;
  out.reserve(static_cast<size_t>(numel()));
  const void* base = raw_data();
  const DType dt = dtype();
  for_each_offset<1>(shape(), {strides()}, {0}, [&](int64_t o) {
    out.push_back(dt == DType::i64 ? static_cast<const int64_t*>(base)[o]
                                   : static_cast<int64_t>(load_as_double(base, dt, o)));
  });
  return out;
}

Tensor Tensor::as_strided(const Shape& shape, const Strides& strides, int64_t offset) const {
  XF_CHECK(shape.size() == strides.size(), "as_strided: shape ", shape.str(), " and strides ", strides.str(),
           " differ in rank");
  auto impl = make_ref<TensorImpl>();
  impl->storage = impl_->storage;
  impl->dtype = impl_->dtype;
  impl->shape = shape;
  impl->strides = strides;
  impl->offset = offset;
  return Tensor(std::move(impl));
}

namespace {
// Same-dtype strided copy of a W-byte element type: the outer dims walk by for_each_offset, the last dim is a
// plain loop (a memmove when both sides are unit-stride), so a permuted or sliced copy costs about as much as a
// contiguous one instead of one odometer step per element.
template <class E>
void copy_rows(const Shape& shape, const Strides& dst_st, const Strides& src_st, E* d, const E* s) {
  const int r = shape.size();
  const int64_t n = shape[r - 1], sd = dst_st[r - 1], ss = src_st[r - 1];
  const Shape outer = Shape::from(shape.begin(), shape.end() - 1);
  const Strides od = Strides::from(dst_st.begin(), dst_st.end() - 1);
  const Strides os = Strides::from(src_st.begin(), src_st.end() - 1);
  auto row = [&](int64_t o_d, int64_t o_s) {
    E* dr = d + o_d;
    const E* sr = s + o_s;
    if (sd == 1 && ss == 1 && n >= 256) {
      std::memmove(dr, sr, static_cast<size_t>(n) * sizeof(E));
    } else if (sd == 1 && ss == 1) {  // short rows (attention heads): an inline loop beats a libc call
      for (int64_t i = 0; i < n; ++i) dr[i] = sr[i];
    } else if (sd == 1) {
      for (int64_t i = 0; i < n; ++i) dr[i] = sr[i * ss];
    } else {
      for (int64_t i = 0; i < n; ++i) dr[i * sd] = sr[i * ss];
    }
  };
  if (outer.size() == 0) {
    row(0, 0);
    return;
  }
  for_each_offset<2>(outer, {od, os}, {0, 0}, row);
}

template <class E>
void fill_rows(const Shape& shape, const Strides& st, E* d, E v) {
  const int r = shape.size();
  if (r == 0) {
    d[0] = v;
    return;
  }
  const int64_t n = shape[r - 1], sd = st[r - 1];
  const Shape outer = Shape::from(shape.begin(), shape.end() - 1);
  const Strides od = Strides::from(st.begin(), st.end() - 1);
  auto row = [&](int64_t o) {
    E* dr = d + o;
    if (sd == 1) {
      for (int64_t i = 0; i < n; ++i) dr[i] = v;
    } else {
      for (int64_t i = 0; i < n; ++i) dr[i * sd] = v;
    }
  };
  if (outer.size() == 0) {
    row(0);
    return;
  }
  for_each_offset<1>(outer, {od}, {0}, row);
}
}  // namespace

void Tensor::copy_(const Tensor& src) {
  check_defined(src, "copy_");
  const Strides dst_st = strides();
  const Strides src_st = broadcast_strides(src, shape());
  if (dtype() == src.dtype() && is_contiguous() && src.is_contiguous() && src.shape() == shape()) {
    std::memmove(raw_data(), src.raw_data(), nbytes());
    return;
  }
  void* d = raw_data();
  const void* s = src.raw_data();
  const DType ddt = dtype(), sdt = src.dtype();
  if (numel() == 0) return;
  if (ddt == sdt && dim() > 0 && dtype_size(ddt) == 4) {
    copy_rows(shape(), dst_st, src_st, static_cast<uint32_t*>(d), static_cast<const uint32_t*>(s));
  } else if (ddt == sdt && dim() > 0 && dtype_size(ddt) == 8) {
    copy_rows(shape(), dst_st, src_st, static_cast<uint64_t*>(d), static_cast<const uint64_t*>(s));
  } else {
    for_each_offset<2>(shape(), {dst_st, src_st}, {0, 0}, [&](int64_t od, int64_t os) {
      store_from_double(d, ddt, od, load_as_double(s, sdt, os));
    });
  }
}

Tensor Tensor::contiguous_copy() const {
  Tensor out = empty(shape(), dtype());
  out.copy_(*this);
  return out;
}

Tensor Tensor::converted(DType dt) const {
  Tensor out = empty(shape(), dt);
  out.copy_(*this);
  return out;
}

void Tensor::fill_(double value) {
  void* d = raw_data();
  const DType dt = dtype();
  if (numel() == 0) return;
  if (dt == DType::f32) {
    if (is_contiguous() && value == 0.0 && !std::signbit(value)) {
      std::memset(d, 0, nbytes());
      return;
    }
    fill_rows(shape(), strides(), static_cast<float*>(d), static_cast<float>(value));
    return;
  }
  if (dt == DType::f64) {
    if (is_contiguous() && value == 0.0 && !std::signbit(value)) {
      std::memset(d, 0, nbytes());
      return;
    }
    fill_rows(shape(), strides(), static_cast<double*>(d), value);
    return;
  }
  for_each_offset<1>(shape(), {strides()}, {0}, [&](int64_t o) { store_from_double(d, dt, o, value); });
}

Tensor& Tensor::set_requires_grad(bool on) {
  XF_CHECK(is_leaf(), "set_requires_grad: only leaf tensors can be marked (this one was produced by ",
           grad_fn_name(grad_fn()), ")");
  XF_CHECK(!on || dtype_is_float(dtype()), "set_requires_grad: dtype ", dtype_name(dtype()),
           " cannot require gradients");
  impl_->requires_grad = on;
  return *this;
}

void Tensor::zero_grad() {
  if (impl_->grad) Tensor(impl_->grad).zero_();
}

Tensor Tensor::detach() const { return as_strided(shape(), strides(), offset()); }

void Tensor::backward(const Tensor& grad) const { run_backward(*this, grad); }

std::string Tensor::str(int max_per_dim) const {
  if (!defined()) return "Tensor(undefined)";
  std::ostringstream os;
  os << "Tensor(shape=" << shape().str() << ", dtype=" << dtype_name(dtype());
  if (requires_grad()) os << ", requires_grad";
  os << ")\n";
  const std::vector<double> v = to_vector();
  // Print the flattened values row by row along the last dimension, eliding long rows.
  const int64_t row = dim() ? size(-1) : 1;
  os << std::setprecision(6);
  for (int64_t r = 0; r * row < static_cast<int64_t>(v.size()); ++r) {
    if (r >= max_per_dim * max_per_dim) {
      os << "  ...\n";
      break;
    }
    os << "  [";
    for (int64_t c = 0; c < row; ++c) {
      if (c == max_per_dim && row > 2 * max_per_dim) {
        os << " ...";
        c = row - max_per_dim;
      }
      os << (c ? ", " : "") << v[static_cast<size_t>(r * row + c)];
    }
    os << "]\n";
  }
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << t.str(); }

void check_defined(const Tensor& a, const char* op) { XF_CHECK(a.defined(), op, ": undefined tensor argument"); }

void check_same_dtype(const Tensor& a, const Tensor& b, const char* op) {
  check_defined(a, op);
  check_defined(b, op);
  XF_CHECK(a.dtype() == b.dtype(), op, ": dtype mismatch: ", dtype_name(a.dtype()), " ", a.shape().str(), " vs ",
           dtype_name(b.dtype()), " ", b.shape().str());
}

void check_float(const Tensor& a, const char* op) {
  check_defined(a, op);
  XF_CHECK(a.dtype() == DType::f32 || a.dtype() == DType::f64, op, ": unsupported dtype ", dtype_name(a.dtype()),
           " (expected f32 or f64)");
}

}  // namespace xfmr
