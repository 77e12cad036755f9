#include "xfmr/cli/progress.h"

#include <unistd.h>

#include <cstdio>

namespace xfmr::cli {

Progress::Progress(std::string label, int64_t total, int64_t log_every)
    : label_(std::move(label)), total_(total), log_every_(log_every > 0 ? log_every : 1),
      tty_(isatty(fileno(stderr)) != 0), start_(std::chrono::steady_clock::now()) {}

void Progress::update(int64_t done, const std::string& status) {
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double eta = done > 0 ? secs * static_cast<double>(total_ - done) / static_cast<double>(done) : 0.0;
  if (tty_) {
    const int width = 30;
    const int filled = total_ > 0 ? static_cast<int>(width * done / total_) : width;
    std::string bar(static_cast<size_t>(filled), '#');
    bar.resize(width, '.');
    std::fprintf(stderr, "\r%s [%s] %lld/%lld  %s  %.0fs elapsed, ETA %.0fs   ", label_.c_str(), bar.c_str(),
                 static_cast<long long>(done), static_cast<long long>(total_), status.c_str(), secs, eta);
    std::fflush(stderr);
  } else if (done % log_every_ == 0 || done == total_) {
    std::fprintf(stderr, "%s %lld/%lld  %s  (%.1fs, ETA %.0fs)\n", label_.c_str(), static_cast<long long>(done),
                 static_cast<long long>(total_), status.c_str(), secs, eta);
  }
}

void Progress::finish(const std::string& status) {
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  if (tty_) std::fprintf(stderr, "\n");
  std::fprintf(stderr, "%s done in %.1fs  %s\n", label_.c_str(), secs, status.c_str());
}

}  // namespace xfmr::cli
