// SentencePiece BPE against llama2.c's encode() transcribed to Python (tests/reference/llama2c_encode_ref.py): the
// O(n^2) "scan every pair, merge the first best" loop over the whole text, on seeded random strings, for the Llama 2
// and stories260K vocabularies. Checks the heap-based merge and the chunking at spaces give the same ids.
#include <gtest/gtest.h>

#include <random>

#include "support/python_oracle.h"
#include "tokenizers/tok_test_util.h"
#include "xfmr/tokenizers/sentencepiece.h"
#include "xfmr/tokenizers/utf8.h"

namespace xfmr::tok {
namespace {

std::vector<std::string> random_texts(uint32_t seed, int n) {
  static const char* const kWords[] = {"the", "The", " ", "  ", "   ", "\n", "\n\n", "\t", "Lily", "once", "upon",
                                       "a", "time", ",", ".", "!", "'s", "don't", "123", "4", "é", "café", "日本",
                                       "😀", "\u00a0", "naïve", "ing", "un", "believ", "able", "-", "\"", "▁", "x"};
  std::mt19937 rng(seed);
  std::uniform_int_distribution<size_t> pick(0, std::size(kWords) - 1);
  std::uniform_int_distribution<int> len(0, 14);
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) {
    std::string s;
    for (int k = len(rng); k > 0; --k) s += kWords[pick(rng)];
    out.push_back(s);
  }
  return out;
}

void check_against_llama2c_path(const std::string& path, uint32_t seed) {
  const auto t = load_llama2c_tokenizer(path);
  const auto texts = random_texts(seed, 300);
  const nlohmann::json reply =
      test::call_python_oracle("llama2c_encode_ref.py", {{"tokenizer", path}, {"texts", texts}});
  ASSERT_FALSE(reply.is_null());
  for (size_t k = 0; k < texts.size(); ++k) {
    ASSERT_EQ(t->encode(texts[k]), reply["ids"][k].get<std::vector<int32_t>>()) << path << " text " << k << ": '"
                                                                                 << texts[k] << "'";
    ASSERT_EQ(t->decode(t->encode(texts[k], true)), texts[k]);
  }
}

TEST(SentencePieceOracle, LlamaMatchesLlama2cEncode) { check_against_llama2c_path(test::tok_data("llama2/tokenizer.bin"), 11); }
TEST(SentencePieceOracle, Tok512MatchesLlama2cEncode) { check_against_llama2c_path(test::repo_data("stories260K/tok512.bin"), 12); }

}  // namespace
}  // namespace xfmr::tok
