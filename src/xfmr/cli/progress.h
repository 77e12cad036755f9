// Progress reporting for long verbs: a redrawn bar with ETA on a terminal, plain periodic log lines otherwise
// (CI logs, pipes), so output stays readable in both.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace xfmr::cli {

class Progress {
 public:
  Progress(std::string label, int64_t total, int64_t log_every);
  // Reports that `done` of `total` units are complete, with a short status (e.g. "loss 0.123").
  void update(int64_t done, const std::string& status);
  void finish(const std::string& status);

 private:
  std::string label_;
  int64_t total_, log_every_;
  bool tty_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace xfmr::cli
