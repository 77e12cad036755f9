// Small POSIX file helpers shared by the checkpoint and config writers.
#pragma once
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace xfmr::io {

// Sequential writer handed to write_file_atomic's callback. write() retries partial writes and EINTR and throws
// xfmr::Error naming the final path on any failure.
class FileWriter {
 public:
  void write(const void* data, size_t n);
  size_t bytes_written() const { return written_; }

 private:
  friend void write_file_atomic(const std::string&, const std::function<void(FileWriter&)>&);
  FileWriter(int fd, const std::string& path) : fd_(fd), path_(path) {}
  int fd_;
  const std::string& path_;
  size_t written_ = 0;
};

// Writes `path` atomically: the callback fills a fresh temp file in the same directory, which is fsynced and then
// renamed over `path` (and the directory fsynced), so readers see either the old file or the complete new one.
// On any failure (including an exception from the callback) the temp file is removed and the old file is left
// untouched. The new file gets mode 0666 & ~umask, like a plain open().
void write_file_atomic(const std::string& path, const std::function<void(FileWriter&)>& fill);
// The same for a buffer already in memory (results.json, report.html, configs).
void write_file_atomic(const std::string& path, std::string_view data);

// Whole-file read; Error naming the path when it cannot be opened or read.
std::string read_file(const std::string& path);

}  // namespace xfmr::io
