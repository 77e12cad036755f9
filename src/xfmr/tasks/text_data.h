// Text corpora for language-model training: `xfmr prepare` turns UTF-8 text into token files, and a loader
// memory-maps them and samples training windows.
//
// Prepared folder (all files written atomically):
//   train.bin, val.bin   token files (format below)
//   meta.json            {"format": "xfmr-text-data", "version": 1, "tokenizer": {"kind", "path"},
//                         "vocab_size", "train_tokens", "val_tokens", "source", "val_fraction"}
//   tokenizer.json       the char vocabulary ({"kind": "char", "chars": [..]}, tokenizers/char.h's format),
//                        {"kind": "byte"}, or for a tokenizer loaded from a file {"kind", "path": absolute path}
//
// Token file: a 32-byte little-endian header, then `count` ids of `dtype_bytes` each:
//   [0, 8)   magic "XFMRTOK\0"     [8, 12)  u32 version = 1     [12, 16) u32 dtype_bytes: 2 (uint16) or 4 (uint32)
//   [16, 24) u64 count             [24, 28) u32 vocab_size      [28, 32) u32 reserved (0)
// uint16 is chosen when vocab_size <= 65536 (nanoGPT's .bin files are uint16 too).
//
// Split: the text is cut at the character (code point) index floor((1 - val_fraction) · n_chars); the first
// part is train, the rest val (nanoGPT's shakespeare_char: first 90 % / last 10 %). Each part is encoded
// separately, so decode(train) + decode(val) == the text.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "xfmr/core/rng.h"
#include "xfmr/core/tensor.h"

namespace xfmr::text {

// ---- token files ----

// Writes ids (each in [0, vocab_size)) atomically. Error naming the path and the first bad id otherwise.
void write_token_file(const std::string& path, const std::vector<int32_t>& ids, int64_t vocab_size);

// A memory-mapped token file, validated on open: size >= header, magic, version, dtype_bytes in {2, 4}, the
// header's count matching the file size exactly, and every id < vocab_size. Errors are one line naming the
// path and the problem ("token file 'x/train.bin': header says 1000 tokens (2000 bytes) but 1998 bytes follow").
class TokenFile {
 public:
  explicit TokenFile(const std::string& path);
  ~TokenFile();
  TokenFile(const TokenFile&) = delete;
  TokenFile& operator=(const TokenFile&) = delete;
  int64_t size() const { return count_; }
  int64_t vocab_size() const { return vocab_; }
  int32_t at(int64_t i) const;  // no bounds check beyond XF_DCHECK
  std::vector<int32_t> read_all() const;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  const unsigned char* base_ = nullptr;  // the mapping
  size_t map_size_ = 0;
  int64_t count_ = 0, vocab_ = 0;
  int dtype_bytes_ = 2;
};

// B windows of T + 1 consecutive ids at uniformly random starts in [0, size - T - 1] (one gen.next_int each,
// in order), as i64 [B, T + 1]: inputs are [:, :T], targets [:, 1:]. Deterministic in (gen's seed, offset).
// Error when the file has fewer than T + 1 tokens.
Tensor sample_windows(const TokenFile& f, int64_t B, int64_t T, Generator& gen);

// ---- tokenizers used by prepare ----

// The minimal interface prepare and the trainer's samples need.
class TextCodec {
 public:
  virtual ~TextCodec() = default;
  virtual std::vector<int32_t> encode(std::string_view text) const = 0;
  virtual std::string decode(const std::vector<int32_t>& ids) const = 0;
  virtual int64_t vocab_size() const = 0;
  virtual std::string kind() const = 0;
  virtual nlohmann::json to_json() const = 0;  // what tokenizer.json holds
};

// "char": the sorted set of code points of `text` (65 for tiny Shakespeare); "byte": the 256 byte values;
// anything else: a tokenizer file/folder loaded with tok::load_tokenizer (tokenizers/tokenizer.h).
std::unique_ptr<TextCodec> make_codec(const std::string& spec, std::string_view text);
// The codec of a prepared folder (its tokenizer.json / meta.json).
std::unique_ptr<TextCodec> load_codec(const std::string& data_dir);

// ---- prepare ----

struct PrepareResult {
  int64_t vocab_size = 0, train_tokens = 0, val_tokens = 0, chars = 0;
  std::string tokenizer_kind;
};

// Reads `input` (a file, or a folder: its regular files not starting with '.', sorted by name, concatenated),
// which must be non-empty valid UTF-8, tokenizes it and writes the prepared folder `out_dir` (created if
// needed). 0 <= val_fraction < 1. Errors are one line naming the input and the problem.
PrepareResult prepare_text(const std::string& input, const std::string& tokenizer, const std::string& out_dir,
                           double val_fraction = 0.1);

// A prepared folder opened for training.
struct TextDataset {
  explicit TextDataset(const std::string& dir);  // Error naming the folder/file when anything is missing
  std::string dir;
  nlohmann::json meta;
  std::unique_ptr<TokenFile> train, val;
  std::unique_ptr<TextCodec> codec;
  int64_t vocab_size() const { return codec->vocab_size(); }
};

}  // namespace xfmr::text
