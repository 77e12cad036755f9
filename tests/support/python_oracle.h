// Calls a reference script under tests/reference/ with Debian's PyTorch: writes the JSON request to a temp
// file, runs `/usr/bin/python3 tests/reference/<script> IN OUT`, and returns the parsed reply (null after
// reporting a test failure when the script cannot run). The same mechanism as torch_parity.h, for oracles
// that are not a single op (optimizers, clipping, schedules).
//
//   nlohmann::json reply = test::call_python_oracle("torch_optim.py", request);
#pragma once
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "xfmr/core/tensor.h"

namespace xfmr::test {

// {"shape": [...], "dtype": "f32", "data": [... row-major, as double]}
inline nlohmann::json tensor_to_json(const Tensor& t) {
  nlohmann::json j;
  j["shape"] = std::vector<int64_t>(t.shape().begin(), t.shape().end());
  j["dtype"] = dtype_name(t.dtype());
  j["data"] = t.to_vector();
  return j;
}

inline nlohmann::json call_python_oracle(const std::string& script, const nlohmann::json& req) {
  char in_path[] = "/tmp/xfmr_oracle_in_XXXXXX";
  const int fd = mkstemp(in_path);
  if (fd < 0) {
    ADD_FAILURE() << "cannot create a temp file";
    return nullptr;
  }
  close(fd);
  const std::string out_path = std::string(in_path) + ".out";
  {
    std::ofstream f(in_path);
    f << req.dump();
  }
  const char* src = std::getenv("XFMR_SOURCE_DIR");
  const std::string root = src ? src : XFMR_SOURCE_DIR;
  const std::string cmd =
      "/usr/bin/python3 " + root + "/tests/reference/" + script + " " + in_path + " " + out_path + " 2>&1";
  const int rc = std::system(cmd.c_str());
  std::remove(in_path);
  if (rc != 0) {
    ADD_FAILURE() << "python oracle failed (exit " << rc << "): " << cmd
                  << "\n(install python3-torch with scripts/setup.sh)";
    std::remove(out_path.c_str());
    return nullptr;
  }
  std::ifstream f(out_path);
  nlohmann::json res = nlohmann::json::parse(f);
  std::remove(out_path.c_str());
  return res;
}

// Max-norm relative error max|a - b| / max(max|b|, tiny), the measure torch_parity.h uses (gradcheck.h's
// rel_error instead divides by max(1, max|b|), the right scale for finite differences).
inline double max_rel_error(const std::vector<double>& a, const std::vector<double>& b) {
  double num = 0, den = 1e-300;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    num = std::max(num, std::fabs(a[i] - b[i]));
    den = std::max(den, std::fabs(b[i]));
  }
  return num / den;
}

}  // namespace xfmr::test
