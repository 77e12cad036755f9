// Byte and char tokenizers: exact ids, lossless round trips (the byte one on arbitrary bytes), the char vocabulary
// equals Python's sorted(set(text)), save/load, and clear errors.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "support/errors.h"
#include "tokenizers/tok_test_util.h"
#include "xfmr/tokenizers/byte.h"
#include "xfmr/tokenizers/char.h"

namespace xfmr::tok {
namespace {

TEST(ByteTokenizer, IdsAreBytes) {
  ByteTokenizer t;
  EXPECT_EQ(t.vocab_size(), 256);
  EXPECT_EQ(t.bos_id(), -1);
  const std::string s("a\xff\x00 é", 6);
  EXPECT_EQ(t.encode(s), (std::vector<int32_t>{97, 255, 0, 32, 0xC3, 0xA9}));
  EXPECT_EQ(t.encode(s, /*add_bos=*/true).size(), 6u);  // no BOS in the vocabulary: nothing prepended
  EXPECT_EQ(t.decode(t.encode(s)), s);
}

TEST(ByteTokenizer, BosEosAfterTheBytes) {
  ByteTokenizer t(true, true);
  EXPECT_EQ(t.vocab_size(), 258);
  EXPECT_EQ(t.bos_id(), 256);
  EXPECT_EQ(t.eos_id(), 257);
  EXPECT_EQ(t.encode("hi", true), (std::vector<int32_t>{256, 104, 105}));
  EXPECT_EQ(t.decode({256, 104, 105, 257}), "hi");
  EXPECT_EQ(ByteTokenizer(false, true).eos_id(), 256);
}

TEST(ByteTokenizer, RoundTripsRandomBytes) {
  ByteTokenizer t(true, false);
  std::mt19937 rng(1234);
  for (int i = 0; i < 3000; ++i) {
    const std::string s = test::random_bytes(rng, 64);
    ASSERT_EQ(t.decode(t.encode(s, true)), s);
  }
}

TEST(ByteTokenizer, DecodeRejectsOutOfRangeIds) {
  ByteTokenizer t;
  test::expect_error([&] { t.decode({1, 256}); }, {"byte tokenizer", "id 256", "position 1", "out of range"});
  test::expect_error([&] { t.decode({-1}); }, {"id -1"});
  test::expect_error([&] { t.decode_token(-1, 300); }, {"id 300"});
}

TEST(CharTokenizer, VocabularyIsSortedSetOfCodePoints) {
  // sorted(set("hello wörld\n日")) in Python: ['\n', ' ', 'd', 'e', 'h', 'l', 'o', 'r', 'w', 'ö', '日']
  const auto t = CharTokenizer::from_corpus("hello wörld\n日");
  const std::vector<char32_t> want = {U'\n', U' ', U'd', U'e', U'h', U'l', U'o', U'r', U'w', U'ö', U'日'};
  EXPECT_EQ(t.chars(), want);
  EXPECT_EQ(t.encode("höw 日"), (std::vector<int32_t>{4, 9, 8, 1, 10}));
  EXPECT_EQ(t.decode({4, 9, 8, 1, 10}), "höw 日");
  EXPECT_EQ(t.decode_token(-1, 9), "ö");
}

TEST(CharTokenizer, TinyShakespeareStyleVocabulary) {
  // nanoGPT's shakespeare_char has 65 characters: \n, space, !$&',-.3:;? and the letters.
  std::string corpus = "\n !$&',-.3:;?";
  for (char c = 'A'; c <= 'Z'; ++c) corpus += c;
  for (char c = 'a'; c <= 'z'; ++c) corpus += c;
  const auto t = CharTokenizer::from_corpus(corpus + corpus);
  EXPECT_EQ(t.vocab_size(), 65);
  EXPECT_EQ(t.encode("\n"), std::vector<int32_t>{0});
  EXPECT_EQ(t.encode("A"), std::vector<int32_t>{13});
  EXPECT_EQ(t.encode("z"), std::vector<int32_t>{64});
}

TEST(CharTokenizer, SaveLoadRoundTrip) {
  const auto t = CharTokenizer::from_corpus("abc é\t\"\\😀");
  const std::string path = (std::filesystem::temp_directory_path() / "xfmr_char_tok_test.json").string();
  t.save(path);
  const auto u = CharTokenizer::load(path);
  EXPECT_EQ(u.chars(), t.chars());
  EXPECT_EQ(u.encode("é😀\t"), t.encode("é😀\t"));
  std::filesystem::remove(path);
}

TEST(CharTokenizer, Errors) {
  const auto t = CharTokenizer::from_corpus("abc");
  test::expect_error([&] { t.encode("abxc"); }, {"char tokenizer", "'x' (U+0078)", "character 2", "byte offset 2"});
  test::expect_error([&] { t.encode("ab\xff"); }, {"invalid UTF-8", "0xff", "character 2"});
  test::expect_error([&] { t.decode({0, 3}); }, {"id 3", "position 1", "out of range [0, 3)"});
  test::expect_error([] { CharTokenizer::from_corpus(""); }, {"corpus is empty"});
  test::expect_error([] { CharTokenizer::from_corpus("a\xc3"); }, {"not valid UTF-8", "byte offset 1"});
  test::expect_error([] { CharTokenizer({U'b', U'a'}); }, {"sorted"});
  test::expect_error([] { CharTokenizer::from_json_text("{\"kind\":\"char\"}", "x.json"); }, {"x.json", "chars"});
  test::expect_error([] { CharTokenizer::from_json_text("{\"kind\":\"char\",\"chars\":[\"ab\"]}", "x.json"); },
                     {"chars[0]", "one UTF-8 character"});
  test::expect_error([] { CharTokenizer::from_json_text("{\"kind\":", "x.json"); }, {"x.json", "invalid JSON"});
  test::expect_error([] { CharTokenizer::load("/nonexistent/tok.json"); }, {"/nonexistent/tok.json"});
}

}  // namespace
}  // namespace xfmr::tok
