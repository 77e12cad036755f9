// Loaders for SentencePiece vocabularies: llama2.c's tokenizer.bin and SentencePiece's tokenizer.model (protobuf).
#include <cstring>

#include "xfmr/core/check.h"
#include "xfmr/io/file_util.h"
#include "xfmr/tokenizers/sentencepiece.h"

namespace xfmr::tok {

namespace {

using PieceType = SentencePieceTokenizer::PieceType;

template <class T>
T read_le(std::string_view d, size_t off) {
  T v;
  std::memcpy(&v, d.data() + off, sizeof v);  // x86-64 / aarch64 are little-endian, as the files are
  return v;
}

// A bounds-checked reader of protobuf wire format (https://protobuf.dev/programming-guides/encoding/): varints,
// fixed 32/64-bit values and length-delimited fields; groups are rejected.
struct ProtoReader {
  std::string_view d;
  size_t pos = 0;
  const std::string& what;

  bool done() const { return pos >= d.size(); }
  [[noreturn]] void fail(const std::string& msg) const {
    throw Error(detail::concat("'", what, "': corrupt SentencePiece model at byte ", pos, ": ", msg));
  }
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos >= d.size()) fail("truncated varint");
      const auto b = static_cast<unsigned char>(d[pos++]);
      v |= static_cast<uint64_t>(b & 0x7F) << shift;
      if (!(b & 0x80)) return v;
    }
    fail("varint longer than 10 bytes");
  }
  std::string_view bytes(size_t n) {
    if (n > d.size() - pos) fail(detail::concat("a field of ", n, " bytes runs past the end (", d.size() - pos, " left)"));
    const std::string_view s = d.substr(pos, n);
    pos += n;
    return s;
  }
  // Reads a tag; returns the field number and sets wire type.
  uint32_t tag(int& wire) {
    const uint64_t t = varint();
    wire = static_cast<int>(t & 7);
    if ((t >> 3) == 0 || (t >> 3) > 0x1FFFFFFF) fail("invalid field number");
    return static_cast<uint32_t>(t >> 3);
  }
  void skip(int wire) {
    switch (wire) {
      case 0: varint(); break;
      case 1: bytes(8); break;
      case 2: bytes(varint()); break;
      case 5: bytes(4); break;
      default: fail(detail::concat("unsupported wire type ", wire));
    }
  }
};

struct RawPiece {
  std::string piece;
  float score = 0;
  int32_t type = 1;  // NORMAL is the proto default
};

RawPiece parse_piece(std::string_view msg, const std::string& what, size_t base) {
  ProtoReader r{msg, 0, what};
  RawPiece p;
  try {
    while (!r.done()) {
      int wire;
      const uint32_t f = r.tag(wire);
      if (f == 1 && wire == 2) {
        p.piece = std::string(r.bytes(r.varint()));
      } else if (f == 2 && wire == 5) {
        p.score = read_le<float>(r.bytes(4), 0);
      } else if (f == 3 && wire == 0) {
        p.type = static_cast<int32_t>(r.varint());
      } else {
        r.skip(wire);
      }
    }
  } catch (const Error&) {
    throw Error(detail::concat("'", what, "': corrupt SentencePiece model: a piece at byte ", base,
                               " is malformed or truncated"));
  }
  return p;
}

}  // namespace

std::unique_ptr<SentencePieceTokenizer> parse_llama2c_tokenizer(std::string_view d, const std::string& what) {
  XF_CHECK(d.size() >= 4, "'", what, "': not a llama2.c tokenizer (", d.size(), " bytes; needs a 4-byte header)");
  const auto max_len = read_le<int32_t>(d, 0);
  XF_CHECK(max_len > 0 && max_len <= 4096, "'", what, "': not a llama2.c tokenizer (max_token_length ", max_len,
           " in the header)");
  std::vector<std::string> pieces;
  std::vector<float> scores;
  size_t off = 4;
  while (off < d.size()) {
    XF_CHECK(d.size() - off >= 8, "'", what, "': truncated llama2.c tokenizer: token ", pieces.size(), " at byte ", off,
             " needs 8 header bytes, ", d.size() - off, " left");
    const float score = read_le<float>(d, off);
    const auto len = read_le<int32_t>(d, off + 4);
    off += 8;
    XF_CHECK(len >= 0 && len <= max_len, "'", what, "': corrupt llama2.c tokenizer: token ", pieces.size(),
             " has length ", len, " (max_token_length ", max_len, ")");
    XF_CHECK(d.size() - off >= static_cast<size_t>(len), "'", what, "': truncated llama2.c tokenizer: token ",
             pieces.size(), " needs ", len, " bytes at byte ", off, ", ", d.size() - off, " left");
    pieces.emplace_back(d.substr(off, static_cast<size_t>(len)));
    scores.push_back(score);
    off += static_cast<size_t>(len);
  }
  XF_CHECK(pieces.size() >= 3, "'", what, "': a llama2.c tokenizer needs at least <unk>, <s>, </s>; it has ",
           pieces.size(), " tokens");
  try {
    return std::make_unique<SentencePieceTokenizer>(std::move(pieces), std::move(scores), std::vector<PieceType>{}, 1,
                                                    2, 0);
  } catch (const Error& e) {
    throw Error(detail::concat("'", what, "': ", e.what()));
  }
}

std::unique_ptr<SentencePieceTokenizer> load_llama2c_tokenizer(const std::string& path) {
  return parse_llama2c_tokenizer(io::read_file(path), path);
}

std::unique_ptr<SentencePieceTokenizer> parse_sentencepiece_model(std::string_view d, const std::string& what) {
  // ModelProto: 1 = repeated SentencePiece pieces, 2 = TrainerSpec, 3 = NormalizerSpec.
  // TrainerSpec: 3 = model_type (2 = BPE), 40/41/42 = unk/bos/eos id. NormalizerSpec: 3 = add_dummy_prefix,
  // 4 = remove_extra_whitespaces (sentencepiece_model.proto).
  ProtoReader r{d, 0, what};
  std::vector<std::string> pieces;
  std::vector<float> scores;
  std::vector<PieceType> types;
  int64_t unk = 0, bos = 1, eos = 2, model_type = 1;
  SentencePieceTokenizer::Options opt;
  opt.remove_extra_whitespaces = true;  // the proto default
  while (!r.done()) {
    int wire;
    const size_t at = r.pos;
    const uint32_t f = r.tag(wire);
    if (f == 1 && wire == 2) {
      RawPiece p = parse_piece(r.bytes(r.varint()), what, at);
      XF_CHECK(p.type >= 1 && p.type <= 6, "'", what, "': piece ", pieces.size(), " has an unknown type ", p.type);
      pieces.push_back(std::move(p.piece));
      scores.push_back(p.score);
      types.push_back(static_cast<PieceType>(p.type));
    } else if ((f == 2 || f == 3) && wire == 2) {
      ProtoReader sub{r.bytes(r.varint()), 0, what};
      while (!sub.done()) {
        int w;
        const uint32_t g = sub.tag(w);
        if (w != 0) {
          sub.skip(w);
          continue;
        }
        const auto v = static_cast<int64_t>(sub.varint());  // int32 -1 is sign-extended to 64 bits on the wire
        if (f == 2 && g == 3) model_type = v;
        if (f == 2 && g == 40) unk = v;
        if (f == 2 && g == 41) bos = v;
        if (f == 2 && g == 42) eos = v;
        if (f == 3 && g == 3) opt.add_dummy_prefix = v != 0;
        if (f == 3 && g == 4) opt.remove_extra_whitespaces = v != 0;
      }
    } else {
      r.skip(wire);
    }
  }
  XF_CHECK(!pieces.empty(), "'", what, "': not a SentencePiece model (no pieces found)");
  XF_CHECK(model_type == 2, "'", what, "': SentencePiece model_type ", model_type,
           " is not BPE (2); only BPE models are supported");
  const auto n = static_cast<int64_t>(pieces.size());
  auto id_or_none = [n](int64_t v) { return v >= 0 && v < n ? static_cast<int32_t>(v) : -1; };
  try {
    return std::make_unique<SentencePieceTokenizer>(std::move(pieces), std::move(scores), std::move(types),
                                                    id_or_none(bos), id_or_none(eos), id_or_none(unk), opt);
  } catch (const Error& e) {
    throw Error(detail::concat("'", what, "': ", e.what()));
  }
}

std::unique_ptr<SentencePieceTokenizer> load_sentencepiece_model(const std::string& path) {
  return parse_sentencepiece_model(io::read_file(path), path);
}

}  // namespace xfmr::tok
