#include "xfmr/io/gguf.h"

#include <cstdio>
#include <cstring>
#include <set>

#include "xfmr/core/check.h"
#include "xfmr/io/file_util.h"

namespace xfmr::io {

using kernels::QType;

const char* gguf_type_name(GgufType t) {
  static const char* names[] = {"u8",   "i8",     "u16",   "i16", "u32", "i32", "f32",
                                "bool", "string", "array", "u64", "i64", "f64"};
  const auto i = static_cast<uint32_t>(t);
  return i < 13 ? names[i] : "unknown";
}

bool GgufValue::is_int() const {
  switch (type) {
    case GgufType::u8:
    case GgufType::i8:
    case GgufType::u16:
    case GgufType::i16:
    case GgufType::u32:
    case GgufType::i32:
    case GgufType::u64:
    case GgufType::i64:
    case GgufType::boolean:
      return true;
    default:
      return false;
  }
}
bool GgufValue::is_float() const {
  return type == GgufType::f32 || type == GgufType::f64;
}

int64_t GgufTensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : ne) n *= d;
  return n;
}

namespace {

// Bounds-checked little-endian reads over the mapping; every failure names the file and the byte offset.
class Cursor {
 public:
  Cursor(const uint8_t* data, size_t size, const std::string& path) : p_(data), size_(size), path_(path) {}
  size_t pos() const { return pos_; }
  size_t left() const { return size_ - pos_; }
  void need(size_t n, const char* what) const {
    XF_CHECK(left() >= n, "GGUF '", path_, "': truncated at byte ", pos_, " reading ", what, " (", n,
             " bytes needed, ", left(), " left)");
  }
  template <class T>
  T get(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, p_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string str(const char* what) {
    const uint64_t n = get<uint64_t>(what);
    need(n, what);
    std::string s(reinterpret_cast<const char*>(p_ + pos_), static_cast<size_t>(n));
    pos_ += static_cast<size_t>(n);
    return s;
  }
  [[noreturn]] void fail(const std::string& msg) const {
    throw Error(detail::concat("GGUF '", path_, "': ", msg, " (at byte ", pos_, ")"));
  }

 private:
  const uint8_t* p_;
  size_t size_, pos_ = 0;
  const std::string& path_;
};

size_t min_size(GgufType t) {
  switch (t) {
    case GgufType::u8:
    case GgufType::i8:
    case GgufType::boolean:
      return 1;
    case GgufType::u16:
    case GgufType::i16:
      return 2;
    case GgufType::u32:
    case GgufType::i32:
    case GgufType::f32:
      return 4;
    case GgufType::u64:
    case GgufType::i64:
    case GgufType::f64:
    case GgufType::string:
      return 8;
    case GgufType::array:
      return 12;
  }
  return 1;
}

GgufValue read_value(Cursor& c, GgufType t, const std::string& key, int depth) {
  GgufValue v;
  v.type = t;
  switch (t) {
    case GgufType::u8:
      v.i = c.get<uint8_t>("a u8 value");
      break;
    case GgufType::i8:
      v.i = c.get<int8_t>("an i8 value");
      break;
    case GgufType::u16:
      v.i = c.get<uint16_t>("a u16 value");
      break;
    case GgufType::i16:
      v.i = c.get<int16_t>("an i16 value");
      break;
    case GgufType::u32:
      v.i = c.get<uint32_t>("a u32 value");
      break;
    case GgufType::i32:
      v.i = c.get<int32_t>("an i32 value");
      break;
    case GgufType::u64:
      v.i = static_cast<int64_t>(c.get<uint64_t>("a u64 value"));
      break;
    case GgufType::i64:
      v.i = c.get<int64_t>("an i64 value");
      break;
    case GgufType::f32:
      v.f = c.get<float>("an f32 value");
      break;
    case GgufType::f64:
      v.f = c.get<double>("an f64 value");
      break;
    case GgufType::boolean: {
      const uint8_t b = c.get<uint8_t>("a bool value");
      if (b > 1) c.fail("key '" + key + "': bool value " + std::to_string(b) + " is neither 0 nor 1");
      v.i = b;
      break;
    }
    case GgufType::string:
      v.s = c.str("a string value");
      break;
    case GgufType::array: {
      if (depth >= 4) c.fail("key '" + key + "': arrays nested deeper than 4");
      const uint32_t et = c.get<uint32_t>("an array element type");
      if (et > 12) c.fail("key '" + key + "': unknown array element type " + std::to_string(et));
      v.elem = static_cast<GgufType>(et);
      const uint64_t n = c.get<uint64_t>("an array length");
      // Each element takes at least min_size bytes, so a count the file cannot hold is rejected before any
      // allocation.
      if (n > c.left() / min_size(v.elem))
        c.fail("key '" + key + "': array of " + std::to_string(n) + " " + gguf_type_name(v.elem) +
               " elements does not fit in the " + std::to_string(c.left()) + " bytes left");
      v.arr.reserve(static_cast<size_t>(n));
      for (uint64_t i = 0; i < n; ++i) v.arr.push_back(read_value(c, v.elem, key, depth + 1));
      break;
    }
    default:
      c.fail("key '" + key + "': unknown value type " + std::to_string(static_cast<uint32_t>(t)));
  }
  return v;
}

}  // namespace

bool GgufFile::is_gguf(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return false;
  char m[4] = {};
  const bool ok = std::fread(m, 1, 4, f) == 4 && std::memcmp(m, "GGUF", 4) == 0;
  std::fclose(f);
  return ok;
}

GgufFile::GgufFile(const std::string& path) : GgufFile(MappedFile::open(path)) {}
GgufFile::GgufFile(std::shared_ptr<const MappedFile> file) : file_(std::move(file)) {
  parse();
}

void GgufFile::parse() {
  const std::string& path = file_->path();
  Cursor c(file_->data(), file_->size(), path);
  c.need(4, "the magic");
  if (std::memcmp(file_->data(), "GGUF", 4) != 0) c.fail("not a GGUF file (magic is not \"GGUF\")");
  c.get<uint32_t>("the magic");
  version_ = c.get<uint32_t>("the version");
  if (version_ != 2 && version_ != 3)
    c.fail("unsupported GGUF version " + std::to_string(version_) + " (xfmr reads versions 2 and 3)");
  const uint64_t n_tensors = c.get<uint64_t>("the tensor count");
  const uint64_t n_kv = c.get<uint64_t>("the metadata count");
  // A key/value pair takes at least 8 + 4 + 1 bytes, a tensor info at least 8 + 4 + 8 + 4 + 8.
  if (n_kv > c.left() / 13)
    c.fail("metadata count " + std::to_string(n_kv) + " does not fit in the file (truncated or corrupt)");
  if (n_tensors > c.left() / 32)
    c.fail("tensor count " + std::to_string(n_tensors) + " does not fit in the file (truncated or corrupt)");
  std::set<std::string> keys;
  for (uint64_t i = 0; i < n_kv; ++i) {
    std::string key = c.str("a metadata key");
    const uint32_t t = c.get<uint32_t>("a metadata value type");
    if (t > 12) c.fail("key '" + key + "': unknown value type " + std::to_string(t));
    if (!keys.insert(key).second) c.fail("duplicate metadata key '" + key + "'");
    GgufValue v = read_value(c, static_cast<GgufType>(t), key, 0);
    kv_.emplace_back(std::move(key), std::move(v));
  }
  if (const GgufValue* a = find("general.alignment")) {
    if (!a->is_int() || a->type == GgufType::boolean || a->i <= 0 || a->i > (1 << 20) ||
        (a->i & (a->i - 1)) != 0)
      c.fail("general.alignment must be a power of two integer up to 2^20");
    alignment_ = static_cast<uint64_t>(a->i);
  }
  std::set<std::string> names;
  for (uint64_t i = 0; i < n_tensors; ++i) {
    GgufTensorInfo ti;
    ti.name = c.str("a tensor name");
    const uint32_t nd = c.get<uint32_t>("a tensor's dimension count");
    if (nd < 1 || nd > 4)
      c.fail("tensor '" + ti.name + "' has " + std::to_string(nd) + " dimensions (1 to 4)");
    int64_t numel = 1;
    for (uint32_t d = 0; d < nd; ++d) {
      const uint64_t e = c.get<uint64_t>("a tensor dimension");
      if (e < 1 || e > (uint64_t{1} << 40) || numel > (int64_t{1} << 40) / static_cast<int64_t>(e))
        c.fail("tensor '" + ti.name + "' has a bad dimension " + std::to_string(e));
      ti.ne.push_back(static_cast<int64_t>(e));
      numel *= static_cast<int64_t>(e);
    }
    const uint32_t type = c.get<uint32_t>("a tensor type");
    if (!kernels::qtype_known(type))
      c.fail("tensor '" + ti.name + "' has unsupported type " + std::to_string(type) +
             " (xfmr reads f32 = 0, f16 = 1, q4_0 = 2, q8_0 = 8)");
    ti.type = static_cast<QType>(type);
    if (ti.ne[0] % kernels::qtype_block_elems(ti.type) != 0)
      c.fail("tensor '" + ti.name + "' of type " + kernels::qtype_name(ti.type) + " has row length " +
             std::to_string(ti.ne[0]) + ", not a multiple of the block size 32");
    ti.offset = c.get<uint64_t>("a tensor offset");
    if (ti.offset % alignment_ != 0)
      c.fail("tensor '" + ti.name + "' offset " + std::to_string(ti.offset) +
             " is not a multiple of the alignment " + std::to_string(alignment_));
    ti.nbytes = numel / ti.ne[0] * kernels::qtype_row_bytes(ti.type, ti.ne[0]);
    if (!names.insert(ti.name).second) c.fail("duplicate tensor name '" + ti.name + "'");
    tensors_.push_back(std::move(ti));
  }
  const uint64_t data_start = (c.pos() + alignment_ - 1) / alignment_ * alignment_;
  const uint64_t size = file_->size();
  if (n_tensors > 0 && data_start > size) c.fail("the tensor data section starts past the end of the file");
  for (GgufTensorInfo& ti : tensors_) {
    const uint64_t avail = size - data_start;
    XF_CHECK(ti.offset <= avail && static_cast<uint64_t>(ti.nbytes) <= avail - ti.offset, "GGUF '", path,
             "': tensor '", ti.name, "' (", ti.nbytes, " bytes at data offset ", ti.offset,
             ") runs past the end of the file (", avail, " data bytes): truncated?");
    ti.data = file_->data() + data_start + ti.offset;
  }
}

const GgufValue* GgufFile::find(const std::string& key) const {
  for (const auto& [k, v] : kv_)
    if (k == key) return &v;
  return nullptr;
}

const GgufTensorInfo* GgufFile::find_tensor(const std::string& name) const {
  for (const auto& t : tensors_)
    if (t.name == name) return &t;
  return nullptr;
}

std::string GgufFile::get_string(const std::string& key) const {
  const GgufValue* v = find(key);
  XF_CHECK(v, "GGUF '", path(), "': metadata key '", key, "' is missing");
  XF_CHECK(v->type == GgufType::string, "GGUF '", path(), "': metadata key '", key, "' is a ",
           gguf_type_name(v->type), ", expected a string");
  return v->s;
}

int64_t GgufFile::get_int(const std::string& key) const {
  const GgufValue* v = find(key);
  XF_CHECK(v, "GGUF '", path(), "': metadata key '", key, "' is missing");
  XF_CHECK(v->is_int(), "GGUF '", path(), "': metadata key '", key, "' is a ", gguf_type_name(v->type),
           ", expected an integer");
  return v->i;
}

int64_t GgufFile::get_int(const std::string& key, int64_t dflt) const {
  return find(key) ? get_int(key) : dflt;
}

double GgufFile::get_float(const std::string& key, double dflt) const {
  const GgufValue* v = find(key);
  if (!v) return dflt;
  XF_CHECK(v->is_float() || v->is_int(), "GGUF '", path(), "': metadata key '", key, "' is a ",
           gguf_type_name(v->type), ", expected a number");
  return v->is_float() ? v->f : static_cast<double>(v->i);
}

// ---- writer ----

namespace {

void put_bytes(std::string& out, const void* p, size_t n) {
  out.append(static_cast<const char*>(p), n);
}
template <class T>
void put(std::string& out, T v) {
  put_bytes(out, &v, sizeof v);
}
void put_str(std::string& out, const std::string& s) {
  put<uint64_t>(out, s.size());
  out += s;
}

void put_value(std::string& out, const GgufValue& v) {
  switch (v.type) {
    case GgufType::u8:
    case GgufType::boolean:
      put<uint8_t>(out, static_cast<uint8_t>(v.i));
      break;
    case GgufType::i8:
      put<int8_t>(out, static_cast<int8_t>(v.i));
      break;
    case GgufType::u16:
      put<uint16_t>(out, static_cast<uint16_t>(v.i));
      break;
    case GgufType::i16:
      put<int16_t>(out, static_cast<int16_t>(v.i));
      break;
    case GgufType::u32:
      put<uint32_t>(out, static_cast<uint32_t>(v.i));
      break;
    case GgufType::i32:
      put<int32_t>(out, static_cast<int32_t>(v.i));
      break;
    case GgufType::u64:
      put<uint64_t>(out, static_cast<uint64_t>(v.i));
      break;
    case GgufType::i64:
      put<int64_t>(out, v.i);
      break;
    case GgufType::f32:
      put<float>(out, static_cast<float>(v.f));
      break;
    case GgufType::f64:
      put<double>(out, v.f);
      break;
    case GgufType::string:
      put_str(out, v.s);
      break;
    case GgufType::array:
      put<uint32_t>(out, static_cast<uint32_t>(v.elem));
      put<uint64_t>(out, v.arr.size());
      for (const GgufValue& e : v.arr) {
        XF_CHECK(e.type == v.elem, "GGUF writer: array element of type ", gguf_type_name(e.type),
                 " in an array of ", gguf_type_name(v.elem));
        put_value(out, e);
      }
      break;
  }
}

constexpr uint64_t kAlign = 32;

}  // namespace

void GgufWriter::add(const std::string& key, GgufValue v) {
  for (auto& kv : kv_)
    if (kv.first == key) {
      kv.second = std::move(v);
      return;
    }
  kv_.emplace_back(key, std::move(v));
}

void GgufWriter::add_tensor(const std::string& name, std::vector<int64_t> ne, QType type, const void* data) {
  XF_CHECK(!ne.empty() && ne.size() <= 4, "GGUF writer: tensor '", name, "' needs 1 to 4 dimensions");
  XF_CHECK(ne[0] % kernels::qtype_block_elems(type) == 0, "GGUF writer: tensor '", name, "' row length ",
           ne[0], " is not a multiple of the ", kernels::qtype_name(type), " block size");
  int64_t rows = 1;
  for (size_t i = 1; i < ne.size(); ++i) rows *= ne[i];
  tensors_.push_back({name, std::move(ne), type, data, 0});
  tensors_.back().nbytes = rows * kernels::qtype_row_bytes(type, tensors_.back().ne[0]);
}

void GgufWriter::write(const std::string& path) const {
  std::string head;
  head += "GGUF";
  put<uint32_t>(head, 3);
  put<uint64_t>(head, tensors_.size());
  put<uint64_t>(head, kv_.size());
  for (const auto& [k, v] : kv_) {
    put_str(head, k);
    put<uint32_t>(head, static_cast<uint32_t>(v.type));
    put_value(head, v);
  }
  uint64_t offset = 0;
  std::vector<uint64_t> offsets;
  for (const Tensor& t : tensors_) {
    put_str(head, t.name);
    put<uint32_t>(head, static_cast<uint32_t>(t.ne.size()));
    for (int64_t e : t.ne) put<uint64_t>(head, static_cast<uint64_t>(e));
    put<uint32_t>(head, static_cast<uint32_t>(t.type));
    put<uint64_t>(head, offset);
    offsets.push_back(offset);
    offset = (offset + static_cast<uint64_t>(t.nbytes) + kAlign - 1) / kAlign * kAlign;
  }
  head.resize((head.size() + kAlign - 1) / kAlign * kAlign, '\0');
  write_file_atomic(path, [&](FileWriter& f) {
    f.write(head.data(), head.size());
    static const char zeros[kAlign] = {};
    uint64_t at = 0;
    for (size_t i = 0; i < tensors_.size(); ++i) {
      f.write(zeros, offsets[i] - at);
      f.write(tensors_[i].data, static_cast<size_t>(tensors_[i].nbytes));
      at = offsets[i] + static_cast<uint64_t>(tensors_[i].nbytes);
    }
  });
}

}  // namespace xfmr::io
