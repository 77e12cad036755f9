// SentencePiece BPE as used by Llama 2 and llama2.c (Kudo & Richardson 2018, "SentencePiece"; Sennrich et al. 2016
// BPE): a dummy-prefix space is prepended, the text is split into UTF-8 characters, and the adjacent pair whose
// concatenation is a vocabulary piece with the highest score is merged, repeatedly (ties: the leftmost pair).
// Characters that never become pieces fall back to their bytes' <0xNN> pieces (or <unk> without byte fallback).
//
// Spaces: SentencePiece models store a space as "▁" (U+2581), llama2.c's tokenizer.bin stores a plain space. Both are
// accepted and kept internally as plain spaces (llama2.c's convention), so a .model and the .bin exported from it
// give the same ids, and a literal "▁" in the text is treated as an ordinary character (byte fallback), which keeps
// decode(encode(s)) == s for every string when byte fallback is available.
#pragma once

#include <string>
#include <unordered_map>

#include "xfmr/tokenizers/tokenizer.h"

namespace xfmr::tok {

class SentencePieceTokenizer final : public Tokenizer {
 public:
  // The values of SentencePiece's ModelProto.SentencePiece.Type (also GGUF's tokenizer.ggml.token_type).
  enum class PieceType : int32_t { kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6 };

  struct Options {
    bool add_dummy_prefix = true;           // NormalizerSpec.add_dummy_prefix (Llama: true)
    bool remove_extra_whitespaces = false;  // NormalizerSpec.remove_extra_whitespaces (Llama: false)
  };

  // pieces: in id order ("▁" or " " for spaces); scores: one per piece (higher merges first).
  // types: one per piece, or empty to infer them as llama2.c does: unk_id -> unknown, bos_id/eos_id -> control,
  //   "<0xNN>" -> byte (the byte-fallback pieces), everything else normal.
  // bos_id / eos_id / unk_id: -1 when absent. Only normal and user-defined pieces take part in merges.
  // Throws xfmr::Error when the sizes disagree or an id is out of range. A duplicated piece keeps its first id.
  SentencePieceTokenizer(std::vector<std::string> pieces, std::vector<float> scores, std::vector<PieceType> types,
                         int32_t bos_id, int32_t eos_id, int32_t unk_id, Options options);
  SentencePieceTokenizer(std::vector<std::string> pieces, std::vector<float> scores, std::vector<PieceType> types,
                         int32_t bos_id, int32_t eos_id, int32_t unk_id)
      : SentencePieceTokenizer(std::move(pieces), std::move(scores), std::move(types), bos_id, eos_id, unk_id,
                               Options{}) {}

  // Empty text gives no tokens (no dummy prefix), as llama2.c and SentencePiece do.
  std::vector<int32_t> encode(std::string_view text, bool add_bos = false) const override;
  // Byte pieces become raw bytes, control pieces (BOS/EOS) nothing, <unk> " ⁇ " (SentencePiece's rendering); the
  // leading space of the first piece at the start or right after BOS is dropped (the dummy prefix), as llama2.c's
  // decode and SentencePiece do. Error on ids outside the vocabulary.
  std::string decode(const std::vector<int32_t>& ids) const override;
  std::string decode_token(int32_t prev, int32_t id) const override;

  int32_t vocab_size() const override { return static_cast<int32_t>(pieces_.size()); }
  int32_t bos_id() const override { return bos_; }
  int32_t eos_id() const override { return eos_; }
  int32_t unk_id() const { return unk_; }
  std::string kind() const override { return "sentencepiece-bpe"; }

  const std::string& piece(int32_t id) const;  // with spaces, not "▁"
  float score(int32_t id) const;
  PieceType type(int32_t id) const;
  bool has_byte_fallback() const { return byte_ids_[0] >= 0; }

 private:
  void encode_piece(std::string_view norm, size_t offset, std::vector<int32_t>& out) const;

  std::vector<std::string> pieces_;
  std::vector<float> scores_;
  std::vector<PieceType> types_;
  int32_t bos_, eos_, unk_;
  Options opt_;
  bool split_at_spaces_ = false;  // no piece has a space after a non-space (true for Llama): see encode()
  int32_t byte_ids_[256];
  struct StrHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, int32_t, StrHash, std::equal_to<>> mergeable_;  // normal/user-defined piece -> id
  std::unordered_map<uint64_t, int32_t> pair_to_piece_;  // (left id, right id) -> merged piece id
};

// llama2.c tokenizer.bin: int32 max_token_length, then per token float32 score, int32 length, bytes. Ids 0, 1, 2 are
// <unk>, <s>, </s>. The vocabulary size is what the file holds.
std::unique_ptr<SentencePieceTokenizer> load_llama2c_tokenizer(const std::string& path);
std::unique_ptr<SentencePieceTokenizer> parse_llama2c_tokenizer(std::string_view data, const std::string& what);
// SentencePiece tokenizer.model (a ModelProto protobuf, read by hand): the pieces (piece, score, type), the
// trainer spec's unk/bos/eos ids and the normalizer's add_dummy_prefix / remove_extra_whitespaces.
std::unique_ptr<SentencePieceTokenizer> load_sentencepiece_model(const std::string& path);
std::unique_ptr<SentencePieceTokenizer> parse_sentencepiece_model(std::string_view data, const std::string& what);

}  // namespace xfmr::tok
