// A read-only memory map of a whole file: model weights are used in place (the page cache is the buffer), so
// loading a checkpoint costs no copy and several processes share one copy of the weights.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace xfmr::io {

class MappedFile {
 public:
  // Maps `path` read-only; Error naming the path when it cannot be opened, stat'ed or mapped.
  static std::shared_ptr<const MappedFile> open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  MappedFile() = default;
  const uint8_t* data_ = nullptr;  // nullptr for an empty file
  size_t size_ = 0;
  std::string path_;
};

}  // namespace xfmr::io
