#include "xfmr/io/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "xfmr/core/check.h"

namespace xfmr::io {
namespace {

std::string errno_text(int err) {
  return std::strerror(err);
}

// Parent directory of `path` as open()/fsync() want it: "." for a bare file name.
std::string parent_dir(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// Closes a descriptor on scope exit unless released; keeps every early-return path leak-free.
struct FdGuard {
  int fd = -1;
  ~FdGuard() {
    if (fd >= 0) ::close(fd);
  }
};

// Opens a new, unique temporary file next to `path`. O_EXCL guarantees we never clobber another writer's temp
// file (two processes writing the same report); pid + counter make collisions rare, the retry loop handles
// the rest.
int open_temp(const std::string& path, std::string& temp_path) {
  static std::atomic<unsigned> counter{0};
  for (int attempt = 0; attempt < 100; ++attempt) {
    temp_path = path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter.fetch_add(1));
    const int fd = ::open(temp_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0 || errno != EEXIST) return fd;
  }
  errno = EEXIST;
  return -1;
}

// Writes every byte, retrying short writes and EINTR. Returns false with errno set on failure.
bool write_all(int fd, std::string_view data) {
  const char* p = data.data();
  size_t left = data.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

void write_file_atomic(const std::string& path, std::string_view data) {
  XF_CHECK(!path.empty(), "write_file_atomic: empty path");
  std::string temp_path;
  FdGuard file{open_temp(path, temp_path)};
  const int open_err = errno;
  XF_CHECK(file.fd >= 0, "write_file_atomic: cannot write '", path, "': cannot create a temporary file in '",
           parent_dir(path), "': ", errno_text(open_err));
  // From here on every failure removes the temporary file before reporting, so no debris is left behind.
  const auto fail = [&](const char* step) {
    const int err = errno;
    ::unlink(temp_path.c_str());
    throw Error(
        detail::concat("write_file_atomic: cannot write '", path, "': ", step, " failed: ", errno_text(err)));
  };
  if (!write_all(file.fd, data)) fail("write");
  if (::fsync(file.fd) != 0) fail("fsync");
  const int fd = file.fd;
  file.fd = -1;
  if (::close(fd) != 0) fail("close");
  if (::rename(temp_path.c_str(), path.c_str()) != 0) fail("rename");
  // Persist the directory entry. Best effort: some filesystems refuse fsync on directories, and the data
  // itself is already durable and in place.
  FdGuard dir{::open(parent_dir(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (dir.fd >= 0) (void)::fsync(dir.fd);
}

std::string read_file(const std::string& path) {
  FdGuard file{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  const int open_err = errno;
  XF_CHECK(file.fd >= 0, "read_file: cannot open '", path, "': ", errno_text(open_err));
  std::string out;
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(file.fd, buf, sizeof buf);
    const int read_err = errno;
    if (n < 0 && read_err == EINTR) continue;
    XF_CHECK(n >= 0, "read_file: cannot read '", path, "': ", errno_text(read_err));
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

}  // namespace xfmr::io
