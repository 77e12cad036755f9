// GGUF (versions 2 and 3), the file format of ggml / llama.cpp: little-endian
//   magic "GGUF", uint32 version, uint64 n_tensors, uint64 n_kv,
//   n_kv metadata pairs (string key, uint32 value type, value),
//   n_tensors tensor infos (string name, uint32 n_dims, uint64 ne[n_dims], uint32 type, uint64 offset),
//   padding to `general.alignment` (default 32), then the tensor data; each tensor's offset is relative to
//   the data start and a multiple of the alignment.
// Strings are uint64 length + bytes; arrays are uint32 element type + uint64 count + elements. ne[0] is the
// contiguous dimension, so a PyTorch [out, in] matrix has ne = {in, out}.
// The reader memory-maps the file and checks every length, count, type and offset against the file size, so a
// truncated or corrupt file gives an xfmr::Error naming the file and what is wrong, never an out-of-bounds
// read.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "xfmr/io/mapped_file.h"
#include "xfmr/kernels/quant_types.h"

namespace xfmr::io {

enum class GgufType : uint32_t {
  u8 = 0,
  i8 = 1,
  u16 = 2,
  i16 = 3,
  u32 = 4,
  i32 = 5,
  f32 = 6,
  boolean = 7,
  string = 8,
  array = 9,
  u64 = 10,
  i64 = 11,
  f64 = 12
};
const char* gguf_type_name(GgufType t);

// One metadata value. Integers and booleans are held in `i` (u64 as its bit pattern), floats in `f`, strings
// in `s`; an array has type == array, its element type in `elem` and its items in `arr`.
struct GgufValue {
  GgufType type = GgufType::u32;
  GgufType elem = GgufType::u32;
  int64_t i = 0;
  double f = 0;
  std::string s;
  std::vector<GgufValue> arr;

  static GgufValue u32(uint32_t v) { return of_int(GgufType::u32, v); }
  static GgufValue i32(int32_t v) { return of_int(GgufType::i32, v); }
  static GgufValue f32(float v) {
    GgufValue x;
    x.type = GgufType::f32;
    x.f = v;
    return x;
  }
  static GgufValue str(std::string v) {
    GgufValue x;
    x.type = GgufType::string;
    x.s = std::move(v);
    return x;
  }
  static GgufValue of_int(GgufType t, int64_t v) {
    GgufValue x;
    x.type = t;
    x.i = v;
    return x;
  }
  static GgufValue array(GgufType elem, std::vector<GgufValue> items) {
    GgufValue x;
    x.type = GgufType::array;
    x.elem = elem;
    x.arr = std::move(items);
    return x;
  }
  bool is_int() const;    // any integer type or bool
  bool is_float() const;  // f32 or f64
};

struct GgufTensorInfo {
  std::string name;
  std::vector<int64_t> ne;  // ne[0] contiguous
  kernels::QType type = kernels::QType::f32;
  uint64_t offset = 0;  // from the data start
  int64_t nbytes = 0;
  const uint8_t* data = nullptr;  // inside the mapping
  int64_t numel() const;
};

class GgufFile {
 public:
  explicit GgufFile(const std::string& path);
  explicit GgufFile(std::shared_ptr<const MappedFile> file);
  // True when the file starts with the GGUF magic (false when it cannot be read).
  static bool is_gguf(const std::string& path);

  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  const std::string& path() const { return file_->path(); }
  const std::shared_ptr<const MappedFile>& file() const { return file_; }
  const std::vector<std::pair<std::string, GgufValue>>& metadata() const { return kv_; }
  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }

  const GgufValue* find(const std::string& key) const;  // nullptr when absent
  const GgufTensorInfo* find_tensor(const std::string& name) const;
  // Typed look-ups: Error naming the file and key when present with the wrong type (or absent, without a
  // default).
  std::string get_string(const std::string& key) const;
  int64_t get_int(const std::string& key) const;
  int64_t get_int(const std::string& key, int64_t dflt) const;
  double get_float(const std::string& key, double dflt) const;

 private:
  void parse();
  std::shared_ptr<const MappedFile> file_;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  std::vector<std::pair<std::string, GgufValue>> kv_;
  std::vector<GgufTensorInfo> tensors_;
};

// Writes a GGUF v3 file: metadata in the order added, tensors laid out in the order added, each aligned
// to 32. The tensor bytes are copied when write() runs, so they must stay alive until then.
class GgufWriter {
 public:
  void add(const std::string& key, GgufValue v);
  // ne[0] contiguous; data holds exactly the bytes of that shape and type.
  void add_tensor(const std::string& name, std::vector<int64_t> ne, kernels::QType type, const void* data);
  void write(const std::string& path) const;  // atomically (temp file + rename)

 private:
  struct Tensor {
    std::string name;
    std::vector<int64_t> ne;
    kernels::QType type;
    const void* data;
    int64_t nbytes;
  };
  std::vector<std::pair<std::string, GgufValue>> kv_;
  std::vector<Tensor> tensors_;
};

}  // namespace xfmr::io
