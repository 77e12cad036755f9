// Running the built `xfmr` binary from end-to-end tests: its exit code and output, and scratch folders.
#pragma once
#include <stdlib.h>
#include <sys/wait.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace xfmr::test {

struct CliResult {
  int code;         // exit status (-1 when killed by a signal)
  std::string out;  // stdout + stderr, interleaved
};

// The xfmr binary under test: $XFMR_BIN, else the one built with the tests.
inline std::string xfmr_bin() {
  const char* env = std::getenv("XFMR_BIN");
  return env ? env : XFMR_CLI_PATH;
}

// Runs `xfmr ARGS` through the shell; stderr joins stdout unless merge_stderr is false (then it is dropped).
// `env_prefix` goes before the binary (e.g. "env -u VAR " or "env VAR=value ").
inline CliResult run_xfmr(const std::string& args, bool merge_stderr = true, const std::string& env_prefix = "") {
  const std::string cmd = env_prefix + xfmr_bin() + " " + args + (merge_stderr ? " 2>&1" : " 2>/dev/null");
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

// A fresh folder under the system temp dir, named after `tag`.
inline std::string temp_dir(const std::string& tag) {
  std::string tmpl = (std::filesystem::temp_directory_path() / ("xfmr_e2e_" + tag + "_XXXXXX")).string();
  return mkdtemp(tmpl.data());
}

inline int count_lines(const std::string& s) { return static_cast<int>(std::count(s.begin(), s.end(), '\n')); }

// Bad input: `xfmr <args>` exits non-zero with exactly one line of output that contains `expect`.
inline void expect_one_line_error(const std::string& args, const std::string& expect) {
  const CliResult r = run_xfmr(args);
  EXPECT_NE(r.code, 0) << args;
  EXPECT_NE(r.out.find(expect), std::string::npos) << args << "\n" << r.out;
  EXPECT_EQ(count_lines(r.out), 1) << args << "\n" << r.out;
}

}  // namespace xfmr::test
