// The stories260K files under data/stories260K (see its SOURCES.md) and their golden outputs from llama2.c.
#pragma once
#include <cstdint>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace xfmr::test {

inline std::string stories_dir() {
  const char* src = std::getenv("XFMR_SOURCE_DIR");
  return std::string(src ? src : XFMR_SOURCE_DIR) + "/data/stories260K/";
}
inline std::string stories_bin() {
  return stories_dir() + "stories260K.bin";
}
inline std::string stories_gguf() {
  return stories_dir() + "stories260K.gguf";
}
inline std::string stories_tok() {
  return stories_dir() + "tok512.bin";
}

inline const nlohmann::json& stories_golden() {
  static const nlohmann::json j = [] {
    std::ifstream f(stories_dir() + "golden.json");
    return nlohmann::json::parse(f);
  }();
  return j;
}

// [200, 512] f32: row i = logits after feeding golden token_ids[i] at position i.
inline std::vector<float> stories_logits() {
  std::ifstream f(stories_dir() + "greedy_from_bos_200.logits.f32", std::ios::binary);
  std::vector<float> v(200 * 512);
  f.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(v.size() * 4));
  return v;
}

// One golden greedy run: the prompt ids and the whole sequence run.c produced (prompt included).
struct GoldenRun {
  std::string prompt;  // "" for the run from BOS
  std::vector<int32_t> prompt_ids, all_ids;
  std::string text;  // run.c's stdout
};

inline std::vector<GoldenRun> stories_golden_runs() {
  const auto& g = stories_golden();
  std::vector<GoldenRun> runs;
  const auto& b = g["greedy_from_bos_200"];
  runs.push_back({"", {1}, b["token_ids"].get<std::vector<int32_t>>(), b["text_runc"].get<std::string>()});
  for (const auto& p : g["prompted_greedy"])
    runs.push_back({p["prompt"].get<std::string>(), p["prompt_token_ids"].get<std::vector<int32_t>>(),
                    p["token_ids"].get<std::vector<int32_t>>(), p["text_runc"].get<std::string>()});
  return runs;
}

}  // namespace xfmr::test
