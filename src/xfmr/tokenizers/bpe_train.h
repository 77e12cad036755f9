// Byte-level BPE training (Sennrich et al. 2016, "Neural Machine Translation of Rare Words with Subword Units";
// byte-level as GPT-2): the corpus is split at special tokens, pre-tokenized with GPT-2's pattern, pre-token
// frequencies are counted, and the most frequent adjacent pair of tokens is merged repeatedly. Ties on count go to
// the lexicographically greater pair of byte strings (compared first on the left token, then the right), as the
// Stanford CS336 reference implementation does. Pair counts are updated incrementally: each merge touches only the
// pre-tokens that contain the merged pair.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace xfmr::tok {

struct BpeTrainResult {
  // id -> raw bytes: the special tokens first (ids 0..), then the 256 bytes in GPT-2's bytes_to_unicode order, then
  // one token per merge (a merge that recreates an existing byte string reuses its id and adds no entry).
  std::vector<std::string> vocab;
  std::vector<std::pair<std::string, std::string>> merges;  // raw bytes, in merge order
  std::vector<std::string> special_tokens;
  // Statistics.
  size_t corpus_bytes = 0, distinct_pretokens = 0;
  double pretokenize_seconds = 0, merge_seconds = 0;
};

// vocab_size counts the special tokens and the 256 bytes; Error when it is smaller than that. Training stops early
// when no pair occurs any more.
BpeTrainResult train_byte_bpe(std::string_view corpus, int vocab_size, const std::vector<std::string>& special_tokens);

// The result as a Hugging Face tokenizer.json (BPE model, ByteLevel pre-tokenizer and decoder, display-form vocab and
// "left right" merges, special tokens as added_tokens), loadable by load_hf_tokenizer_json and by HF tokenizers.
std::string bpe_to_hf_tokenizer_json(const BpeTrainResult& r);

}  // namespace xfmr::tok
