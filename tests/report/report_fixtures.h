// Shared helpers for the report tests: a realistic synthetic results.json, scratch directories, and running
// external checkers (python3's XML parser, chromium) with their output captured.
#pragma once
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace xfmr::test {

// A fresh empty directory under the system temp dir, removed with everything in it at scope exit.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& tag) {
    std::string tmpl = (std::filesystem::temp_directory_path() / ("xfmr_" + tag + "_XXXXXX")).string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed for " + tmpl);
    path_ = tmpl;
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline void write_text(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  f << text;
}

inline std::string read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Runs `cmd` through /bin/sh; returns its exit status (-1 if it did not exit normally).
inline int run_shell(const std::string& cmd) {
  const int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

inline std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (const char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// Parses `text` with python3's xml.etree (expat). Returns "" when well-formed, else the parser's message.
inline std::string xml_parse_error(const std::string& text, const std::string& dir) {
  if (::access("/usr/bin/python3", X_OK) != 0) return "/usr/bin/python3 not found: run scripts/setup.sh";
  const std::string in = dir + "/doc.xml", out = dir + "/xml_check.txt";
  write_text(in, text);
  const int rc =
      run_shell("/usr/bin/python3 -c 'import sys, xml.etree.ElementTree as ET; ET.parse(sys.argv[1])' " +
                shell_quote(in) + " > " + shell_quote(out) + " 2>&1");
  return rc == 0 ? "" : "python3 xml.etree: " + read_text(out);
}

// A results object as `xfmr icl` would write it for d = 5, k = 0..10: five methods with 95% bands and a
// 200-point training curve. The numbers follow the known shapes (least squares exact near k = d, a spike at
// k = d from noise, 3-NN and averaging poor), generated deterministically.
inline nlohmann::json synthetic_results() {
  using nlohmann::json;
  const int d = 5, K = 10;
  const double noise = 0.01;
  json r;
  r["title"] = "In-context linear regression (d = 5)";
  r["command"] = "xfmr icl --d 5 --k-max 10 --steps 10000 --seed 7 --out runs/icl-d5";
  r["d"] = d;
  r["methods"] = {"transformer", "least_squares", "ridge", "3-NN", "averaging"};
  json k = json::array();
  for (int i = 0; i <= K; ++i) k.push_back(i);
  r["k"] = k;
  for (int i = 0; i <= K; ++i) {
    const double x = i;
    const double ls = i < d ? (d - x) / d + noise : i == d ? 0.6 : noise * d / (x - d) + noise;
    const double ridge = 1.0 / ((1 + x / (0.9 * d)) * (1 + x / (0.9 * d))) + 0.004;
    const double tf = ridge * 1.06 + 0.003;
    const double nn = i == 0 ? 1.0 : 1.55 - 0.03 * x;
    const double avg = 1.0 - 0.55 * x / (x + d);
    const std::pair<const char*, double> vals[] = {
        {"transformer", tf}, {"least_squares", ls}, {"ridge", ridge}, {"3-NN", nn}, {"averaging", avg}};
    for (const auto& [m, v] : vals) {
      const double half = 0.02 + 0.12 * v;
      r["error"][m].push_back(v);
      r["error_lo"][m].push_back(std::max(v - half, v * 0.5));
      r["error_hi"][m].push_back(v + half);
    }
  }
  json step = json::array(), loss = json::array();
  for (int i = 0; i < 200; ++i) {
    const double s = 50.0 * i;
    step.push_back(s);
    loss.push_back((0.02 + 0.98 * std::exp(-s / 2000.0)) *
                   (1 + 0.08 * std::sin(0.9 * i) * std::cos(0.37 * i)));
  }
  r["train"] = {{"step", step}, {"loss", loss}};
  r["config"] = {{"task", {{"name", "linear_regression"}, {"d", d}, {"k_max", K}, {"noise_std", 0.1}}},
                 {"model", {{"arch", "gpt"}, {"n_layer", 4}, {"n_head", 4}, {"d_model", 128}}},
                 {"train", {{"steps", 10000}, {"batch_size", 64}, {"lr", 0.0003}, {"seed", 7}}}};
  r["timing"] = {{"train_seconds", 182.4321}, {"eval_seconds", 3.14159}, {"steps_per_second", 54.81}};
  r["notes"] = {
      "Errors are squared errors normalised by d; bands are 95% bootstrap intervals over 1280 prompts."};
  return r;
}

}  // namespace xfmr::test
