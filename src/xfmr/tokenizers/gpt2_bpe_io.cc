// Loaders for GPT-2 BPE files: vocab.json + merges.txt (OpenAI / HF "slow" files) and HF tokenizer.json.
#include <nlohmann/json.hpp>

#include "xfmr/core/check.h"
#include "xfmr/io/file_util.h"
#include "xfmr/tokenizers/gpt2_bpe.h"

namespace xfmr::tok {

namespace {

nlohmann::json parse_json(const std::string& text, const std::string& what) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw Error(detail::concat("'", what, "': invalid JSON: ", e.what()));
  }
}

std::unordered_map<std::string, int32_t> vocab_from_json(const nlohmann::json& j, const std::string& what) {
  XF_CHECK(j.is_object() && !j.empty(), "'", what,
           "': the vocabulary must be a non-empty JSON object {token: id}");
  std::unordered_map<std::string, int32_t> vocab;
  vocab.reserve(j.size());
  for (const auto& [tok, id] : j.items()) {
    XF_CHECK(id.is_number_integer() && id.get<int64_t>() >= 0 && id.get<int64_t>() < (1 << 30), "'", what,
             "': the id of token '", tok, "' is not a non-negative integer");
    vocab.emplace(tok, id.get<int32_t>());
  }
  return vocab;
}

Gpt2BpeTokenizer::Merge split_merge(std::string_view line, const std::string& what, size_t lineno) {
  const size_t sp = line.find(' ');
  XF_CHECK(sp != std::string_view::npos && sp > 0 && sp + 1 < line.size() &&
               line.find(' ', sp + 1) == std::string_view::npos,
           "'", what, "': line ", lineno, " '", std::string(line),
           "' is not two tokens separated by one space");
  return {std::string(line.substr(0, sp)), std::string(line.substr(sp + 1))};
}

// obj[key] when it is a string, "" when absent; any other type is a named error (nlohmann's value() would
// throw its own type_error, which callers do not expect from a parser).
std::string optional_string(const nlohmann::json& obj, const char* section, const char* key,
                            const std::string& what) {
  if (!obj.is_object() || !obj.contains(key) || obj[key].is_null()) return "";
  XF_CHECK(obj[key].is_string(), "'", what, "': ", section, ".", key, " must be a string");
  return obj[key].get<std::string>();
}

bool optional_bool(const nlohmann::json& obj, const char* section, const char* key, const std::string& what) {
  if (!obj.is_object() || !obj.contains(key) || obj[key].is_null()) return false;
  XF_CHECK(obj[key].is_boolean(), "'", what, "': ", section, ".", key, " must be true or false");
  return obj[key].get<bool>();
}

template <class F>
auto with_context(const std::string& what, F&& f) {
  try {
    return f();
  } catch (const Error& e) {
    const std::string msg = e.what();
    if (msg.find(what) != std::string::npos) throw;
    throw Error(detail::concat("'", what, "': ", msg));
  }
}

}  // namespace

std::unique_ptr<Gpt2BpeTokenizer> load_gpt2_vocab_merges(const std::string& vocab_json,
                                                         const std::string& merges_txt) {
  const auto vocab = vocab_from_json(parse_json(io::read_file(vocab_json), vocab_json), vocab_json);
  const std::string text = io::read_file(merges_txt);
  std::vector<Gpt2BpeTokenizer::Merge> merges;
  size_t lineno = 0;
  for (size_t pos = 0; pos < text.size();) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    std::string_view line(text.data() + pos, nl - pos);
    pos = nl + 1;
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || (lineno == 1 && line.starts_with("#version"))) continue;
    merges.push_back(split_merge(line, merges_txt, lineno));
  }
  return with_context(vocab_json + "' + '" + merges_txt,
                      [&] { return std::make_unique<Gpt2BpeTokenizer>(vocab, merges); });
}

std::unique_ptr<Gpt2BpeTokenizer> parse_hf_tokenizer_json(const std::string& json_text,
                                                          const std::string& what) {
  const nlohmann::json j = parse_json(json_text, what);
  XF_CHECK(j.is_object() && j.contains("model") && j["model"].is_object(), "'", what,
           "': not a Hugging Face tokenizer.json (no \"model\" object)");
  const auto& m = j["model"];
  const std::string type = optional_string(m, "model", "type", what);
  XF_CHECK(type == "BPE", "'", what, "': model.type is '", type, "'; only byte-level BPE is supported");
  const auto& pre = j.contains("pre_tokenizer") ? j["pre_tokenizer"] : nlohmann::json();
  const std::string pre_type = optional_string(pre, "pre_tokenizer", "type", what);
  XF_CHECK(pre_type == "ByteLevel" && !optional_bool(m, "model", "byte_fallback", what), "'", what,
           "': only GPT-2 style byte-level BPE (pre_tokenizer ByteLevel) is supported; this one has "
           "pre_tokenizer '",
           pre_type, "' (for SentencePiece models use tokenizer.model)");
  XF_CHECK(!optional_bool(pre, "pre_tokenizer", "add_prefix_space", what), "'", what,
           "': ByteLevel add_prefix_space is not supported");
  XF_CHECK(m.contains("vocab") && m.contains("merges") && m["merges"].is_array(), "'", what,
           "': model needs \"vocab\" and a \"merges\" array");
  auto vocab = vocab_from_json(m["vocab"], what + "' model.vocab '");
  std::vector<Gpt2BpeTokenizer::Merge> merges;
  merges.reserve(m["merges"].size());
  for (size_t r = 0; r < m["merges"].size(); ++r) {
    const auto& e = m["merges"][r];
    if (e.is_string()) {
      merges.push_back(split_merge(e.get<std::string>(), what, r + 1));
    } else {
      XF_CHECK(e.is_array() && e.size() == 2 && e[0].is_string() && e[1].is_string(), "'", what, "': merges[",
               r, "] is neither \"a b\" nor [\"a\", \"b\"]");
      merges.emplace_back(e[0].get<std::string>(), e[1].get<std::string>());
    }
  }
  std::vector<std::string> specials;
  if (j.contains("added_tokens") && j["added_tokens"].is_array()) {
    for (const auto& t : j["added_tokens"]) {
      XF_CHECK(
          t.is_object() && t.contains("id") && t["id"].is_number_integer() && t["id"].get<int64_t>() >= 0 &&
              t["id"].get<int64_t>() < (1 << 30) && t.contains("content") && t["content"].is_string(),
          "'", what, "': an added_tokens entry lacks a non-negative integer \"id\" or a string \"content\"");
      const std::string content = t["content"].get<std::string>();
      vocab.emplace(content, t["id"].get<int32_t>());
      specials.push_back(content);  // HF matches every added token in the text, special or not
    }
  }
  return with_context(what, [&] { return std::make_unique<Gpt2BpeTokenizer>(vocab, merges, specials); });
}

std::unique_ptr<Gpt2BpeTokenizer> load_hf_tokenizer_json(const std::string& path) {
  return parse_hf_tokenizer_json(io::read_file(path), path);
}

}  // namespace xfmr::tok
