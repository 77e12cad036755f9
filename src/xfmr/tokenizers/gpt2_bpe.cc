#include "xfmr/tokenizers/gpt2_bpe.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "xfmr/core/check.h"
#include "xfmr/io/file_util.h"
#include "xfmr/tokenizers/byte_level.h"

namespace xfmr::tok {

// Open-addressing hash table (left id, right id) -> (rank, merged id): the inner loop of BPE is one lookup per
// candidate pair, so it avoids std::unordered_map's node chasing.
struct Gpt2BpeTokenizer::MergeTable {
  struct Slot {
    uint64_t key = ~uint64_t{0};
    int32_t rank = 0, merged = 0;
  };
  std::vector<Slot> slots;
  uint64_t mask = 0;

  explicit MergeTable(size_t n) {
    size_t cap = 16;
    while (cap < 2 * n) cap <<= 1;
    slots.resize(cap);
    mask = cap - 1;
  }
  static uint64_t key_of(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }
  static uint64_t hash(uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return k;
  }
  // Returns false when the pair is already present (the first, lowest-rank occurrence wins).
  bool insert(int32_t a, int32_t b, int32_t rank, int32_t merged) {
    const uint64_t k = key_of(a, b);
    for (uint64_t h = hash(k) & mask;; h = (h + 1) & mask) {
      if (slots[h].key == k) return false;
      if (slots[h].key == ~uint64_t{0}) {
        slots[h] = {k, rank, merged};
        return true;
      }
    }
  }
  const Slot* find(int32_t a, int32_t b) const {
    const uint64_t k = key_of(a, b);
    for (uint64_t h = hash(k) & mask;; h = (h + 1) & mask) {
      if (slots[h].key == k) return &slots[h];
      if (slots[h].key == ~uint64_t{0}) return nullptr;
    }
  }
};

// Pre-token -> ids. Most words of running text repeat, so this turns BPE into a hash lookup. Bounded: cleared when
// it grows past kMaxEntries (simple, and the next words refill it).
struct Gpt2BpeTokenizer::Cache {
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  static constexpr size_t kMaxEntries = 1 << 18;
  std::mutex mu;
  std::unordered_map<std::string, std::vector<int32_t>, Hash, std::equal_to<>> map;
};

Gpt2BpeTokenizer::~Gpt2BpeTokenizer() = default;

Gpt2BpeTokenizer::Gpt2BpeTokenizer(const std::unordered_map<std::string, int32_t>& vocab,
                                   const std::vector<Merge>& merges, const std::vector<std::string>& special_tokens)
    : cache_(std::make_unique<Cache>()) {
  XF_CHECK(!vocab.empty(), "gpt2 bpe: the vocabulary is empty");
  int32_t max_id = -1;
  for (const auto& [tok, id] : vocab) {
    XF_CHECK(id >= 0, "gpt2 bpe: token '", tok, "' has a negative id ", id);
    max_id = std::max(max_id, id);
  }
  XF_CHECK(max_id < (1 << 30), "gpt2 bpe: id ", max_id, " is too large");
  token_bytes_.assign(static_cast<size_t>(max_id) + 1, std::string());
  valid_id_.assign(token_bytes_.size(), false);
  std::vector<bool> is_special(token_bytes_.size(), false);
  for (const auto& s : special_tokens) {
    const auto it = vocab.find(s);
    if (it == vocab.end() || s.empty()) continue;
    specials_.emplace_back(s, it->second);
    is_special[static_cast<size_t>(it->second)] = true;
    if (s == "<|endoftext|>") eot_id_ = it->second;
  }
  std::sort(specials_.begin(), specials_.end(),
            [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
  std::string bytes;
  for (const auto& [tok, id] : vocab) {
    const auto u = static_cast<size_t>(id);
    XF_CHECK(!valid_id_[u], "gpt2 bpe: id ", id, " is used by two tokens (one is '", tok, "')");
    valid_id_[u] = true;
    // Special and added tokens may hold characters outside the byte table: they stand for their own UTF-8 text.
    token_bytes_[u] = (!is_special[u] && display_to_bytes(tok, bytes)) ? bytes : tok;
    display_to_id_.emplace(tok, id);
  }
  const auto& disp = byte_display_utf8();
  for (int b = 0; b < 256; ++b) {
    const auto it = vocab.find(disp[b]);
    XF_CHECK(it != vocab.end(), "gpt2 bpe: the vocabulary lacks the single-byte token '", disp[b], "' (byte ", b,
             "), needed to encode arbitrary bytes");
    byte_id_[b] = it->second;
  }
  merges_ = std::make_unique<MergeTable>(merges.size());
  for (size_t r = 0; r < merges.size(); ++r) {
    const auto& [a, b] = merges[r];
    const auto ia = vocab.find(a), ib = vocab.find(b), im = vocab.find(a + b);
    XF_CHECK(ia != vocab.end() && ib != vocab.end(), "gpt2 bpe: merge ", r, " ('", a, "' '", b,
             "') uses a token that is not in the vocabulary");
    XF_CHECK(im != vocab.end(), "gpt2 bpe: merge ", r, " ('", a, "' '", b, "') makes '", a + b,
             "', which is not in the vocabulary");
    merges_->insert(ia->second, ib->second, static_cast<int32_t>(r), im->second);
  }
  n_merges_ = merges.size();
}

std::unique_ptr<Gpt2BpeTokenizer> Gpt2BpeTokenizer::from_token_list(const std::vector<std::string>& tokens,
                                                                    const std::vector<std::string>& merges,
                                                                    const std::vector<std::string>& special_tokens) {
  std::unordered_map<std::string, int32_t> vocab;
  vocab.reserve(tokens.size());
  for (size_t i = 0; i < tokens.size(); ++i) vocab.emplace(tokens[i], static_cast<int32_t>(i));
  std::vector<Merge> m;
  m.reserve(merges.size());
  for (size_t r = 0; r < merges.size(); ++r) {
    const size_t sp = merges[r].find(' ');
    XF_CHECK(sp != std::string::npos && sp > 0 && sp + 1 < merges[r].size() &&
                 merges[r].find(' ', sp + 1) == std::string::npos,
             "gpt2 bpe: merge ", r, " '", merges[r], "' is not two tokens separated by one space");
    m.emplace_back(merges[r].substr(0, sp), merges[r].substr(sp + 1));
  }
  return std::make_unique<Gpt2BpeTokenizer>(vocab, m, special_tokens);
}

int32_t Gpt2BpeTokenizer::token_id(const std::string& display) const {
  const auto it = display_to_id_.find(display);
  return it == display_to_id_.end() ? -1 : it->second;
}

void Gpt2BpeTokenizer::clear_cache() const {
  std::lock_guard<std::mutex> lock(cache_->mu);
  cache_->map.clear();
}

// BPE on one pre-token. Symbols form a linked list over the word's bytes; a min-heap holds candidate pairs keyed by
// (merge rank, position), so the lowest-rank pair merges first and equal pairs merge left to right, which is what
// encoder.py's "merge every occurrence of the best bigram" loop produces. Stale heap entries are skipped.
void Gpt2BpeTokenizer::bpe(std::string_view word, std::vector<int32_t>& out) const {
  const int n = static_cast<int>(word.size());
  if (n == 1) {
    out.push_back(byte_id_[static_cast<unsigned char>(word[0])]);
    return;
  }
  struct Sym {
    int32_t id, prev, next;
  };
  struct Cand {
    int32_t rank, pos, left_id, right_id;
    bool operator>(const Cand& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  thread_local std::vector<Sym> sym;
  thread_local std::vector<Cand> heap;
  sym.resize(static_cast<size_t>(n));
  heap.clear();
  const auto greater = std::greater<Cand>();
  auto push = [&](int32_t pos) {
    const int32_t nx = sym[pos].next;
    if (nx < 0) return;
    if (const auto* m = merges_->find(sym[pos].id, sym[nx].id)) {
      heap.push_back({m->rank, pos, sym[pos].id, sym[nx].id});
      std::push_heap(heap.begin(), heap.end(), greater);
    }
  };
  for (int i = 0; i < n; ++i) sym[i] = {byte_id_[static_cast<unsigned char>(word[i])], i - 1, i + 1 < n ? i + 1 : -1};
  for (int i = 0; i + 1 < n; ++i) push(i);
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), greater);
    const Cand c = heap.back();
    heap.pop_back();
    Sym& l = sym[c.pos];
    if (l.id != c.left_id || l.next < 0 || sym[l.next].id != c.right_id) continue;  // stale
    const int32_t r = l.next;
    l.id = merges_->find(c.left_id, c.right_id)->merged;
    l.next = sym[r].next;
    if (l.next >= 0) sym[l.next].prev = c.pos;
    sym[r].id = -1;
    if (l.prev >= 0) push(l.prev);
    push(c.pos);
  }
  for (int i = 0; i >= 0; i = sym[i].next) out.push_back(sym[i].id);
}

void Gpt2BpeTokenizer::encode_chunk(std::string_view text, std::vector<int32_t>& out) const {
  for (size_t i = 0; i < text.size();) {
    const size_t e = gpt2_pretoken_end(text, i);
    const std::string_view word = text.substr(i, e - i);
    i = e;
    if (word.size() == 1) {
      out.push_back(byte_id_[static_cast<unsigned char>(word[0])]);
      continue;
    }
    {
      std::lock_guard<std::mutex> lock(cache_->mu);
      const auto it = cache_->map.find(word);
      if (it != cache_->map.end()) {
        out.insert(out.end(), it->second.begin(), it->second.end());
        continue;
      }
    }
    const size_t start = out.size();
    bpe(word, out);
    std::lock_guard<std::mutex> lock(cache_->mu);
    if (cache_->map.size() >= Cache::kMaxEntries) cache_->map.clear();
    cache_->map.emplace(std::string(word), std::vector<int32_t>(out.begin() + static_cast<ptrdiff_t>(start), out.end()));
  }
}

std::vector<int32_t> Gpt2BpeTokenizer::encode_ordinary(std::string_view text) const {
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 4);
  encode_chunk(text, out);
  return out;
}

std::vector<int32_t> Gpt2BpeTokenizer::encode(std::string_view text, bool add_bos) const {
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 4);
  if (add_bos && eot_id_ >= 0) out.push_back(eot_id_);
  if (specials_.empty()) {
    encode_chunk(text, out);
    return out;
  }
  // Split at the earliest special token (the longest one when several start there); the pieces between them are
  // encoded as ordinary text, so no merge or pre-token crosses a special token.
  std::vector<size_t> next(specials_.size(), 0);
  for (size_t k = 0; k < specials_.size(); ++k) next[k] = text.find(specials_[k].first);
  size_t pos = 0;
  while (true) {
    size_t best = std::string_view::npos, best_k = 0;
    for (size_t k = 0; k < specials_.size(); ++k) {
      if (next[k] != std::string_view::npos && next[k] < pos) next[k] = text.find(specials_[k].first, pos);
      if (next[k] < best) best = next[k], best_k = k;
    }
    if (best == std::string_view::npos) break;
    encode_chunk(text.substr(pos, best - pos), out);
    out.push_back(specials_[best_k].second);
    pos = best + specials_[best_k].first.size();
  }
  encode_chunk(text.substr(pos), out);
  return out;
}

std::string Gpt2BpeTokenizer::decode_token(int32_t /*prev*/, int32_t id) const {
  XF_CHECK(id >= 0 && id < vocab_size() && valid_id_[static_cast<size_t>(id)], "gpt2 bpe: decode: id ", id,
           " is not in the vocabulary (size ", vocab_size(), ")");
  return token_bytes_[static_cast<size_t>(id)];
}

std::string Gpt2BpeTokenizer::decode(const std::vector<int32_t>& ids) const {
  std::string out;
  out.reserve(ids.size() * 4);
  for (size_t i = 0; i < ids.size(); ++i) {
    const int32_t id = ids[i];
    XF_CHECK(id >= 0 && id < vocab_size() && valid_id_[static_cast<size_t>(id)], "gpt2 bpe: decode: id ", id,
             " at position ", i, " is not in the vocabulary (size ", vocab_size(), ")");
    out += token_bytes_[static_cast<size_t>(id)];
  }
  return out;
}

}  // namespace xfmr::tok
