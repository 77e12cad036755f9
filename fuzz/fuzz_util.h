// Shared by the libFuzzer targets: the contract every parser must keep on arbitrary bytes is "return, or throw
// xfmr::Error"; anything else (another exception, a crash, a sanitizer report, an allocation beyond libFuzzer's
// -malloc_limit_mb) is a bug. Path-based loaders get the bytes through a private temp file.
#pragma once
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "xfmr/core/check.h"

namespace xfmr::fuzz {

// Runs fn(); xfmr::Error is the documented failure, every other exception aborts so libFuzzer reports it.
template <class F>
void expect_ok_or_error(F&& fn) {
  try {
    fn();
  } catch (const xfmr::Error&) {
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz: unexpected exception (not xfmr::Error): %s\n", e.what());
    std::abort();
  }
}

// One temp file per process, rewritten for every input (libFuzzer runs inputs one after another).
inline const std::string& temp_path(const char* suffix) {
  static const std::string path = [&] {
    const char* dir = std::getenv("TMPDIR");
    return std::string(dir ? dir : "/tmp") + "/xfmr_fuzz_" + std::to_string(getpid()) + suffix;
  }();
  return path;
}

inline const std::string& write_temp(const uint8_t* data, size_t size, const char* suffix) {
  const std::string& p = temp_path(suffix);
  FILE* f = std::fopen(p.c_str(), "wb");
  if (!f) std::abort();
  if (size && std::fwrite(data, 1, size, f) != size) std::abort();
  std::fclose(f);
  return p;
}

}  // namespace xfmr::fuzz
