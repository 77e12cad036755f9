// SentencePiece BPE (Llama 2, llama2.c): exact ids against SentencePiece / llama2.c goldens from both tokenizer.bin
// and tokenizer.model (which must agree), llama.cpp's llama-spm vectors, stories260K's tok512, byte-fallback round
// trips, llama2.c's decode rules, and errors on truncated or corrupt files.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>

#include "support/errors.h"
#include "tokenizers/tok_test_util.h"
#include "xfmr/tokenizers/sentencepiece.h"

namespace xfmr::tok {
namespace {

const SentencePieceTokenizer& llama_bin() {
  static const auto t = load_llama2c_tokenizer(test::tok_data("llama2/tokenizer.bin"));
  return *t;
}
const SentencePieceTokenizer& llama_model() {
  static const auto t = load_sentencepiece_model(test::tok_data("llama2/tokenizer.model"));
  return *t;
}
const SentencePieceTokenizer& tok512() {
  static const auto t = load_llama2c_tokenizer(test::tok_data("stories260K/tok512.bin"));
  return *t;
}

std::vector<int32_t> ids_of_line(const std::string& line) {
  std::vector<int32_t> ids;
  std::istringstream ss(line);
  int32_t v;
  while (ss >> v) ids.push_back(v);
  return ids;
}

std::vector<std::string> split_on(const std::string& s, const std::string& sep) {
  std::vector<std::string> out;
  size_t pos = 0, k;
  while ((k = s.find(sep, pos)) != std::string::npos) out.push_back(s.substr(pos, k - pos)), pos = k + sep.size();
  out.push_back(s.substr(pos));
  return out;
}

TEST(SentencePiece, LoadsBothLlamaFormats) {
  for (const auto* t : {&llama_bin(), &llama_model()}) {
    EXPECT_EQ(t->vocab_size(), 32000);
    EXPECT_EQ(t->bos_id(), 1);
    EXPECT_EQ(t->eos_id(), 2);
    EXPECT_EQ(t->unk_id(), 0);
    EXPECT_TRUE(t->has_byte_fallback());
    EXPECT_EQ(t->piece(278), " the");  // "▁the" in the .model, " the" in the .bin
    EXPECT_EQ(t->type(13), SentencePieceTokenizer::PieceType::kByte);
  }
  for (int32_t id = 3; id < 32000; ++id) {
    ASSERT_EQ(llama_bin().piece(id), llama_model().piece(id)) << id;
    ASSERT_EQ(llama_bin().score(id), llama_model().score(id)) << id;
  }
}

TEST(SentencePiece, LlamaGoldenEncodingsFromBinAndModel) {
  const auto g = nlohmann::json::parse(test::slurp(test::tok_data("llama2/golden_encodings.json")));
  ASSERT_GE(g["cases"].size(), 8u);
  for (const auto& c : g["cases"]) {
    const std::string text = c["text"].get<std::string>();
    const auto want = c["ids_with_bos"].get<std::vector<int32_t>>();
    EXPECT_EQ(llama_bin().encode(text, true), want) << text;
    EXPECT_EQ(llama_model().encode(text, true), want) << text;
    EXPECT_EQ(llama_bin().decode(want), text);
    EXPECT_EQ(llama_model().decode(want), text);
  }
}

TEST(SentencePiece, LlamaCppVocabVectors) {
  const auto inputs = split_on(test::slurp(test::tok_data("gguf-vocab/ggml-vocab-llama-spm.gguf.inp")),
                               "\n__ggml_vocab_test__\n");
  const auto outputs = split_on(test::slurp(test::tok_data("gguf-vocab/ggml-vocab-llama-spm.gguf.out")), "\n");
  ASSERT_EQ(inputs.size(), 47u);
  ASSERT_EQ(outputs.size(), inputs.size());
  for (size_t k = 0; k < inputs.size(); ++k) {
    const auto want = ids_of_line(outputs[k]);
    EXPECT_EQ(llama_bin().encode(inputs[k]), want) << "case " << k << ": '" << inputs[k] << "'";
    EXPECT_EQ(llama_model().encode(inputs[k]), want) << "case " << k;
    EXPECT_EQ(llama_bin().decode(want), inputs[k]) << "case " << k;
  }
}

TEST(SentencePiece, Stories260KTok512) {
  EXPECT_EQ(tok512().vocab_size(), 512);
  const auto g = nlohmann::json::parse(test::slurp(test::tok_data("stories260K/golden.json")));
  ASSERT_EQ(g["tok512_encode_bos"].size(), 6u);
  for (const auto& c : g["tok512_encode_bos"]) {
    const std::string text = c["text"].get<std::string>();
    const auto want = c["ids"].get<std::vector<int32_t>>();
    EXPECT_EQ(tok512().encode(text, true), want) << text;
    EXPECT_EQ(tok512().decode(want), text);
  }
  // run.c's greedy story decodes to run.c's printed text, token by token (streaming as run.c prints).
  const auto& greedy = g["greedy_from_bos_200"];
  const auto ids = greedy["token_ids"].get<std::vector<int32_t>>();
  std::string streamed;
  for (size_t i = 1; i < ids.size(); ++i) streamed += tok512().decode_token(ids[i - 1], ids[i]);
  EXPECT_EQ(streamed + "\n", greedy["text_runc"].get<std::string>());
  for (const auto& p : g["prompted_greedy"])
    EXPECT_EQ(tok512().encode(p["prompt"].get<std::string>(), true), p["prompt_token_ids"].get<std::vector<int32_t>>());
}

TEST(SentencePiece, DecodeRulesOfLlama2c) {
  const auto& t = llama_bin();
  EXPECT_EQ(t.decode({1, 15043}), "Hello");           // " Hello" after BOS: leading space dropped
  EXPECT_EQ(t.decode({15043}), "Hello");              // at the start too (the dummy prefix)
  EXPECT_EQ(t.decode({1, 15043, 15043}), "Hello Hello");
  EXPECT_EQ(t.decode_token(15043, 15043), " Hello");  // elsewhere the space stays
  EXPECT_EQ(t.decode({1, 13, 2}), "\n");              // <0x0A> is a raw byte; BOS/EOS give no text
  EXPECT_EQ(t.decode({0}), " \xE2\x81\x87 ");         // <unk> as SentencePiece renders it
  EXPECT_EQ(t.encode(""), std::vector<int32_t>{});
  EXPECT_EQ(t.encode("", true), std::vector<int32_t>{1});
}

TEST(SentencePiece, ByteFallbackRoundTripsValidUtf8) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> len_d(0, 40), pick(0, 99);
  std::uniform_int_distribution<uint32_t> cp_d(0x20, 0x10FFFF);
  for (int i = 0; i < 2000; ++i) {
    std::string s;
    for (int n = len_d(rng), k = 0; k < n; ++k) {
      const int p = pick(rng);
      char32_t cp = p < 60 ? static_cast<char32_t>(0x20 + pick(rng) % 95) : p < 70 ? U' ' : p < 75 ? U'\n' : cp_d(rng);
      if (cp >= 0xD800 && cp <= 0xDFFF) cp = U'x';
      std::string u;
      if (cp < 0x80) u += static_cast<char>(cp);
      else if (cp < 0x800) u += static_cast<char>(0xC0 | (cp >> 6)), u += static_cast<char>(0x80 | (cp & 0x3F));
      else if (cp < 0x10000)
        u += static_cast<char>(0xE0 | (cp >> 12)), u += static_cast<char>(0x80 | ((cp >> 6) & 0x3F)),
            u += static_cast<char>(0x80 | (cp & 0x3F));
      else
        u += static_cast<char>(0xF0 | (cp >> 18)), u += static_cast<char>(0x80 | ((cp >> 12) & 0x3F)),
            u += static_cast<char>(0x80 | ((cp >> 6) & 0x3F)), u += static_cast<char>(0x80 | (cp & 0x3F));
      s += u;
    }
    ASSERT_EQ(llama_bin().decode(llama_bin().encode(s, true)), s) << "case " << i;
    ASSERT_EQ(tok512().decode(tok512().encode(s)), s) << "case " << i;
  }
  // Arbitrary bytes (invalid UTF-8 too) survive as well: each undecodable byte takes its <0xNN> piece.
  for (int i = 0; i < 1000; ++i) {
    const std::string s = test::random_bytes(rng, 60);
    ASSERT_EQ(llama_model().decode(llama_model().encode(s)), s) << "case " << i;
  }
}

TEST(SentencePiece, ConstructorFromPiecesForOtherLoaders) {
  // A toy vocabulary, as a GGUF reader would pass it: "▁" for spaces, types given, no byte fallback.
  using T = SentencePieceTokenizer::PieceType;
  SentencePieceTokenizer t({"<unk>", "<s>", "</s>", "▁", "a", "b", "ab", "▁ab"}, {0, 0, 0, -1, -2, -3, -0.5f, -0.1f},
                           {T::kUnknown, T::kControl, T::kControl, T::kNormal, T::kNormal, T::kNormal, T::kNormal,
                            T::kNormal},
                           1, 2, 0);
  EXPECT_EQ(t.encode("ab ba", true), (std::vector<int32_t>{1, 7, 3, 5, 4}));
  EXPECT_EQ(t.encode("abc"), (std::vector<int32_t>{7, 0}));  // 'c' is unknown: <unk>
  EXPECT_EQ(t.decode({1, 7, 3, 5, 4}), "ab ba");
  // A piece with a space after a letter ("a▁b") lets merges cross spaces: encode must not split the text there.
  SentencePieceTokenizer x({"<unk>", "▁", "a", "b", "a▁", "a▁b", "▁a"}, {0, -1, -2, -3, -0.5f, -0.2f, -0.1f}, {}, -1, -1,
                           0);
  EXPECT_EQ(x.encode("a b"), (std::vector<int32_t>{6, 1, 3}));  // "▁a" (-0.1) first, then nothing crosses
  EXPECT_EQ(x.encode("ba b"), (std::vector<int32_t>{1, 3, 5}));  // "a▁" (-0.5) then "a▁b" (-0.2)
  test::expect_error([] { SentencePieceTokenizer({"a", "b"}, {0}, {}, -1, -1, -1); }, {"1 scores for 2 pieces"});
  test::expect_error([] { SentencePieceTokenizer({"a"}, {0}, {}, 5, -1, -1); }, {"bos id 5"});
  test::expect_error([&] { t.decode({1, 8}); }, {"sentencepiece", "id 8", "position 1", "out of range [0, 8)"});
  test::expect_error([&] { t.decode_token(1, -1); }, {"id -1"});
}

TEST(SentencePiece, CorruptFilesGiveClearErrors) {
  const std::string bin = test::slurp(test::tok_data("stories260K/tok512.bin"));
  const std::string model = test::slurp(test::tok_data("llama2/tokenizer.model"));
  test::expect_error([] { load_llama2c_tokenizer("/nonexistent/tokenizer.bin"); }, {"/nonexistent/tokenizer.bin"});
  test::expect_error([] { parse_llama2c_tokenizer("ab", "t.bin"); }, {"t.bin", "4-byte header"});
  test::expect_error([] { parse_llama2c_tokenizer(std::string("\xff\xff\xff\xff", 4), "t.bin"); },
                     {"t.bin", "max_token_length -1"});
  test::expect_error([&] { parse_llama2c_tokenizer(bin.substr(0, bin.size() - 3), "t.bin"); },
                     {"t.bin", "truncated", "token 511"});
  test::expect_error([&] { parse_llama2c_tokenizer(bin.substr(0, bin.size() - 9), "t.bin"); }, {"t.bin", "truncated"});
  std::string bad_len = bin;
  bad_len[4 + 4] = 100;  // token 0's length byte
  test::expect_error([&] { parse_llama2c_tokenizer(bad_len, "t.bin"); }, {"t.bin", "token 0 has length 100"});
  test::expect_error([&] { parse_llama2c_tokenizer(bin.substr(0, 4 + 8 + 5), "t.bin"); }, {"t.bin", "at least"});
  // Every truncation of the .model is either an error or (cut exactly between fields) a smaller valid model.
  for (size_t cut : {size_t{1}, size_t{2}, size_t{100}, model.size() / 2, model.size() - 1}) {
    try {
      parse_sentencepiece_model(model.substr(0, cut), "t.model");
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("t.model"), std::string::npos) << e.what();
    }
  }
  test::expect_error([&] { parse_sentencepiece_model(model.substr(0, model.size() / 2), "t.model"); },
                     {"t.model", "corrupt SentencePiece model"});
  test::expect_error([] { parse_sentencepiece_model("", "t.model"); }, {"t.model", "no pieces"});
  test::expect_error([] { parse_sentencepiece_model("\x0a\xff\xff\xff\xff\x0f", "t.model"); },
                     {"t.model", "runs past the end"});
  test::expect_error([] { parse_sentencepiece_model("\x0b", "t.model"); }, {"t.model", "wire type 3"});
  // Random corruption never crashes (ASan/UBSan in the debug preset); it loads or throws xfmr::Error.
  std::mt19937 rng(3);
  for (int i = 0; i < 200; ++i) {
    std::string m = model.substr(0, 4000);
    for (int k = 0; k < 8; ++k) m[rng() % m.size()] = static_cast<char>(rng());
    try {
      parse_sentencepiece_model(m, "t.model");
    } catch (const Error&) {
    }
    std::string b = bin;
    for (int k = 0; k < 8; ++k) b[rng() % b.size()] = static_cast<char>(rng());
    try {
      parse_llama2c_tokenizer(b, "t.bin");
    } catch (const Error&) {
    }
  }
}

}  // namespace
}  // namespace xfmr::tok
