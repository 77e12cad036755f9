// load_tokenizer: every supported format is recognised from its content or name (folders, files, renamed files),
// and unsupported or missing paths give one clear error.
#include <gtest/gtest.h>

#include <filesystem>

#include "support/errors.h"
#include "tokenizers/tok_test_util.h"
#include "xfmr/tokenizers/char.h"
#include "xfmr/tokenizers/tokenizer.h"

namespace xfmr::tok {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  fs::path p;
  explicit TempDir(const std::string& tag) : p(fs::temp_directory_path() / ("xfmr_load_tok_" + tag)) {
    fs::remove_all(p);
    fs::create_directories(p);
  }
  ~TempDir() { fs::remove_all(p); }
};

TEST(LoadTokenizer, DetectsEachFormat) {
  auto gpt2 = load_tokenizer(test::tok_data("gpt2"));
  EXPECT_EQ(gpt2->kind(), "gpt2-bpe");
  EXPECT_EQ(gpt2->encode("Hello world"), (std::vector<int32_t>{15496, 995}));
  EXPECT_EQ(load_tokenizer(test::tok_data("gpt2/vocab.json"))->kind(), "gpt2-bpe");  // merges.txt beside it
  for (const char* f : {"llama2/tokenizer.bin", "llama2/tokenizer.model"}) {
    auto t = load_tokenizer(test::tok_data(f));
    EXPECT_EQ(t->kind(), "sentencepiece-bpe") << f;
    EXPECT_EQ(t->encode("I believe the meaning of life is", true),
              (std::vector<int32_t>{1, 306, 4658, 278, 6593, 310, 2834, 338}))
        << f;
  }
  EXPECT_EQ(load_tokenizer(test::tok_data("stories260K/tok512.bin"))->vocab_size(), 512);

  TempDir d("formats");
  // Renamed files are recognised by content: a ModelProto and a llama2.c export without their usual names.
  fs::copy_file(test::tok_data("llama2/tokenizer.model"), d.p / "spm.weird");
  EXPECT_EQ(load_tokenizer((d.p / "spm.weird").string())->vocab_size(), 32000);
  fs::copy_file(test::tok_data("stories260K/tok512.bin"), d.p / "tok.data");
  EXPECT_EQ(load_tokenizer((d.p / "tok.data").string())->vocab_size(), 512);
  // A folder holding only tokenizer.model / tokenizer.bin.
  fs::create_directories(d.p / "m");
  fs::copy_file(test::tok_data("llama2/tokenizer.model"), d.p / "m" / "tokenizer.model");
  EXPECT_EQ(load_tokenizer((d.p / "m").string())->kind(), "sentencepiece-bpe");
  fs::create_directories(d.p / "b");
  fs::copy_file(test::tok_data("stories260K/tok512.bin"), d.p / "b" / "tokenizer.bin");
  EXPECT_EQ(load_tokenizer((d.p / "b").string())->vocab_size(), 512);
  // Char vocabulary JSON.
  CharTokenizer::from_corpus("hello").save((d.p / "chars.json").string());
  auto c = load_tokenizer((d.p / "chars.json").string());
  EXPECT_EQ(c->kind(), "char");
  EXPECT_EQ(c->encode("hello"), (std::vector<int32_t>{1, 0, 2, 2, 3}));
}

TEST(LoadTokenizer, ClearErrors) {
  TempDir d("errors");
  test::expect_error([&] { load_tokenizer((d.p / "nope").string()); }, {"nope", "no such tokenizer"});
  test::expect_error([&] { load_tokenizer(d.p.string()); }, {"no tokenizer in this folder", "tokenizer.model"});
  std::ofstream(d.p / "v.gguf") << "GGUF";
  test::expect_error([&] { load_tokenizer((d.p / "v.gguf").string()); },
                     {"v.gguf", "GGUF vocabularies are loaded by io/gguf (not yet wired)"});
  std::ofstream(d.p / "gguf_noext") << "GGUF\x03";
  test::expect_error([&] { load_tokenizer((d.p / "gguf_noext").string()); }, {"GGUF vocabularies"});
  std::ofstream(d.p / "bad.json") << "{\"kind\": \"char\", \"chars\": [";
  test::expect_error([&] { load_tokenizer((d.p / "bad.json").string()); }, {"bad.json", "invalid JSON"});
  std::ofstream(d.p / "kind.json") << "{\"kind\": \"wordpiece\"}";
  test::expect_error([&] { load_tokenizer((d.p / "kind.json").string()); }, {"kind.json", "unknown tokenizer kind"});
  std::ofstream(d.p / "vocab.json") << "{\"a\": 0}";
  test::expect_error([&] { load_tokenizer((d.p / "vocab.json").string()); }, {"vocab.json", "no merges.txt"});
  std::ofstream(d.p / "x.bin") << "abc";
  test::expect_error([&] { load_tokenizer((d.p / "x.bin").string()); }, {"x.bin", "llama2.c tokenizer"});
  std::ofstream(d.p / "x.model") << "\x0a\x05" "ab";
  test::expect_error([&] { load_tokenizer((d.p / "x.model").string()); }, {"x.model", "corrupt SentencePiece model"});
}

}  // namespace
}  // namespace xfmr::tok
