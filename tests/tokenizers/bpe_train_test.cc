// Byte-level BPE training: the merges and vocabulary on CS336's corpus.en (vocab 500, <|endoftext|>) equal the
// reference fixtures exactly; the written tokenizer.json loads back and round-trips; tie-breaking and bad input.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "support/errors.h"
#include "tokenizers/tok_test_util.h"
#include "xfmr/io/file_util.h"
#include "xfmr/tokenizers/bpe_train.h"
#include "xfmr/tokenizers/byte_level.h"
#include "xfmr/tokenizers/gpt2_bpe.h"
#include "xfmr/tokenizers/tokenizer.h"

namespace xfmr::tok {
namespace {

TEST(BpeTrain, MatchesCs336ReferenceMergesAndVocab) {
  const std::string corpus = test::slurp(test::tok_data("bpe-train-reference/corpus.en"));
  ASSERT_EQ(corpus.size(), 133027u);
  const auto r = train_byte_bpe(corpus, 500, {"<|endoftext|>"});
  ASSERT_EQ(r.vocab.size(), 500u);
  ASSERT_EQ(r.merges.size(), 243u);

  std::vector<std::string> want_merges;
  std::istringstream ms(test::slurp(test::tok_data("bpe-train-reference/train-bpe-reference-merges.txt")));
  std::string line;
  while (std::getline(ms, line))
    if (!line.empty()) want_merges.push_back(line);
  ASSERT_EQ(want_merges.size(), 243u);
  for (size_t i = 0; i < want_merges.size(); ++i)
    ASSERT_EQ(bytes_to_display(r.merges[i].first) + " " + bytes_to_display(r.merges[i].second), want_merges[i])
        << "merge " << i;

  const auto j = nlohmann::json::parse(bpe_to_hf_tokenizer_json(r));
  const auto want_vocab = nlohmann::json::parse(test::slurp(test::tok_data("bpe-train-reference/train-bpe-reference-vocab.json")));
  EXPECT_EQ(j["model"]["vocab"], want_vocab);  // same tokens with the same ids
  EXPECT_EQ(j["model"]["merges"].size(), 243u);
}

TEST(BpeTrain, WrittenTokenizerJsonLoadsAndRoundTrips) {
  const std::string corpus = test::slurp(test::tok_data("bpe-train-reference/corpus.en"));
  const auto r = train_byte_bpe(corpus, 400, {"<|endoftext|>"});
  const std::string path = (std::filesystem::temp_directory_path() / "xfmr_bpe_train_test_tokenizer.json").string();
  io::write_file_atomic(path, bpe_to_hf_tokenizer_json(r));
  const auto t = load_tokenizer(path);
  EXPECT_EQ(t->kind(), "gpt2-bpe");
  EXPECT_EQ(t->vocab_size(), 400);
  EXPECT_EQ(t->eos_id(), 0);
  const std::string text = corpus.substr(0, 5000) + "<|endoftext|>\xff\xfe odd bytes";
  const auto ids = t->encode(text);
  EXPECT_EQ(t->decode(ids), text);
  EXPECT_LT(ids.size(), text.size() * 3 / 5);  // the merges compress English
  // Encoding with the trained merges gives what the merge list implies: the first merge is applied.
  const std::string first = r.merges[0].first + r.merges[0].second;
  const auto one = t->encode(first);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(t->decode(one), first);
  std::filesystem::remove(path);
  // The newer HF format writes merges as ["a", "b"] pairs: same tokenizer.
  auto j = nlohmann::json::parse(bpe_to_hf_tokenizer_json(r));
  for (auto& m : j["model"]["merges"]) {
    const std::string s = m.get<std::string>();
    m = nlohmann::json::array({s.substr(0, s.find(' ')), s.substr(s.find(' ') + 1)});
  }
  const auto pairs = parse_hf_tokenizer_json(j.dump(), "pairs.json");
  EXPECT_EQ(pairs->encode(text), ids);
}

TEST(BpeTrain, TiesGoToTheLexicographicallyGreaterPair) {
  // "ab" and "cd" each occur twice; ("c","d") > ("a","b") as bytes, so it merges first.
  // Counts: "ab"(1) " cd"(2) " ab"(1): pairs (a,b)=2, (" ",c)=2, (c,d)=2, (" ",a)=1; greatest pair of count 2:
  // (" ", "c") < ("a","b") < ("c","d") byte-wise -> ("c","d") must come first.
  const auto r = train_byte_bpe("ab cd ab cd", 256 + 3, {});
  ASSERT_EQ(r.merges.size(), 3u);
  EXPECT_EQ(r.merges[0], (std::pair<std::string, std::string>{"c", "d"}));
  // Then ("a","b") and (" ","cd") tie at 2: "a" > " ", so ("a","b") goes first.
  EXPECT_EQ(r.merges[1], (std::pair<std::string, std::string>{"a", "b"}));
  EXPECT_EQ(r.merges[2], (std::pair<std::string, std::string>{" ", "cd"}));
}

TEST(BpeTrain, SpecialTokensSplitTheCorpusAndBadInput) {
  // Without the split, "x<|endoftext|>x" would merge across it.
  const auto r = train_byte_bpe("ab<|endoftext|>ab<|endoftext|>ab", 258, {"<|endoftext|>"});
  EXPECT_EQ(r.vocab[0], "<|endoftext|>");
  EXPECT_EQ(r.merges[0], (std::pair<std::string, std::string>{"a", "b"}));
  test::expect_error([] { train_byte_bpe("abc", 100, {"<|endoftext|>"}); },
                     {"bpe train", "vocab_size 100", "257"});
  // A corpus with no pairs stops early instead of looping.
  EXPECT_TRUE(train_byte_bpe("a", 1000, {}).merges.empty());
}

}  // namespace
}  // namespace xfmr::tok
