#include "xfmr/io/file_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "xfmr/core/check.h"

namespace xfmr::io {

namespace {
std::string errno_str() { return std::strerror(errno); }

std::string dir_of(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}
}  // namespace

void FileWriter::write(const void* data, size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    // Linux writes at most ~2 GiB per call; loop over partial writes.
    const ssize_t w = ::write(fd_, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      throw Error(detail::concat("write '", path_, "': ", errno_str()));
    }
    p += w;
    n -= static_cast<size_t>(w);
    written_ += static_cast<size_t>(w);
  }
}

void write_file_atomic(const std::string& path, const std::function<void(FileWriter&)>& fill) {
  XF_CHECK(!path.empty(), "write_file_atomic: empty path");
  // A unique name in the same directory (rename is only atomic within one file system). O_EXCL guards against
  // another writer; pid + counter make collisions unlikely, and we retry on the rare EEXIST.
  static std::atomic<uint64_t> counter{0};
  std::string tmp;
  int fd = -1;
  for (int attempt = 0; attempt < 100 && fd < 0; ++attempt) {
    tmp = detail::concat(path, ".tmp.", ::getpid(), ".", counter.fetch_add(1));
    fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && errno != EEXIST) throw Error(detail::concat("write '", path, "': cannot create temp file '", tmp,
                                                              "': ", errno_str()));
  }
  XF_CHECK(fd >= 0, "write '", path, "': cannot create a unique temp file");
  try {
    FileWriter w(fd, path);
    fill(w);
    if (::fsync(fd) != 0) throw Error(detail::concat("write '", path, "': fsync failed: ", errno_str()));
    const int fd_to_close = fd;
    fd = -1;
    if (::close(fd_to_close) != 0) throw Error(detail::concat("write '", path, "': close failed: ", errno_str()));
    if (::rename(tmp.c_str(), path.c_str()) != 0)
      throw Error(detail::concat("write '", path, "': rename from '", tmp, "' failed: ", errno_str()));
  } catch (...) {
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  // Persist the rename itself. Failure here is not fatal: the data is complete and in place.
  const int dfd = ::open(dir_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

std::string read_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  XF_CHECK(fd >= 0, "cannot open '", path, "': ", errno_str());
  std::string out;
  char buf[1 << 16];
  for (;;) {
    const ssize_t r = ::read(fd, buf, sizeof buf);
    if (r < 0) {
      if (errno == EINTR) continue;
      const std::string err = errno_str();
      ::close(fd);
      throw Error(detail::concat("cannot read '", path, "': ", err));
    }
    if (r == 0) break;
    out.append(buf, static_cast<size_t>(r));
  }
  ::close(fd);
  return out;
}

void write_file_atomic(const std::string& path, std::string_view data) {
  write_file_atomic(path, [&](FileWriter& w) { w.write(data.data(), data.size()); });
}

}  // namespace xfmr::io
