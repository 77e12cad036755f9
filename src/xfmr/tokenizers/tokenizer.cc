#include "xfmr/tokenizers/tokenizer.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "xfmr/core/check.h"
#include "xfmr/io/file_util.h"
#include "xfmr/tokenizers/char.h"
#include "xfmr/tokenizers/gpt2_bpe.h"
#include "xfmr/tokenizers/sentencepiece.h"

namespace xfmr::tok {

namespace fs = std::filesystem;

namespace {

[[noreturn]] void gguf_not_wired(const std::string& path) {
  throw Error(detail::concat("'", path, "': GGUF vocabularies are loaded by io/gguf (not yet wired)"));
}

std::unique_ptr<Tokenizer> load_folder(const fs::path& dir) {
  if (fs::exists(dir / "tokenizer.json")) return load_hf_tokenizer_json((dir / "tokenizer.json").string());
  if (fs::exists(dir / "vocab.json") && fs::exists(dir / "merges.txt"))
    return load_gpt2_vocab_merges((dir / "vocab.json").string(), (dir / "merges.txt").string());
  if (fs::exists(dir / "tokenizer.model")) return load_sentencepiece_model((dir / "tokenizer.model").string());
  if (fs::exists(dir / "tokenizer.bin")) return load_llama2c_tokenizer((dir / "tokenizer.bin").string());
  throw Error(detail::concat("'", dir.string(),
                             "': no tokenizer in this folder (looked for tokenizer.json, vocab.json + merges.txt, "
                             "tokenizer.model, tokenizer.bin)"));
}

std::unique_ptr<Tokenizer> load_json_file(const fs::path& path, const std::string& text) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw Error(detail::concat("'", path.string(), "': invalid JSON: ", e.what()));
  }
  XF_CHECK(j.is_object(), "'", path.string(), "': a tokenizer JSON file must be an object");
  if (j.contains("kind") && j["kind"].is_string()) {  // (a GPT-2 vocab.json has a token "kind" with an integer id)
    XF_CHECK(j["kind"] == "char", "'", path.string(), "': unknown tokenizer kind ", j["kind"].dump());
    return std::make_unique<CharTokenizer>(CharTokenizer::from_json_text(text, path.string()));
  }
  if (j.contains("model") && j["model"].is_object()) return parse_hf_tokenizer_json(text, path.string());
  // A GPT-2 vocab.json: its merges.txt must sit beside it.
  const fs::path merges = path.parent_path() / "merges.txt";
  XF_CHECK(fs::exists(merges), "'", path.string(),
           "': looks like a GPT-2 vocab.json but there is no merges.txt beside it");
  return load_gpt2_vocab_merges(path.string(), merges.string());
}

}  // namespace

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path) {
  const fs::path p(path);
  std::error_code ec;
  XF_CHECK(fs::exists(p, ec), "'", path, "': no such tokenizer file or folder");
  if (fs::is_directory(p, ec)) return load_folder(p);
  if (p.extension() == ".gguf") gguf_not_wired(path);
  const std::string data = io::read_file(path);
  if (data.starts_with("GGUF")) gguf_not_wired(path);
  const size_t first = data.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && data[first] == '{') return load_json_file(p, data);
  if (p.extension() == ".model") return parse_sentencepiece_model(data, path);
  if (p.extension() == ".bin") return parse_llama2c_tokenizer(data, path);
  // Unknown name: a ModelProto starts with field 1 (pieces), length-delimited: tag byte 0x0A.
  if (!data.empty() && data[0] == '\x0a') return parse_sentencepiece_model(data, path);
  return parse_llama2c_tokenizer(data, path);
}

}  // namespace xfmr::tok
