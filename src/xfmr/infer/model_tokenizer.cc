#include "xfmr/infer/model_tokenizer.h"

#include <filesystem>

#include "xfmr/core/check.h"
#include "xfmr/tokenizers/gpt2_bpe.h"
#include "xfmr/tokenizers/sentencepiece.h"

namespace fs = std::filesystem;

namespace xfmr::infer {

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

const io::GgufValue& array_of(const io::GgufFile& f, const std::string& key, io::GgufType elem) {
  const io::GgufValue* v = f.find(key);
  XF_CHECK(v, "GGUF '", f.path(), "': no ", key, " (the file has no tokenizer; pass --tokenizer)");
  XF_CHECK(v->type == io::GgufType::array && v->elem == elem, "GGUF '", f.path(), "': ", key,
           " is not an array of ", io::gguf_type_name(elem));
  return *v;
}

std::unique_ptr<tok::Tokenizer> load_any(const std::string& path) {
  if (ends_with(path, ".gguf")) return tokenizer_from_gguf(io::GgufFile(path));
  if (ends_with(path, ".bin")) return tok::load_llama2c_tokenizer(path);
  if (ends_with(path, ".model")) return tok::load_sentencepiece_model(path);
  return tok::load_tokenizer(path);
}

}  // namespace

std::unique_ptr<tok::Tokenizer> tokenizer_from_gguf(const io::GgufFile& f) {
  const io::GgufValue* model = f.find("tokenizer.ggml.model");
  XF_CHECK(model && model->type == io::GgufType::string, "GGUF '", f.path(),
           "': no tokenizer.ggml.model (the file has no tokenizer; pass --tokenizer)");
  if (model->s == "gpt2") {
    // Byte-level BPE. Only GPT-2's own pre-tokenizer is implemented: later BPE models (Llama 3, Qwen, ...)
    // record another tokenizer.ggml.pre and split text differently, so they are refused rather than
    // mis-tokenized.
    const io::GgufValue* pre = f.find("tokenizer.ggml.pre");
    XF_CHECK(!pre || (pre->type == io::GgufType::string &&
                      (pre->s == "gpt-2" || pre->s == "gpt2" || pre->s == "default")),
             "GGUF '", f.path(), "': BPE pre-tokenizer '", pre ? pre->s : "",
             "' is not supported (GPT-2's only)");
    std::vector<std::string> toks, merges;
    for (const auto& t : array_of(f, "tokenizer.ggml.tokens", io::GgufType::string).arr) toks.push_back(t.s);
    for (const auto& m : array_of(f, "tokenizer.ggml.merges", io::GgufType::string).arr)
      merges.push_back(m.s);
    return tok::Gpt2BpeTokenizer::from_token_list(toks, merges);
  }
  XF_CHECK(model->s == "llama", "GGUF '", f.path(), "': tokenizer model '", model->s,
           "' is not supported here (SentencePiece 'llama' and GPT-2 'gpt2' only; pass --tokenizer)");
  const auto& tokens = array_of(f, "tokenizer.ggml.tokens", io::GgufType::string);
  const auto& scores = array_of(f, "tokenizer.ggml.scores", io::GgufType::f32);
  const io::GgufValue* types = f.find("tokenizer.ggml.token_type");
  std::vector<std::string> pieces;
  std::vector<float> sc;
  std::vector<tok::SentencePieceTokenizer::PieceType> ty;
  for (const auto& t : tokens.arr) pieces.push_back(t.s);
  for (const auto& s : scores.arr) sc.push_back(static_cast<float>(s.f));
  if (types) {
    XF_CHECK(types->type == io::GgufType::array && types->elem == io::GgufType::i32, "GGUF '", f.path(),
             "': tokenizer.ggml.token_type is not an array of i32");
    for (const auto& t : types->arr) {
      XF_CHECK(t.i >= 1 && t.i <= 6, "GGUF '", f.path(), "': token type ", t.i, " outside 1..6");
      ty.push_back(static_cast<tok::SentencePieceTokenizer::PieceType>(t.i));
    }
  }
  tok::SentencePieceTokenizer::Options opt;
  if (const io::GgufValue* sp = f.find("tokenizer.ggml.add_space_prefix")) opt.add_dummy_prefix = sp->i != 0;
  const auto id = [&](const char* key, int64_t dflt) { return static_cast<int32_t>(f.get_int(key, dflt)); };
  return std::make_unique<tok::SentencePieceTokenizer>(
      std::move(pieces), std::move(sc), std::move(ty), id("tokenizer.ggml.bos_token_id", 1),
      id("tokenizer.ggml.eos_token_id", 2), id("tokenizer.ggml.unknown_token_id", 0), opt);
}

std::unique_ptr<tok::Tokenizer> tokenizer_for_model(const std::string& model_path,
                                                    const std::string& tokenizer_path, int64_t vocab_size) {
  std::unique_ptr<tok::Tokenizer> t;
  std::string from = tokenizer_path;
  std::error_code ec;
  if (!tokenizer_path.empty()) {
    t = load_any(tokenizer_path);
  } else if (fs::is_directory(model_path, ec)) {
    // A model folder: its tokenizer.json (xfmr train's char/byte/BPE vocabularies or an HF tokenizer.json),
    // else the other layouts tok::load_tokenizer reads from a folder.
    const fs::path dir(model_path);
    const fs::path json = dir / "tokenizer.json";
    bool found = fs::exists(json);
    for (const char* other : {"vocab.json", "tokenizer.model", "tokenizer.bin"})
      found = found || fs::exists(dir / other);
    XF_CHECK(found, "no tokenizer for model folder '", model_path,
             "': it has no tokenizer.json (nor vocab.json + merges.txt, tokenizer.model, tokenizer.bin); "
             "pass --tokenizer");
    from = fs::exists(json) ? json.string() : model_path;
    t = tok::load_tokenizer(from);
  } else if (ends_with(model_path, ".gguf")) {
    from = model_path;
    t = tokenizer_from_gguf(io::GgufFile(model_path));
  } else {
    const fs::path dir = fs::path(model_path).parent_path();
    for (const std::string& name :
         {"tok" + std::to_string(vocab_size) + ".bin", std::string("tokenizer.bin")}) {
      const fs::path p = dir / name;
      if (fs::exists(p)) {
        from = p.string();
        t = tok::load_llama2c_tokenizer(from);
        break;
      }
    }
    XF_CHECK(t, "no tokenizer for '", model_path, "': found neither tok", vocab_size,
             ".bin nor tokenizer.bin beside it (pass --tokenizer)");
  }
  XF_CHECK(t->vocab_size() == vocab_size, "tokenizer '", from, "' has ", t->vocab_size(),
           " tokens but the model's vocabulary has ", vocab_size);
  return t;
}

}  // namespace xfmr::infer
