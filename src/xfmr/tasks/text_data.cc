#include "xfmr/tasks/text_data.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "xfmr/io/file_util.h"
#include "xfmr/tokenizers/byte.h"
#include "xfmr/tokenizers/char.h"

namespace fs = std::filesystem;

namespace xfmr::text {

namespace {

constexpr char kMagic[8] = {'X', 'F', 'M', 'R', 'T', 'O', 'K', '\0'};
constexpr size_t kHeader = 32;

void put_u32(unsigned char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}
void put_u64(unsigned char* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}
uint32_t get_u32(const unsigned char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(p[i]) << (8 * i);
  return v;
}
uint64_t get_u64(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}

// Decodes one UTF-8 sequence at s[i]; returns its length (0 when invalid: overlong, surrogate, > U+10FFFF,
// truncated). cp receives the code point.
size_t utf8_next(std::string_view s, size_t i, uint32_t& cp) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  if (c < 0x80) {
    cp = c;
    return 1;
  }
  size_t n;
  uint32_t min;
  if ((c & 0xE0) == 0xC0) n = 2, cp = c & 0x1F, min = 0x80;
  else if ((c & 0xF0) == 0xE0) n = 3, cp = c & 0x0F, min = 0x800;
  else if ((c & 0xF8) == 0xF0) n = 4, cp = c & 0x07, min = 0x10000;
  else return 0;
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(i + k) & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

// Code points of valid UTF-8 text; Error naming `what` and the byte offset of the first invalid sequence.
std::vector<uint32_t> code_points(std::string_view s, const std::string& what) {
  std::vector<uint32_t> out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    uint32_t cp = 0;
    const size_t n = utf8_next(s, i, cp);
    XF_CHECK(n > 0, what, ": invalid UTF-8 at byte ", i);
    out.push_back(cp);
    i += n;
  }
  return out;
}

// Adapts a tokenizers/ Tokenizer (h12's char, byte and file-based tokenizers) to what prepare needs, with the
// description tokenizer.json keeps: the char vocabulary itself, "byte", or the path of a tokenizer file.
class TokCodec : public TextCodec {
 public:
  TokCodec(std::unique_ptr<tok::Tokenizer> t, nlohmann::json desc) : tok_(std::move(t)), desc_(std::move(desc)) {}
  std::vector<int32_t> encode(std::string_view text) const override { return tok_->encode(text); }
  std::string decode(const std::vector<int32_t>& ids) const override { return tok_->decode(ids); }
  int64_t vocab_size() const override { return tok_->vocab_size(); }
  std::string kind() const override { return tok_->kind(); }
  nlohmann::json to_json() const override { return desc_; }

 private:
  std::unique_ptr<tok::Tokenizer> tok_;
  nlohmann::json desc_;
};

std::unique_ptr<TextCodec> char_codec(tok::CharTokenizer t) {
  nlohmann::json desc = nlohmann::json::parse(t.to_json());
  return std::make_unique<TokCodec>(std::make_unique<tok::CharTokenizer>(std::move(t)), std::move(desc));
}

std::string read_input(const std::string& input) {
  XF_CHECK(fs::exists(input), "prepare: input '", input, "' does not exist");
  if (!fs::is_directory(input)) return io::read_file(input);
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(input))
    if (e.is_regular_file() && e.path().filename().string()[0] != '.') files.push_back(e.path());
  std::sort(files.begin(), files.end());
  XF_CHECK(!files.empty(), "prepare: input folder '", input, "' has no files");
  std::string text;
  for (const auto& f : files) text += io::read_file(f.string());
  return text;
}

}  // namespace

// ---- token files ----

void write_token_file(const std::string& path, const std::vector<int32_t>& ids, int64_t vocab_size) {
  XF_CHECK(vocab_size > 0 && vocab_size <= (int64_t{1} << 32), "token file '", path, "': vocab size ", vocab_size,
           " out of range");
  const int bytes = vocab_size <= 65536 ? 2 : 4;
  for (size_t i = 0; i < ids.size(); ++i)
    XF_CHECK(ids[i] >= 0 && ids[i] < vocab_size, "token file '", path, "': id ", ids[i], " at position ", i,
             " outside [0, ", vocab_size, ")");
  io::write_file_atomic(path, [&](io::FileWriter& w) {
    unsigned char h[kHeader] = {};
    std::memcpy(h, kMagic, 8);
    put_u32(h + 8, 1);
    put_u32(h + 12, static_cast<uint32_t>(bytes));
    put_u64(h + 16, ids.size());
    put_u32(h + 24, static_cast<uint32_t>(vocab_size));
    w.write(h, kHeader);
    std::vector<unsigned char> buf;
    constexpr size_t kChunk = 1 << 16;
    for (size_t b = 0; b < ids.size(); b += kChunk) {
      const size_t e = std::min(ids.size(), b + kChunk);
      buf.assign((e - b) * static_cast<size_t>(bytes), 0);
      for (size_t i = b; i < e; ++i)
        for (int k = 0; k < bytes; ++k)
          buf[(i - b) * bytes + k] = static_cast<unsigned char>(static_cast<uint32_t>(ids[i]) >> (8 * k));
      w.write(buf.data(), buf.size());
    }
  });
}

TokenFile::TokenFile(const std::string& path) : path_(path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  XF_CHECK(fd >= 0, "token file '", path, "': cannot open: ", std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    throw Error("token file '" + path + "': cannot stat");
  }
  const size_t size = static_cast<size_t>(st.st_size);
  if (size < kHeader) {
    ::close(fd);
    throw Error("token file '" + path + "': " + std::to_string(size) + " bytes, shorter than the 32-byte header");
  }
  void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  XF_CHECK(p != MAP_FAILED, "token file '", path, "': mmap failed: ", std::strerror(errno));
  base_ = static_cast<const unsigned char*>(p);
  map_size_ = size;
  try {
    XF_CHECK(std::memcmp(base_, kMagic, 8) == 0, "token file '", path, "': bad magic (not an xfmr token file)");
    const uint32_t version = get_u32(base_ + 8), bytes = get_u32(base_ + 12);
    XF_CHECK(version == 1, "token file '", path, "': unsupported version ", version);
    XF_CHECK(bytes == 2 || bytes == 4, "token file '", path, "': dtype_bytes ", bytes, " (expected 2 or 4)");
    const uint64_t count = get_u64(base_ + 16);
    const uint64_t data = size - kHeader;
    XF_CHECK(count <= data / bytes && count * bytes == data, "token file '", path, "': header says ", count,
             " tokens (", count <= data ? std::to_string(count * bytes) : std::string("more than the file"),
             " bytes) but ", data, " bytes follow");
    vocab_ = get_u32(base_ + 24);
    XF_CHECK(vocab_ > 0, "token file '", path, "': vocab_size 0 in the header");
    count_ = static_cast<int64_t>(count);
    dtype_bytes_ = static_cast<int>(bytes);
    for (int64_t i = 0; i < count_; ++i) {
      const int32_t id = at(i);
      XF_CHECK(id >= 0 && id < vocab_, "token file '", path, "': id ", static_cast<uint32_t>(id), " at position ", i,
               " outside [0, ", vocab_, ")");
    }
  } catch (...) {
    ::munmap(const_cast<unsigned char*>(base_), map_size_);
    throw;
  }
}

TokenFile::~TokenFile() {
  if (base_) ::munmap(const_cast<unsigned char*>(base_), map_size_);
}

int32_t TokenFile::at(int64_t i) const {
  const unsigned char* p = base_ + kHeader + static_cast<size_t>(i) * static_cast<size_t>(dtype_bytes_);
  return dtype_bytes_ == 2 ? static_cast<int32_t>(p[0] | (p[1] << 8)) : static_cast<int32_t>(get_u32(p));
}

std::vector<int32_t> TokenFile::read_all() const {
  std::vector<int32_t> out(static_cast<size_t>(count_));
  for (int64_t i = 0; i < count_; ++i) out[static_cast<size_t>(i)] = at(i);
  return out;
}

Tensor sample_windows(const TokenFile& f, int64_t B, int64_t T, Generator& gen) {
  XF_CHECK(B > 0 && T > 0, "sample_windows: batch ", B, " and block size ", T, " must be positive");
  XF_CHECK(f.size() >= T + 1, "sample_windows: '", f.path(), "' has ", f.size(),
           " tokens, fewer than block_size + 1 = ", T + 1);
  Tensor out = Tensor::empty({B, T + 1}, DType::i64);
  int64_t* o = out.data<int64_t>();
  for (int64_t b = 0; b < B; ++b) {
    const int64_t start = gen.next_int(f.size() - T);
    for (int64_t t = 0; t <= T; ++t) o[b * (T + 1) + t] = f.at(start + t);
  }
  return out;
}

// ---- codecs ----

std::unique_ptr<TextCodec> make_codec(const std::string& spec, std::string_view text) {
  if (spec == "byte")
    return std::make_unique<TokCodec>(std::make_unique<tok::ByteTokenizer>(), nlohmann::json{{"kind", "byte"}});
  if (spec == "char") return char_codec(tok::CharTokenizer::from_corpus(text));
  XF_CHECK(fs::exists(spec), "tokenizer '", spec, "': not char, byte or an existing tokenizer file/folder");
  const std::string abs = fs::absolute(spec).string();
  auto t = tok::load_tokenizer(abs);
  const std::string kind = t->kind();
  return std::make_unique<TokCodec>(std::move(t), nlohmann::json{{"kind", kind}, {"path", abs}});
}

std::unique_ptr<TextCodec> load_codec(const std::string& dir) {
  const std::string path = dir + "/tokenizer.json";
  const std::string body = io::read_file(path);
  const auto j = nlohmann::json::parse(body, nullptr, false);
  XF_CHECK(!j.is_discarded() && j.is_object() && j.contains("kind") && j["kind"].is_string(), "tokenizer file '",
           path, "' is not a tokenizer description (JSON with a \"kind\")");
  const std::string kind = j["kind"].get<std::string>();
  if (j.contains("path") && j["path"].is_string()) {
    auto t = tok::load_tokenizer(j["path"].get<std::string>());
    return std::make_unique<TokCodec>(std::move(t), j);
  }
  if (kind == "byte") return make_codec("byte", "");
  if (kind == "char") return char_codec(tok::CharTokenizer::from_json_text(body, "tokenizer file '" + path + "'"));
  throw Error("tokenizer file '" + path + "': unknown kind '" + kind + "'");
}

// ---- prepare ----

PrepareResult prepare_text(const std::string& input, const std::string& tokenizer, const std::string& out_dir,
                           double val_fraction) {
  XF_CHECK(val_fraction >= 0 && val_fraction < 1, "prepare: --val-fraction must be in [0, 1), got ", val_fraction);
  const std::string text = read_input(input);
  XF_CHECK(!text.empty(), "prepare: input '", input, "' is empty");
  const std::vector<uint32_t> cps = code_points(text, "prepare: input '" + input + "'");
  // Cut at a code-point boundary: the byte offset of code point n_train.
  const auto n_chars = static_cast<int64_t>(cps.size());
  const auto n_train = static_cast<int64_t>(static_cast<double>(n_chars) * (1.0 - val_fraction));
  size_t cut = 0;
  for (int64_t i = 0; i < n_train; ++i) {
    uint32_t cp;
    cut += utf8_next(text, cut, cp);
  }
  const auto codec = make_codec(tokenizer, text);
  const std::vector<int32_t> train = codec->encode(std::string_view(text).substr(0, cut));
  const std::vector<int32_t> val = codec->encode(std::string_view(text).substr(cut));
  fs::create_directories(out_dir);
  write_token_file(out_dir + "/train.bin", train, codec->vocab_size());
  write_token_file(out_dir + "/val.bin", val, codec->vocab_size());
  io::write_file_atomic(out_dir + "/tokenizer.json", codec->to_json().dump(1) + "\n");
  nlohmann::json meta;
  meta["format"] = "xfmr-text-data";
  meta["version"] = 1;
  meta["tokenizer"] = codec->to_json().contains("path") ? codec->to_json()
                                                        : nlohmann::json{{"kind", codec->kind()}, {"path", ""}};
  meta["vocab_size"] = codec->vocab_size();
  meta["train_tokens"] = train.size();
  meta["val_tokens"] = val.size();
  meta["chars"] = n_chars;
  meta["source"] = input;
  meta["val_fraction"] = val_fraction;
  io::write_file_atomic(out_dir + "/meta.json", meta.dump(1) + "\n");
  return {codec->vocab_size(), static_cast<int64_t>(train.size()), static_cast<int64_t>(val.size()), n_chars,
          codec->kind()};
}

TextDataset::TextDataset(const std::string& d) : dir(d) {
  XF_CHECK(fs::is_directory(d), "text data: '", d, "' is not a folder (run xfmr prepare first)");
  const std::string mp = d + "/meta.json";
  XF_CHECK(fs::exists(mp), "text data: '", d, "' has no meta.json (not a prepared folder: run xfmr prepare)");
  meta = nlohmann::json::parse(io::read_file(mp), nullptr, false);
  XF_CHECK(!meta.is_discarded() && meta.is_object() && meta.value("format", std::string()) == "xfmr-text-data",
           "text data: '", mp, "' is not an xfmr-text-data meta.json");
  codec = load_codec(d);
  train = std::make_unique<TokenFile>(d + "/train.bin");
  val = std::make_unique<TokenFile>(d + "/val.bin");
  for (const TokenFile* f : {train.get(), val.get()})
    XF_CHECK(f->vocab_size() == codec->vocab_size(), "text data: '", f->path(), "' has vocab size ",
             f->vocab_size(), " but the tokenizer has ", codec->vocab_size());
  XF_CHECK(train->size() > 0, "text data: '", train->path(), "' holds no tokens (empty corpus)");
}

}  // namespace xfmr::text
