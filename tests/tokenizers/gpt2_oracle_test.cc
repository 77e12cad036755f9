// GPT-2 BPE against an independent Python implementation of encoder.py (tests/reference/gpt2_bpe_ref.py) on
// seeded random strings drawn from many Unicode categories: letters of several scripts, digits and other numbers,
// combining marks, symbols, emoji, Unicode spaces, apostrophes/contractions. Checks the hand-written pre-tokenizer,
// the generated \p{L}/\p{N} tables and the merge loop beyond the fixed golden cases.
#include <gtest/gtest.h>

#include <random>

#include "support/python_oracle.h"
#include "tokenizers/tok_test_util.h"
#include "xfmr/tokenizers/byte_level.h"
#include "xfmr/tokenizers/gpt2_bpe.h"
#include "xfmr/tokenizers/utf8.h"

namespace xfmr::tok {
namespace {

std::string random_unicode_text(std::mt19937& rng) {
  // Pieces chosen to hit every branch of the pattern, mixed at random.
  static const char32_t kPalette[] = {
      U'a', U'Z', U'q', U' ', U' ', U' ', U'\n', U'\t', U'\r', U'0', U'7', U'\'', U'\'', U's', U't', U'l', U'v', U'r',
      U'e', U'd', U'm', U'.', U',', U'!', U'-', U'(', U'"', U'é', U'ß', U'Ω', U'Ж', U'日', U'本', U'한', U'ـ',
      U'\u0301',  // combining acute (Mn: neither L nor N)
      U'\u0663',  // ARABIC-INDIC DIGIT THREE (Nd)
      U'½', U'²', U'Ⅻ', U'\u00a0', U'\u2003', U'\u3000', U'\u2028', U'\u0085', U'€', U'©', U'😀', U'🦙', U'\u200d',
      U'\U00010400' /* Deseret capital (L, 4 bytes) */, U'\u16ee' /* runic Nl */, U'\u1c00' /* Lepcha letter */};
  std::uniform_int_distribution<size_t> pick(0, std::size(kPalette) - 1);
  std::uniform_int_distribution<int> len(0, 24);
  std::string s;
  for (int n = len(rng), i = 0; i < n; ++i) utf8_append(s, kPalette[pick(rng)]);
  return s;
}

TEST(Gpt2Oracle, MatchesEncoderPyOnRandomUnicode) {
  const auto t = load_gpt2_vocab_merges(test::tok_data("gpt2/vocab.json"), test::tok_data("gpt2/merges.txt"));
  std::mt19937 rng(2024);
  std::vector<std::string> texts = {"", "'s'S 'LL", "a\u0301b", "x\u00a0\u00a0y", "\u3000\u3000a", "3\u0663\u00bd"};
  for (int i = 0; i < 400; ++i) texts.push_back(random_unicode_text(rng));
  const nlohmann::json reply = test::call_python_oracle(
      "gpt2_bpe_ref.py",
      {{"vocab", test::tok_data("gpt2/vocab.json")}, {"merges", test::tok_data("gpt2/merges.txt")}, {"texts", texts}});
  ASSERT_FALSE(reply.is_null());
  for (size_t k = 0; k < texts.size(); ++k) {
    std::vector<std::string> pre;
    for (size_t i = 0; i < texts[k].size();) {
      const size_t e = gpt2_pretoken_end(texts[k], i);
      pre.push_back(texts[k].substr(i, e - i));
      i = e;
    }
    ASSERT_EQ(pre, reply["pretokens"][k].get<std::vector<std::string>>()) << "text " << k << ": '" << texts[k] << "'";
    ASSERT_EQ(t->encode_ordinary(texts[k]), reply["ids"][k].get<std::vector<int32_t>>()) << "text " << k;
    ASSERT_EQ(t->decode(t->encode(texts[k])), texts[k]);
  }
}

}  // namespace
}  // namespace xfmr::tok
