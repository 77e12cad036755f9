#include "xfmr/tokenizers/sentencepiece.h"

#include <algorithm>
#include <cstdio>

#include "xfmr/core/check.h"
#include "xfmr/tokenizers/utf8.h"

namespace xfmr::tok {

namespace {

constexpr std::string_view kSpaceMark = "\xE2\x96\x81";  // U+2581 "▁"

std::string spaces_from_marks(const std::string& p) {
  std::string out;
  out.reserve(p.size());
  for (size_t i = 0; i < p.size();) {
    if (p.compare(i, kSpaceMark.size(), kSpaceMark) == 0) {
      out += ' ';
      i += kSpaceMark.size();
    } else {
      out += p[i++];
    }
  }
  return out;
}

// "<0xNN>" -> NN, or -1.
int byte_piece_value(const std::string& p) {
  if (p.size() != 6 || p.compare(0, 3, "<0x") != 0 || p[5] != '>') return -1;
  int v = 0;
  for (int k = 3; k < 5; ++k) {
    const char c = p[k];
    int d;
    if (c >= '0' && c <= '9')
      d = c - '0';
    else if (c >= 'A' && c <= 'F')
      d = c - 'A' + 10;
    else if (c >= 'a' && c <= 'f')
      d = c - 'a' + 10;
    else
      return -1;
    v = v * 16 + d;
  }
  return v;
}

uint64_t pair_key(int32_t a, int32_t b) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
}

bool mergeable_type(SentencePieceTokenizer::PieceType t) {
  return t == SentencePieceTokenizer::PieceType::kNormal || t == SentencePieceTokenizer::PieceType::kUserDefined;
}

}  // namespace

SentencePieceTokenizer::SentencePieceTokenizer(std::vector<std::string> pieces, std::vector<float> scores,
                                               std::vector<PieceType> types, int32_t bos_id, int32_t eos_id,
                                               int32_t unk_id, Options options)
    : pieces_(std::move(pieces)), scores_(std::move(scores)), types_(std::move(types)), bos_(bos_id), eos_(eos_id),
      unk_(unk_id), opt_(options) {
  const auto n = static_cast<int64_t>(pieces_.size());
  XF_CHECK(n > 0 && n < (int64_t{1} << 30), "sentencepiece: the vocabulary has ", n, " pieces");
  XF_CHECK(static_cast<int64_t>(scores_.size()) == n, "sentencepiece: ", scores_.size(), " scores for ", n, " pieces");
  XF_CHECK(types_.empty() || static_cast<int64_t>(types_.size()) == n, "sentencepiece: ", types_.size(),
           " piece types for ", n, " pieces");
  for (const auto& [name, id] : {std::pair{"bos", bos_}, {"eos", eos_}, {"unk", unk_}})
    XF_CHECK(id >= -1 && id < n, "sentencepiece: ", name, " id ", id, " is outside the vocabulary of ", n, " pieces");
  if (types_.empty()) {
    types_.assign(pieces_.size(), PieceType::kNormal);
    for (size_t i = 0; i < pieces_.size(); ++i)
      if (byte_piece_value(pieces_[i]) >= 0) types_[i] = PieceType::kByte;
    if (bos_ >= 0) types_[bos_] = PieceType::kControl;
    if (eos_ >= 0) types_[eos_] = PieceType::kControl;
    if (unk_ >= 0) types_[unk_] = PieceType::kUnknown;
  }
  std::fill(std::begin(byte_ids_), std::end(byte_ids_), -1);
  int n_bytes = 0;
  for (size_t i = 0; i < pieces_.size(); ++i) {
    const int t = static_cast<int>(types_[i]);
    XF_CHECK(t >= 1 && t <= 6, "sentencepiece: piece ", i, " has an unknown type ", t);
    pieces_[i] = spaces_from_marks(pieces_[i]);
    if (types_[i] == PieceType::kByte) {
      const int v = byte_piece_value(pieces_[i]);
      XF_CHECK(v >= 0, "sentencepiece: byte piece ", i, " '", pieces_[i], "' is not of the form <0xNN>");
      if (byte_ids_[v] < 0) byte_ids_[v] = static_cast<int32_t>(i), ++n_bytes;
    } else if (mergeable_type(types_[i]) && !pieces_[i].empty()) {
      mergeable_.emplace(pieces_[i], static_cast<int32_t>(i));
    }
  }
  // Byte fallback needs all 256 byte pieces; a partial set would leave some bytes unencodable.
  XF_CHECK(n_bytes == 0 || n_bytes == 256, "sentencepiece: only ", n_bytes, " of the 256 <0xNN> byte pieces exist");
  split_at_spaces_ = true;
  for (const auto& [p, id] : mergeable_)
    for (size_t k = 1; k < p.size(); ++k)
      if (p[k] == ' ' && p[k - 1] != ' ') split_at_spaces_ = false;
  // Every way to write a mergeable piece as two mergeable pieces (split at a character boundary) is a merge rule.
  for (const auto& [p, id] : mergeable_) {
    for (size_t k = utf8_next(p, 0).len; k < p.size(); k += static_cast<size_t>(utf8_next(p, k).len)) {
      const auto a = mergeable_.find(std::string_view(p).substr(0, k));
      if (a == mergeable_.end()) continue;
      const auto b = mergeable_.find(std::string_view(p).substr(k));
      if (b == mergeable_.end()) continue;
      pair_to_piece_.emplace(pair_key(a->second, b->second), id);
    }
  }
}

const std::string& SentencePieceTokenizer::piece(int32_t id) const {
  XF_CHECK(id >= 0 && id < vocab_size(), "sentencepiece: id ", id, " is out of range [0, ", vocab_size(), ")");
  return pieces_[static_cast<size_t>(id)];
}
float SentencePieceTokenizer::score(int32_t id) const {
  piece(id);  // range check
  return scores_[static_cast<size_t>(id)];
}
SentencePieceTokenizer::PieceType SentencePieceTokenizer::type(int32_t id) const {
  piece(id);
  return types_[static_cast<size_t>(id)];
}

std::vector<int32_t> SentencePieceTokenizer::encode(std::string_view text, bool add_bos) const {
  std::vector<int32_t> out;
  if (add_bos && bos_ >= 0) out.push_back(bos_);
  std::string norm;
  if (opt_.remove_extra_whitespaces) {
    // Strip leading/trailing spaces and collapse runs of spaces (SentencePiece's normalizer option).
    for (const char c : text)
      if (c != ' ' || (!norm.empty() && norm.back() != ' ')) norm += c;
    while (!norm.empty() && norm.back() == ' ') norm.pop_back();
  } else {
    norm.assign(text);
  }
  if (norm.empty()) return out;
  if (opt_.add_dummy_prefix) norm.insert(norm.begin(), ' ');
  if (!split_at_spaces_) {
    encode_piece(norm, 0, out);
    return out;
  }
  // No piece has a space after a non-space character, so no merge crosses the start of a space that follows a
  // non-space: BPE on each such chunk separately gives the same ids, with small heaps instead of one over the text.
  size_t start = 0;
  for (size_t i = 1; i < norm.size(); ++i) {
    if (norm[i] == ' ' && norm[i - 1] != ' ') {
      encode_piece(std::string_view(norm).substr(start, i - start), start, out);
      start = i;
    }
  }
  encode_piece(std::string_view(norm).substr(start), start, out);
  return out;
}

// BPE over one chunk of the normalized text (offset: its byte offset there, for error messages).
void SentencePieceTokenizer::encode_piece(std::string_view norm, size_t offset, std::vector<int32_t>& out) const {
  // Symbols: one per UTF-8 character (an invalid byte is its own symbol), linked so merges are O(1).
  struct Sym {
    int32_t id, prev, next, start, len;
  };
  thread_local std::vector<Sym> sym;
  sym.clear();
  for (size_t i = 0; i < norm.size();) {
    const Utf8Unit u = utf8_next(norm, i);
    const auto it = mergeable_.find(std::string_view(norm).substr(i, static_cast<size_t>(u.len)));
    const auto k = static_cast<int32_t>(sym.size());
    sym.push_back({it == mergeable_.end() ? -1 : it->second, k - 1, -1, static_cast<int32_t>(i), u.len});
    if (k > 0) sym[k - 1].next = k;
    i += static_cast<size_t>(u.len);
  }
  // Candidate merges in a max-heap on (score, -position): the best-scoring pair first, the leftmost among equals,
  // which is exactly llama2.c's "scan all pairs, take the first best" loop, in O(n log n).
  struct Cand {
    float score;
    int32_t pos, left_id, right_id, merged;
    bool operator<(const Cand& o) const { return score != o.score ? score < o.score : pos > o.pos; }
  };
  thread_local std::vector<Cand> heap;
  heap.clear();
  auto push = [&](int32_t pos) {
    if (pos < 0) return;
    const int32_t nx = sym[pos].next;
    if (nx < 0 || sym[pos].id < 0 || sym[nx].id < 0) return;
    const auto it = pair_to_piece_.find(pair_key(sym[pos].id, sym[nx].id));
    if (it == pair_to_piece_.end()) return;
    heap.push_back({scores_[static_cast<size_t>(it->second)], pos, sym[pos].id, sym[nx].id, it->second});
    std::push_heap(heap.begin(), heap.end());
  };
  for (int32_t i = 0; i + 1 < static_cast<int32_t>(sym.size()); ++i) push(i);
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end());
    const Cand c = heap.back();
    heap.pop_back();
    Sym& l = sym[c.pos];
    if (l.id != c.left_id || l.next < 0 || sym[l.next].id != c.right_id) continue;  // stale
    Sym& r = sym[l.next];
    l.id = c.merged;
    l.len += r.len;
    l.next = r.next;
    if (l.next >= 0) sym[l.next].prev = c.pos;
    r.id = -2;
    push(l.prev);
    push(c.pos);
  }
  for (int32_t i = 0; i >= 0; i = sym[i].next) {
    if (sym[i].id >= 0) {
      out.push_back(sym[i].id);
    } else if (has_byte_fallback()) {
      for (int32_t k = 0; k < sym[i].len; ++k)
        out.push_back(byte_ids_[static_cast<unsigned char>(norm[static_cast<size_t>(sym[i].start + k)])]);
    } else {
      XF_CHECK(unk_ >= 0, "sentencepiece: the character at byte offset ",
               offset + static_cast<size_t>(sym[i].start) - (opt_.add_dummy_prefix ? 1 : 0),
               " is not in the vocabulary, which has neither byte fallback nor <unk>");
      out.push_back(unk_);
    }
  }
}

std::string SentencePieceTokenizer::decode_token(int32_t prev, int32_t id) const {
  XF_CHECK(id >= 0 && id < vocab_size(), "sentencepiece: decode: id ", id, " is out of range [0, ", vocab_size(), ")");
  const auto u = static_cast<size_t>(id);
  switch (types_[u]) {
    case PieceType::kByte:
      return std::string(1, static_cast<char>(byte_piece_value(pieces_[u])));
    case PieceType::kControl:
    case PieceType::kUnused:
      return {};
    case PieceType::kUnknown:
      return " \xE2\x81\x87 ";  // " ⁇ "
    default:
      break;
  }
  const std::string& p = pieces_[u];
  if (opt_.add_dummy_prefix && (prev < 0 || (prev == bos_ && bos_ >= 0)) && !p.empty() && p[0] == ' ')
    return p.substr(1);
  return p;
}

std::string SentencePieceTokenizer::decode(const std::vector<int32_t>& ids) const {
  std::string out;
  int32_t prev = -1;
  for (size_t i = 0; i < ids.size(); ++i) {
    XF_CHECK(ids[i] >= 0 && ids[i] < vocab_size(), "sentencepiece: decode: id ", ids[i], " at position ", i,
             " is out of range [0, ", vocab_size(), ")");
    out += decode_token(prev, ids[i]);
    prev = ids[i];
  }
  return out;
}

}  // namespace xfmr::tok
