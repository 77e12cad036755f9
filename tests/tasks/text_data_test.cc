// Text data (tasks/text_data.h): prepare round trip, token-file format and corruption checks, loader
// determinism.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "support/errors.h"
#include "xfmr/io/file_util.h"
#include "xfmr/tasks/text_data.h"

using namespace xfmr;
namespace fs = std::filesystem;

namespace {

std::string temp_dir(const std::string& tag) {
  std::string tmpl = (fs::temp_directory_path() / ("xfmr_text_" + tag + "_XXXXXX")).string();
  return mkdtemp(tmpl.data());
}

std::string shakespeare() { return std::string(XFMR_SOURCE_DIR) + "/data/text/tinyshakespeare.txt"; }

void write(const std::string& path, const std::string& s) { io::write_file_atomic(path, s); }

}  // namespace

TEST(TextData, PrepareShakespeareCharMatchesNanoGpt) {
  const std::string out = temp_dir("shakes");
  const auto r = text::prepare_text(shakespeare(), "char", out, 0.1);
  // nanoGPT's data/shakespeare_char/prepare.py: 65 characters, 1,003,854 train and 111,540 val tokens.
  EXPECT_EQ(r.vocab_size, 65);
  EXPECT_EQ(r.train_tokens, 1003854);
  EXPECT_EQ(r.val_tokens, 111540);
  text::TextDataset ds(out);
  EXPECT_EQ(ds.train->size(), 1003854);
  EXPECT_EQ(ds.vocab_size(), 65);
  // Round trip: decode(train) + decode(val) is the text, byte for byte.
  EXPECT_EQ(ds.codec->decode(ds.train->read_all()) + ds.codec->decode(ds.val->read_all()), io::read_file(shakespeare()));
  // The char vocabulary is the sorted character set: '\n' first, then ' ', '!', ...
  EXPECT_EQ(ds.codec->decode({0, 1, 2}), "\n !");
  fs::remove_all(out);
}

TEST(TextData, PrepareRoundTripUtf8FolderAndByte) {
  const std::string in = temp_dir("in"), out = temp_dir("out");
  write(in + "/b.txt", "über straße — naïve ✓\n");
  write(in + "/a.txt", "first file, ascii\n");
  write(in + "/.hidden", "never read");
  const std::string text = "first file, ascii\nüber straße — naïve ✓\n";
  for (const char* tok : {"char", "byte"}) {
    for (double vf : {0.0, 0.25, 0.5}) {
      const auto r = text::prepare_text(in, tok, out, vf);
      text::TextDataset ds(out);
      EXPECT_EQ(ds.codec->decode(ds.train->read_all()) + ds.codec->decode(ds.val->read_all()), text) << tok << " " << vf;
      EXPECT_EQ(r.vocab_size, std::string(tok) == "byte" ? 256 : ds.vocab_size());
    }
  }
  fs::remove_all(in);
  fs::remove_all(out);
}

TEST(TextData, TokenFileUsesUint16OrUint32) {
  const std::string d = temp_dir("tok");
  const std::vector<int32_t> small = {0, 5, 65535, 3};
  text::write_token_file(d + "/a.bin", small, 65536);
  EXPECT_EQ(fs::file_size(d + "/a.bin"), 32u + 4 * 2);
  EXPECT_EQ(text::TokenFile(d + "/a.bin").read_all(), small);
  const std::vector<int32_t> big = {0, 70000, 100276};
  text::write_token_file(d + "/b.bin", big, 100277);
  EXPECT_EQ(fs::file_size(d + "/b.bin"), 32u + 3 * 4);
  text::TokenFile f(d + "/b.bin");
  EXPECT_EQ(f.read_all(), big);
  EXPECT_EQ(f.vocab_size(), 100277);
  test::expect_error([&] { text::write_token_file(d + "/c.bin", {1, 9}, 5); }, {"id 9", "[0, 5)"});
  fs::remove_all(d);
}

TEST(TextData, CorruptTokenFilesAreOneLineErrors) {
  const std::string d = temp_dir("bad");
  text::write_token_file(d + "/ok.bin", {1, 2, 3, 4}, 10);
  const std::string good = io::read_file(d + "/ok.bin");
  write(d + "/trunc.bin", good.substr(0, good.size() - 1));  // header count vs size
  test::expect_error([&] { text::TokenFile f(d + "/trunc.bin"); }, {"trunc.bin", "header says 4 tokens", "7 bytes"});
  write(d + "/long.bin", good + "xx");
  test::expect_error([&] { text::TokenFile f(d + "/long.bin"); }, {"header says 4 tokens"});
  write(d + "/short.bin", good.substr(0, 10));
  test::expect_error([&] { text::TokenFile f(d + "/short.bin"); }, {"shorter than the 32-byte header"});
  std::string magic = good;
  magic[0] = 'Y';
  write(d + "/magic.bin", magic);
  test::expect_error([&] { text::TokenFile f(d + "/magic.bin"); }, {"bad magic"});
  std::string id = good;
  id[32] = 50;  // first id 50 >= vocab 10
  write(d + "/id.bin", id);
  test::expect_error([&] { text::TokenFile f(d + "/id.bin"); }, {"id 50", "position 0"});
  test::expect_error([&] { text::TokenFile f(d + "/missing.bin"); }, {"missing.bin", "cannot open"});
  fs::remove_all(d);
}

TEST(TextData, BadPrepareInput) {
  const std::string d = temp_dir("badin");
  write(d + "/empty.txt", "");
  test::expect_error([&] { text::prepare_text(d + "/empty.txt", "char", d + "/o"); }, {"empty"});
  write(d + "/bin.txt", std::string("ok\xff\xfe", 4));
  test::expect_error([&] { text::prepare_text(d + "/bin.txt", "char", d + "/o"); }, {"invalid UTF-8 at byte 2"});
  write(d + "/t.txt", "hello");
  test::expect_error([&] { text::prepare_text(d + "/t.txt", "wordpiece", d + "/o"); }, {"wordpiece"});
  test::expect_error([&] { text::prepare_text(d + "/t.txt", "char", d + "/o", 1.0); }, {"val-fraction"});
  test::expect_error([&] { text::prepare_text(d + "/nope.txt", "char", d + "/o"); }, {"does not exist"});
  test::expect_error([&] { text::TextDataset ds(d); }, {"meta.json"});
  fs::remove_all(d);
}

TEST(TextData, WindowsAreDeterministicPerSeedAndOffset) {
  const std::string d = temp_dir("win");
  std::vector<int32_t> ids(1000);
  for (int i = 0; i < 1000; ++i) ids[static_cast<size_t>(i)] = i % 97;
  text::write_token_file(d + "/t.bin", ids, 97);
  text::TokenFile f(d + "/t.bin");
  Generator a(42), b(42);
  const Tensor w1 = text::sample_windows(f, 4, 16, a);
  const Tensor w2 = text::sample_windows(f, 4, 16, b);
  EXPECT_EQ(w1.shape(), (Shape{4, 17}));
  EXPECT_EQ(w1.to_vector(), w2.to_vector());
  // The stream continues: the next batch differs; restoring (seed, offset) reproduces it (what resume does).
  const uint64_t off = a.offset();
  const Tensor n1 = text::sample_windows(f, 4, 16, a);
  EXPECT_NE(n1.to_vector(), w1.to_vector());
  Generator c(0);
  c.set_state(42, off);
  EXPECT_EQ(text::sample_windows(f, 4, 16, c).to_vector(), n1.to_vector());
  // Windows are contiguous runs of the file.
  const std::vector<double> v = w1.to_vector();
  for (int r = 0; r < 4; ++r)
    for (int t = 1; t < 17; ++t) EXPECT_EQ(static_cast<int>(v[r * 17 + t]), (static_cast<int>(v[r * 17 + t - 1]) + 1) % 97);
  test::expect_error([&] { text::sample_windows(f, 2, 1000, a); }, {"fewer than block_size + 1 = 1001"});
  Generator s(1);
  EXPECT_NO_THROW(text::sample_windows(f, 2, 999, s));  // exactly T + 1 tokens: the only window
  fs::remove_all(d);
}

TEST(TextData, PrepareWithATokenizerFile) {
  // GPT-2's byte-level BPE (tokenizers/, vocab.json + merges.txt): 50257 ids, stored as uint16.
  const std::string tokdir = std::string(XFMR_SOURCE_DIR) + "/data/tokenizers/gpt2";
  const std::string in = temp_dir("bpe_in"), out = temp_dir("bpe_out");
  const std::string text = io::read_file(shakespeare()).substr(0, 5000);
  write(in + "/t.txt", text);
  const auto r = text::prepare_text(in + "/t.txt", tokdir, out, 0.1);
  EXPECT_EQ(r.vocab_size, 50257);
  EXPECT_EQ(r.tokenizer_kind, "gpt2-bpe");
  EXPECT_LT(r.train_tokens + r.val_tokens, 2000);  // ~4 characters per token, not 1
  text::TextDataset ds(out);  // reloads the tokenizer from the path recorded in tokenizer.json
  EXPECT_EQ(ds.codec->decode(ds.train->read_all()) + ds.codec->decode(ds.val->read_all()), text);
  EXPECT_EQ(fs::file_size(out + "/train.bin"), 32u + 2u * static_cast<uint64_t>(r.train_tokens));
  fs::remove_all(in);
  fs::remove_all(out);
}
