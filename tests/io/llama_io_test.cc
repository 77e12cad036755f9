// The llama2.c and GGUF readers and the GGUF writer on the real stories260K files:
//  - the .bin and the .gguf hold the same config and bit-identical tensors (so one RoPE pairing serves both);
//  - the GGUF's vocabulary equals tok512.bin's (spaces as U+2581) as converted by gguf_tokenizer_metadata;
//  - write -> read round trips every metadata type (arrays, nested arrays) and every tensor byte;
//  - bad files (wrong magic/version, unknown architecture, unsupported tensor type, wrong shapes, missing
//    tensors, header/size mismatches, truncation) are xfmr::Errors naming the file and the problem;
//  - fuzz: a seeded loop truncating and flipping bytes of both real files only ever gives xfmr::Error (run
//  under
//    the debug preset's ASan/UBSan for out-of-bounds reads), and files that still load run a forward pass.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <random>

#include "infer/stories_data.h"
#include "io/io_test_util.h"
#include "support/errors.h"
#include "xfmr/infer/llama.h"
#include "xfmr/infer/model_tokenizer.h"
#include "xfmr/io/gguf.h"
#include "xfmr/io/llama2c.h"
#include "xfmr/io/llama_gguf.h"

namespace xfmr::io {
namespace {

using kernels::QType;

bool same(const WeightRef& a, const WeightRef& b) {
  return a.type == b.type && a.rows == b.rows && a.cols == b.cols &&
         std::memcmp(a.data, b.data, static_cast<size_t>(a.bytes())) == 0;
}
bool same_vec(const float* a, const float* b, int64_t n) {
  return std::memcmp(a, b, static_cast<size_t>(n) * 4) == 0;
}

// Same tensors bit for bit; `same_meta` also compares the context length and tying (stories260K.gguf records
// context 2048 and stores `output` as an explicit copy of token_embd, where the .bin says 512 and tied).
void expect_identical(const LlamaWeights& a, const LlamaWeights& b, bool same_meta = true) {
  const LlamaConfig &x = a.cfg, &y = b.cfg;
  EXPECT_EQ(x.dim, y.dim);
  EXPECT_EQ(x.hidden_dim, y.hidden_dim);
  EXPECT_EQ(x.n_layers, y.n_layers);
  EXPECT_EQ(x.n_heads, y.n_heads);
  EXPECT_EQ(x.n_kv_heads, y.n_kv_heads);
  EXPECT_EQ(x.vocab_size, y.vocab_size);
  if (same_meta) {
    EXPECT_EQ(x.seq_len, y.seq_len);
    EXPECT_EQ(a.tied, b.tied);
  }
  EXPECT_TRUE(same(a.tok_embd, b.tok_embd));
  EXPECT_TRUE(same(a.output, b.output));
  EXPECT_TRUE(same_vec(a.output_norm, b.output_norm, x.dim));
  ASSERT_EQ(a.layers.size(), b.layers.size());
  for (size_t l = 0; l < a.layers.size(); ++l) {
    const LlamaLayer &p = a.layers[l], &q = b.layers[l];
    EXPECT_TRUE(same_vec(p.attn_norm, q.attn_norm, x.dim)) << l;
    EXPECT_TRUE(same_vec(p.ffn_norm, q.ffn_norm, x.dim)) << l;
    EXPECT_TRUE(same(p.wq, q.wq) && same(p.wk, q.wk) && same(p.wv, q.wv) && same(p.wo, q.wo)) << l;
    EXPECT_TRUE(same(p.w_gate, q.w_gate) && same(p.w_down, q.w_down) && same(p.w_up, q.w_up)) << l;
  }
}

TEST(LlamaIo, BinAndGgufAreBitIdentical) {
  const LlamaWeights bin = load_llama2c(test::stories_bin());
  const LlamaWeights gguf = load_llama_weights(test::stories_gguf());
  EXPECT_EQ(bin.cfg.dim, 64);
  EXPECT_EQ(bin.cfg.hidden_dim, 172);
  EXPECT_EQ(bin.cfg.n_layers, 5);
  EXPECT_EQ(bin.cfg.n_heads, 8);
  EXPECT_EQ(bin.cfg.n_kv_heads, 4);
  EXPECT_EQ(bin.cfg.vocab_size, 512);
  EXPECT_TRUE(bin.tied);
  EXPECT_FLOAT_EQ(gguf.cfg.rope_theta, 10000.0f);
  EXPECT_FLOAT_EQ(gguf.cfg.norm_eps, 1e-5f);
  EXPECT_EQ(gguf.cfg.bos_id, 1);
  EXPECT_EQ(gguf.cfg.eos_id, 2);
  EXPECT_EQ(gguf.cfg.seq_len, 2048);
  EXPECT_FALSE(gguf.tied);
  expect_identical(bin, gguf, /*same_meta=*/false);
}

TEST(LlamaIo, GgufVocabularyEqualsTok512) {
  const GgufFile f(test::stories_gguf());
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.get_string("general.architecture"), "llama");
  const GgufMetadata from_bin = gguf_tokenizer_metadata(read_llama2c_vocab(test::stories_tok(), 512), 1, 2);
  for (const char* key : {"tokenizer.ggml.tokens", "tokenizer.ggml.scores"}) {
    const GgufValue* g = f.find(key);
    ASSERT_TRUE(g) << key;
    const GgufValue* b = nullptr;
    for (const auto& [k, v] : from_bin)
      if (k == key) b = &v;
    ASSERT_EQ(g->arr.size(), 512u);
    ASSERT_EQ(b->arr.size(), 512u);
    for (size_t i = 0; i < 512; ++i) {
      EXPECT_EQ(g->arr[i].s, b->arr[i].s) << key << " " << i;
      EXPECT_EQ(g->arr[i].f, b->arr[i].f) << key << " " << i;
    }
  }
  // The GGUF vocabulary and tok512.bin tokenize alike.
  const auto tg = infer::tokenizer_from_gguf(f);
  const auto tb = infer::tokenizer_for_model(test::stories_bin(), "", 512);
  for (const auto& e : test::stories_golden()["tok512_encode_bos"]) {
    const std::string text = e["text"].get<std::string>();
    EXPECT_EQ(tg->encode(text, true), e["ids"].get<std::vector<int32_t>>()) << text;
    EXPECT_EQ(tb->encode(text, true), e["ids"].get<std::vector<int32_t>>()) << text;
  }
}

// The vocabulary-only GGUFs from llama.cpp's models/ (0 tensors) read, and their vocabularies reproduce
// llama.cpp's own tokenizer test vectors (.inp / .out: texts and ids, no BOS).
TEST(LlamaIo, LlamaCppVocabGgufsTokenizeLikeLlamaCpp) {
  const std::string dir = "/work/shared/data/tokenizers/gguf-vocab/";
  for (const std::string name : {"ggml-vocab-llama-spm", "ggml-vocab-gpt-2"}) {
    const std::string path = dir + name + ".gguf";
    if (!std::filesystem::exists(path))
      GTEST_SKIP() << path << " not present (shared data, > 1 MB, not copied)";
    const GgufFile f(path);
    EXPECT_TRUE(f.tensors().empty());
    const auto t = infer::tokenizer_from_gguf(f);
    const std::string inp =
        test::read_bytes(test::source_dir() + "/data/tokenizers/gguf-vocab/" + name + ".gguf.inp");
    const std::string out =
        test::read_bytes(test::source_dir() + "/data/tokenizers/gguf-vocab/" + name + ".gguf.out");
    std::vector<std::string> texts, lines;
    const std::string sep = "\n__ggml_vocab_test__\n";
    for (size_t a = 0, b; (b = inp.find(sep, a)) != std::string::npos; a = b + sep.size())
      texts.push_back(inp.substr(a, b - a));
    for (size_t a = 0, b; (b = out.find('\n', a)) != std::string::npos; a = b + 1)
      lines.push_back(out.substr(a, b - a));
    ASSERT_EQ(texts.size(), lines.size()) << name;
    for (size_t i = 0; i < texts.size(); ++i) {
      std::string got;
      for (int32_t id : t->encode(texts[i], false)) {
        if (!got.empty()) got += ' ';
        got += std::to_string(id);
      }
      const size_t a = lines[i].find_first_not_of(' '), b = lines[i].find_last_not_of(' ');
      const std::string want = a == std::string::npos ? "" : lines[i].substr(a, b - a + 1);
      EXPECT_EQ(got, want) << name << " case " << i;
    }
  }
}

TEST(LlamaIo, WriterRoundTripsTensorsAndEveryMetadataType) {
  test::ScratchDir dir;
  const LlamaWeights bin = load_llama2c(test::stories_bin());
  GgufMetadata extra = gguf_tokenizer_metadata(read_llama2c_vocab(test::stories_tok(), 512), 1, 2);
  std::vector<GgufValue> nested = {GgufValue::array(GgufType::i16, {GgufValue::of_int(GgufType::i16, -3)}),
                                   GgufValue::array(GgufType::i16, {})};
  GgufValue f64;
  f64.type = GgufType::f64;
  f64.f = 0.1;
  extra.emplace_back("test.u8", GgufValue::of_int(GgufType::u8, 200));
  extra.emplace_back("test.i8", GgufValue::of_int(GgufType::i8, -100));
  extra.emplace_back("test.u16", GgufValue::of_int(GgufType::u16, 60000));
  extra.emplace_back("test.i16", GgufValue::of_int(GgufType::i16, -30000));
  extra.emplace_back("test.i32", GgufValue::i32(-7));
  extra.emplace_back("test.u64", GgufValue::of_int(GgufType::u64, int64_t{1} << 40));
  extra.emplace_back("test.i64", GgufValue::of_int(GgufType::i64, -(int64_t{1} << 40)));
  extra.emplace_back("test.bool", GgufValue::of_int(GgufType::boolean, 1));
  extra.emplace_back("test.f64", f64);
  extra.emplace_back("test.nested", GgufValue::array(GgufType::array, nested));
  const std::string path = dir.file("s.f32.gguf");
  write_llama_gguf(bin, path, QType::f32, extra, "stories260K");
  const GgufFile f(path);
  EXPECT_EQ(f.get_string("general.name"), "stories260K");
  EXPECT_EQ(f.get_int("test.u8"), 200);
  EXPECT_EQ(f.get_int("test.i8"), -100);
  EXPECT_EQ(f.get_int("test.u16"), 60000);
  EXPECT_EQ(f.get_int("test.i16"), -30000);
  EXPECT_EQ(f.get_int("test.i32"), -7);
  EXPECT_EQ(f.get_int("test.u64"), int64_t{1} << 40);
  EXPECT_EQ(f.get_int("test.i64"), -(int64_t{1} << 40));
  EXPECT_EQ(f.get_int("test.bool"), 1);
  EXPECT_EQ(f.get_float("test.f64", 0), 0.1);
  const GgufValue* n = f.find("test.nested");
  ASSERT_TRUE(n);
  ASSERT_EQ(n->arr.size(), 2u);
  EXPECT_EQ(n->arr[0].arr.at(0).i, -3);
  EXPECT_TRUE(n->arr[1].arr.empty());
  expect_identical(bin, load_llama_weights(path));
  // The written vocabulary tokenizes like tok512.bin.
  EXPECT_EQ(infer::tokenizer_from_gguf(f)->encode("Once upon a time", true),
            (std::vector<int32_t>{1, 403, 407, 261, 378}));
  // Block types: matrices with 32-multiple rows become q8_0, the 172-wide w_down falls back to f16.
  write_llama_gguf(bin, dir.file("s.q8.gguf"), QType::q8_0);
  const LlamaWeights q = load_llama_weights(dir.file("s.q8.gguf"));
  EXPECT_EQ(q.layers[0].wq.type, QType::q8_0);
  EXPECT_EQ(q.tok_embd.type, QType::q8_0);
  EXPECT_EQ(q.layers[0].w_down.type, QType::f16);
}

// Rewrites a GGUF with metadata overrides and without the tensors named in `drop`.
void rewrite(const GgufFile& f, const std::string& out, const GgufMetadata& set,
             const std::vector<std::string>& drop, const std::string& reshape = "") {
  GgufWriter w;
  for (const auto& [k, v] : f.metadata()) w.add(k, v);
  for (const auto& [k, v] : set) w.add(k, v);
  for (const auto& t : f.tensors()) {
    if (std::find(drop.begin(), drop.end(), t.name) != drop.end()) continue;
    std::vector<int64_t> ne = t.ne;
    if (t.name == reshape) std::swap(ne[0], ne[1]);
    w.add_tensor(t.name, ne, t.type, t.data);
  }
  w.write(out);
}

TEST(LlamaIo, BadGgufFilesAreErrors) {
  test::ScratchDir dir;
  const GgufFile f(test::stories_gguf());
  const std::string p = dir.file("bad.gguf");
  rewrite(f, p, {{"general.architecture", GgufValue::str("gpt2")}}, {});
  test::expect_error([&] { load_llama_weights(p); }, {p, "architecture 'gpt2'"});
  rewrite(f, p, {}, {"blk.3.ffn_up.weight"});
  test::expect_error([&] { load_llama_weights(p); }, {p, "blk.3.ffn_up.weight", "missing"});
  rewrite(f, p, {}, {}, "blk.0.ffn_gate.weight");
  test::expect_error([&] { load_llama_weights(p); }, {p, "blk.0.ffn_gate.weight", "[172, 64]"});
  rewrite(f, p, {{"llama.attention.head_count", GgufValue::u32(7)}}, {});
  test::expect_error([&] { load_llama_weights(p); }, {p, "n_heads 7"});
  rewrite(f, p, {{"llama.block_count", GgufValue::str("five")}}, {});
  test::expect_error([&] { load_llama_weights(p); }, {p, "llama.block_count", "expected an integer"});

  std::string bytes = test::read_bytes(test::stories_gguf());
  // An unsupported tensor type: patch token_embd.weight's type field (after its name, n_dims and 2 dims)
  // to 12.
  {
    std::string b = bytes;
    const size_t at = b.find("token_embd.weight") + std::strlen("token_embd.weight") + 4 + 16;
    const uint32_t q4k = 12;
    std::memcpy(b.data() + at, &q4k, 4);
    test::write_bytes(p, b);
    test::expect_error([&] { load_llama_weights(p); }, {p, "token_embd.weight", "unsupported type 12"});
  }
  {
    std::string b = bytes;
    const uint32_t v1 = 1;
    std::memcpy(b.data() + 4, &v1, 4);
    test::write_bytes(p, b);
    test::expect_error([&] { GgufFile g(p); }, {p, "version 1"});
  }
  test::write_bytes(p, bytes.substr(0, bytes.size() - 1));
  test::expect_error([&] { load_llama_weights(p); }, {p, "past the end of the file"});
  test::write_bytes(p, bytes.substr(0, 1000));
  test::expect_error([&] { load_llama_weights(p); }, {p, "truncated"});
  test::write_bytes(p, "GGU");
  test::expect_error([&] { GgufFile g(p); }, {p, "truncated"});
  test::expect_error([&] { GgufFile g(dir.file("missing.gguf")); }, {"missing.gguf"});
}

TEST(LlamaIo, BadBinFilesAreErrors) {
  test::ScratchDir dir;
  const std::string bytes = test::read_bytes(test::stories_bin());
  const std::string p = dir.file("bad.bin");
  test::write_bytes(p, bytes.substr(0, bytes.size() - 4));
  test::expect_error([&] { load_llama_weights(p); }, {p, "truncated", "1056540"});
  test::write_bytes(p, bytes + "xxxx");
  test::expect_error([&] { load_llama_weights(p); }, {p, "trailing bytes"});
  test::write_bytes(p, bytes.substr(0, 20));
  test::expect_error([&] { load_llama_weights(p); }, {p, "28-byte header"});
  std::string b = bytes;
  const int32_t neg = -512;  // says untied: the file lacks the classifier
  std::memcpy(b.data() + 20, &neg, 4);
  test::write_bytes(p, b);
  test::expect_error([&] { load_llama_weights(p); }, {p, "truncated"});
  b = bytes;
  const int32_t heads = 6;  // 64 is not a multiple of 6
  std::memcpy(b.data() + 12, &heads, 4);
  test::write_bytes(p, b);
  test::expect_error([&] { load_llama_weights(p); }, {p, "n_heads 6"});
  b = bytes;
  const int32_t huge = 1 << 30;
  std::memcpy(b.data(), &huge, 4);
  test::write_bytes(p, b);
  test::expect_error([&] { load_llama_weights(p); }, {p, "out of range"});
}

// Loads a (possibly corrupt) file as the CLI would: weights, tokenizer, a short forward pass.
void load_and_run(const std::string& path, bool gguf) {
  LlamaWeights w = load_llama_weights(path);
  if (gguf) infer::tokenizer_from_gguf(GgufFile(path));
  infer::LlamaModel m(std::move(w), 4);
  for (int64_t pos = 0; pos < 3; ++pos) m.forward(1, pos);
}

TEST(LlamaIo, FuzzedFilesOnlyGiveErrors) {
  test::ScratchDir dir(/*in_memory=*/true);
  std::mt19937_64 rng(20261129);
  int loaded = 0, errors = 0;
  for (const bool gguf : {false, true}) {
    const std::string orig = test::read_bytes(gguf ? test::stories_gguf() : test::stories_bin());
    const std::string p = dir.file(gguf ? "f.gguf" : "f.bin");
    for (int iter = 0; iter < 150; ++iter) {
      std::string b = orig;
      const int mode = iter % 3;
      // Most corruption is aimed at the first 16 KB, where the headers, metadata and tensor infos live.
      const auto where = [&] {
        return static_cast<size_t>(rng() % 4 ? rng() % std::min<size_t>(b.size(), 16384) : rng() % b.size());
      };
      if (mode == 0) b.resize(where());
      if (mode >= 1)
        for (int k = 0, n = 1 + static_cast<int>(rng() % 8); k < n; ++k)
          b[where()] ^= static_cast<char>(1 + rng() % 255);
      if (mode == 2) b.resize(b.size() - rng() % 64);
      test::write_bytes(p, b);
      try {
        load_and_run(p, gguf);
        ++loaded;
      } catch (const Error&) {
        ++errors;
      } catch (const std::exception& e) {
        ADD_FAILURE() << "iteration " << iter << ": a non-xfmr exception: " << e.what();
      }
    }
  }
  std::printf("fuzz: %d corrupted files loaded and ran, %d gave xfmr::Error\n", loaded, errors);
  EXPECT_GT(errors, 100);
}

}  // namespace
}  // namespace xfmr::io
