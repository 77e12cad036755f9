// GPT-2 byte-level BPE: exact ids against OpenAI's encoder (npm gpt-3-encoder goldens) and llama.cpp's GPT-2
// vocab test vectors, special-token handling as HF/tiktoken, lossless round trips on arbitrary bytes, the
// pre-tokenizer on its corner cases, and loader errors.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>

#include "support/errors.h"
#include "tokenizers/tok_test_util.h"
#include "xfmr/tokenizers/byte_level.h"
#include "xfmr/tokenizers/gpt2_bpe.h"

namespace xfmr::tok {
namespace {

const Gpt2BpeTokenizer& gpt2() {
  static const auto t =
      load_gpt2_vocab_merges(test::tok_data("gpt2/vocab.json"), test::tok_data("gpt2/merges.txt"));
  return *t;
}

std::vector<std::string> split_on(const std::string& s, const std::string& sep) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (true) {
    const size_t k = s.find(sep, pos);
    if (k == std::string::npos) break;
    out.push_back(s.substr(pos, k - pos));
    pos = k + sep.size();
  }
  out.push_back(s.substr(pos));
  return out;
}

std::vector<int32_t> parse_ids_line(const std::string& line) {
  std::vector<int32_t> ids;
  std::istringstream ss(line);
  int32_t v;
  while (ss >> v) ids.push_back(v);
  return ids;
}

std::vector<std::string> pretokens(std::string_view s) {
  std::vector<std::string> out;
  for (size_t i = 0; i < s.size();) {
    const size_t e = gpt2_pretoken_end(s, i);
    out.emplace_back(s.substr(i, e - i));
    i = e;
  }
  return out;
}

using V = std::vector<std::string>;

TEST(Gpt2Pretokenizer, MatchesTheRegexOnCornerCases) {
  EXPECT_EQ(pretokens("Hello world"), (V{"Hello", " world"}));
  EXPECT_EQ(pretokens("I'll they're it's 'x"), (V{"I", "'ll", " they", "'re", " it", "'s", " '", "x"}));
  EXPECT_EQ(pretokens("a   b"), (V{"a", "  ", " b"}));  // \s+(?!\S) leaves the last space to " b"
  EXPECT_EQ(pretokens("a \n b"), (V{"a", " \n", " b"}));
  EXPECT_EQ(pretokens("a\nb"), (V{"a", "\n", "b"}));  // a single whitespace char: \s+
  EXPECT_EQ(pretokens("end   "), (V{"end", "   "}));  // trailing run: all of it
  EXPECT_EQ(pretokens("x123 45!!?  ,"), (V{"x", "123", " 45", "!!?", " ", " ,"}));
  EXPECT_EQ(pretokens("naïve 日本語"), (V{"naïve", " 日本語"}));
  EXPECT_EQ(pretokens("½ ٣"), (V{"½", " ٣"}));  // \p{N} includes No and Arabic-Indic digits
  EXPECT_EQ(pretokens("a\u00a0\u00a0b"), (V{"a", "\u00a0", "\u00a0", "b"}));  // NBSP is \s but not ' '
  EXPECT_EQ(pretokens("''s"), (V{"''", "s"}));
  EXPECT_EQ(pretokens("a\xff\xfe b"),
            (V{"a", "\xff\xfe", " b"}));  // invalid UTF-8: one "other" char per byte
}

TEST(Gpt2ByteLevel, BytesToUnicodeTable) {
  EXPECT_EQ(byte_to_display()['!'], U'!');
  EXPECT_EQ(byte_to_display()[' '], U'Ġ');  // U+0120
  EXPECT_EQ(byte_to_display()['\n'], U'Ċ');
  EXPECT_EQ(byte_to_display()[0], U'Ā');
  EXPECT_EQ(byte_to_display()[0xAD], U'Ń');  // the soft hyphen is the last remapped byte: U+0143
  EXPECT_EQ(bytes_in_display_order()[0], '!');
  std::string raw;
  ASSERT_TRUE(display_to_bytes("ĠhelloĊ", raw));
  EXPECT_EQ(raw, " hello\n");
  EXPECT_FALSE(display_to_bytes("☃", raw));
}

TEST(Gpt2Bpe, GoldenEncodingsFromOpenAIEncoder) {
  const auto g = nlohmann::json::parse(test::slurp(test::tok_data("gpt2/golden_encodings.json")));
  int n = 0;
  for (const auto& c : g["cases"]) {
    std::string text;
    if (c.contains("text")) {
      text = c["text"].get<std::string>();
    } else {
      std::string file = c["file"].get<std::string>();
      if (file.find("tinyshakespeare") != std::string::npos) file = "testtexts/tinyshakespeare_first4000.txt";
      text = test::slurp(test::tok_data("gpt2/" + file));
      ASSERT_FALSE(text.empty()) << file;
    }
    const auto want = c["ids"].get<std::vector<int32_t>>();
    // The goldens are plain BPE: "<|endoftext|>" in the text is ordinary text there.
    EXPECT_EQ(gpt2().encode_ordinary(text), want) << c.dump().substr(0, 120);
    EXPECT_EQ(gpt2().decode(want), text);
    ++n;
  }
  EXPECT_EQ(n, 10);
}

TEST(Gpt2Bpe, LlamaCppVocabVectors) {
  const auto inputs = split_on(test::slurp(test::tok_data("gguf-vocab/ggml-vocab-gpt-2.gguf.inp")),
                               "\n__ggml_vocab_test__\n");
  const auto outputs = split_on(test::slurp(test::tok_data("gguf-vocab/ggml-vocab-gpt-2.gguf.out")), "\n");
  ASSERT_EQ(inputs.size(), 47u);
  ASSERT_EQ(outputs.size(), inputs.size());
  for (size_t k = 0; k < inputs.size(); ++k) {
    EXPECT_EQ(gpt2().encode(inputs[k]), parse_ids_line(outputs[k]))
        << "case " << k << ": '" << inputs[k] << "'";
    EXPECT_EQ(gpt2().decode(gpt2().encode(inputs[k])), inputs[k]);
  }
}

TEST(Gpt2Bpe, SpecialTokenIsRecognisedInText) {
  EXPECT_EQ(gpt2().eos_id(), 50256);
  EXPECT_EQ(gpt2().bos_id(), 50256);
  EXPECT_EQ(gpt2().vocab_size(), 50257);
  // tiktoken gpt2, allowed_special="all": "Hello<|endoftext|> world" -> [15496, 50256, 995]
  EXPECT_EQ(gpt2().encode("Hello<|endoftext|> world"), (std::vector<int32_t>{15496, 50256, 995}));
  EXPECT_EQ(gpt2().encode("<|endoftext|>"), (std::vector<int32_t>{50256}));
  EXPECT_EQ(gpt2().encode("hi", true), (std::vector<int32_t>{50256, 5303}));
  EXPECT_EQ(gpt2().decode({15496, 50256, 995}), "Hello<|endoftext|> world");
  EXPECT_GT(gpt2().encode_ordinary("<|endoftext|>").size(), 1u);
  // The TinyStories sample separates stories with <|endoftext|>: each one becomes 50256 and the rest is
  // unchanged.
  const std::string ts = test::slurp(test::tok_data("gpt2/testtexts/tinystories_sample.txt"));
  const auto ids = gpt2().encode(ts);
  EXPECT_EQ(gpt2().decode(ids), ts);
  size_t n_eot = 0, pos = 0;
  while ((pos = ts.find("<|endoftext|>", pos)) != std::string::npos) ++n_eot, ++pos;
  EXPECT_GT(n_eot, 0u);
  EXPECT_EQ(static_cast<size_t>(std::count(ids.begin(), ids.end(), 50256)), n_eot);
}

TEST(Gpt2Bpe, RoundTripsTestTextsAndRandomBytes) {
  for (const char* f :
       {"address.txt", "german.txt", "tinystories_sample.txt", "tinyshakespeare_first4000.txt"}) {
    const std::string s = test::slurp(test::tok_data(std::string("gpt2/testtexts/") + f));
    EXPECT_EQ(gpt2().decode(gpt2().encode(s)), s) << f;
    EXPECT_EQ(gpt2().decode(gpt2().encode_ordinary(s)), s) << f;
  }
  std::mt19937 rng(42);
  for (int i = 0; i < 3000; ++i) {
    const std::string s = test::random_bytes(rng, 80);
    const auto ids = gpt2().encode(s);
    ASSERT_EQ(gpt2().decode(ids), s) << "case " << i;
    std::string streamed;
    int32_t prev = -1;
    for (const int32_t id : ids) streamed += gpt2().decode_token(prev, id), prev = id;
    ASSERT_EQ(streamed, s);
  }
  // A long pre-token (one word of 20000 letters) goes through the heap-based merge without quadratic cost.
  const std::string long_word(20000, 'a');
  EXPECT_EQ(gpt2().decode(gpt2().encode(long_word)), long_word);
}

TEST(Gpt2Bpe, FromTokenListMatchesFileLoader) {
  const auto vocab = nlohmann::json::parse(test::slurp(test::tok_data("gpt2/vocab.json")));
  std::vector<std::string> tokens(vocab.size());
  for (const auto& [tok, id] : vocab.items()) tokens[id.get<size_t>()] = tok;
  std::vector<std::string> merges;
  std::istringstream ms(test::slurp(test::tok_data("gpt2/merges.txt")));
  std::string line;
  std::getline(ms, line);  // #version
  while (std::getline(ms, line))
    if (!line.empty()) merges.push_back(line);
  const auto t = Gpt2BpeTokenizer::from_token_list(tokens, merges);
  const std::string s = "Hello, y'all! How are you 😁 ?<|endoftext|>";
  EXPECT_EQ(t->encode(s), gpt2().encode(s));
}

TEST(Gpt2Bpe, DecodeRejectsUnknownIds) {
  test::expect_error(
      [] {
        gpt2().decode({15496, 50257});
      },
      {"gpt2 bpe", "id 50257", "position 1", "not in the vocabulary"});
  test::expect_error([] { gpt2().decode({-3}); }, {"id -3"});
  test::expect_error([] { gpt2().decode_token(-1, 99999); }, {"id 99999"});
}

TEST(Gpt2Bpe, BadFilesGiveClearErrors) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / "xfmr_gpt2_bad";
  fs::create_directories(dir);
  auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir / name, std::ios::binary) << text;
    return (dir / name).string();
  };
  const std::string vocab = test::tok_data("gpt2/vocab.json"), merges = test::tok_data("gpt2/merges.txt");
  test::expect_error([&] { load_gpt2_vocab_merges((dir / "missing.json").string(), merges); },
                     {"missing.json"});
  test::expect_error([&] { load_gpt2_vocab_merges(write("trunc.json", "{\"a\": 1, \"b\""), merges); },
                     {"trunc.json", "invalid JSON"});
  test::expect_error([&] { load_gpt2_vocab_merges(write("arr.json", "[1, 2]"), merges); },
                     {"arr.json", "JSON object"});
  test::expect_error([&] { load_gpt2_vocab_merges(write("neg.json", "{\"a\": -1}"), merges); },
                     {"neg.json", "'a'"});
  test::expect_error([&] { load_gpt2_vocab_merges(write("small.json", "{\"a\": 0, \"b\": 1}"), merges); },
                     {"small.json", "single-byte token"});
  test::expect_error([&] { load_gpt2_vocab_merges(vocab, write("m1.txt", "#version: 0.2\nĠ t\nnospace\n")); },
                     {"m1.txt", "line 3", "'nospace'"});
  test::expect_error([&] { load_gpt2_vocab_merges(vocab, write("m2.txt", "Ġ t\n☃ ☃\n")); },
                     {"m2.txt", "merge 1", "not in the vocabulary"});
  test::expect_error([&] { parse_hf_tokenizer_json("{\"model\": {\"type\": \"Unigram\"}}", "t.json"); },
                     {"t.json", "Unigram"});
  test::expect_error([&] { parse_hf_tokenizer_json("{\"version\": 1}", "t.json"); }, {"t.json", "\"model\""});
  test::expect_error(
      [&] {
        parse_hf_tokenizer_json(
            R"({"pre_tokenizer": {"type": "Metaspace"}, "model": {"type": "BPE", "vocab": {}, "merges": []}})",
            "t.json");
      },
      {"t.json", "Metaspace", "tokenizer.model"});
  test::expect_error(
      [&] {
        parse_hf_tokenizer_json(
            R"({"pre_tokenizer": {"type": "ByteLevel"}, "model": {"type": "BPE", "vocab": {"a": 0}, "merges": [7]}})",
            "t.json");
      },
      {"t.json", "merges[0]"});
  // Mistyped optional fields are named errors, not nlohmann type_errors (the first is a libFuzzer finding).
  test::expect_error([&] { parse_hf_tokenizer_json(R"({"model":{"type":["; ["]}})", "t.json"); },
                     {"t.json", "model.type must be a string"});
  test::expect_error(
      [&] {
        parse_hf_tokenizer_json(R"({"pre_tokenizer": {"type": 3}, "model": {"type": "BPE"}})", "t.json");
      },
      {"t.json", "pre_tokenizer.type must be a string"});
  test::expect_error(
      [&] {
        parse_hf_tokenizer_json(
            R"({"pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": "no"}, "model": {"type": "BPE"}})",
            "t.json");
      },
      {"t.json", "pre_tokenizer.add_prefix_space must be true or false"});
  test::expect_error(
      [&] {
        parse_hf_tokenizer_json(
            R"({"pre_tokenizer": {"type": "ByteLevel"}, "model": {"type": "BPE", "byte_fallback": 1}})",
            "t.json");
      },
      {"t.json", "model.byte_fallback must be true or false"});
  fs::remove_all(dir);
}

}  // namespace
}  // namespace xfmr::tok
