// Checkpoints in the Hugging Face safetensors format (https://huggingface.co/docs/safetensors):
//   [u64 little-endian N][N bytes of JSON header][data buffer]
// The header maps each tensor name to {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]} (offsets are
// relative to the start of the data buffer) plus an optional "__metadata__": {string: string}. Tensors fill the
// buffer back to back with no gaps or overlaps. We read and write F32, F64, BF16, F16, I32 and I64.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "xfmr/core/tensor.h"

namespace xfmr::io {

// Writes `tensors` (in logical row-major order, whatever their strides) and `metadata` to `path` atomically:
// a temp file in the same directory is written, fsynced and renamed over `path`, so on any failure the previous
// file at `path` is intact and no partial file is left. Like the reference writer, tensors are laid out by element
// size, largest first (then in the given order), so every tensor is naturally aligned, and the header is padded
// with spaces to a multiple of 8 bytes. Errors: duplicate or empty names, the reserved name "__metadata__",
// undefined tensors, I/O failures.
void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// A loaded safetensors file. The file is memory-mapped (opened read-only, mapped copy-on-write: writing into a
// borrowed tensor changes only this process's pages, never the file) and get() returns tensors that view the
// mapping without copying.
//
// Lifetime: tensors from get() may outlive this object (and all its copies). The mapping is unmapped once the last
// SafetensorsFile handle is gone and no tensor views it any more; if views remain when the last handle dies, the
// mapping is parked and unmapped by a later load_safetensors / SafetensorsFile destruction that finds it unused.
// (core/ Storage has no release hook yet; see the note in safetensors.cc.)
//
// A file on disk that is truncated while mapped makes later accesses fault (SIGBUS), as with any mmap; xfmr's own
// writer never truncates in place (it renames a new file over the old one), so a mapped checkpoint stays valid.
class SafetensorsFile {
 public:
  SafetensorsFile() = default;  // empty: every accessor throws until assigned from load_safetensors
  const std::string& path() const;
  const std::map<std::string, std::string>& metadata() const;
  // Tensor names in the order of their data in the file.
  const std::vector<std::string>& names() const;
  bool contains(const std::string& name) const;
  size_t size() const { return names().size(); }

  // A fresh tensor handle that borrows the mapped bytes (no copy). Data that is not naturally aligned for its dtype
  // (possible in files from other writers) is returned as an owned copy instead. Error listing the available
  // names when `name` is missing.
  Tensor get(const std::string& name) const;
  // An owned, contiguous copy that does not depend on the mapping.
  Tensor copy(const std::string& name) const;

  struct Impl;

 private:
  friend SafetensorsFile load_safetensors(const std::string& path);
  const Impl& impl() const;
  std::shared_ptr<Impl> impl_;
};

// Maps and validates `path`. Every defect (truncated file, header length beyond the file, invalid JSON, a header
// that is not an object, unknown or unsupported dtype, bad shape, offsets out of range / overlapping / leaving
// gaps / not matching dtype x shape, non-string metadata) is an xfmr::Error with a one-line message naming the
// file and the problem. Nothing is read outside the file.
SafetensorsFile load_safetensors(const std::string& path);

}  // namespace xfmr::io
