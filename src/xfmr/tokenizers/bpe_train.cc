#include "xfmr/tokenizers/bpe_train.h"

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <queue>
#include <unordered_map>

#include "xfmr/core/check.h"
#include "xfmr/tokenizers/byte_level.h"

namespace xfmr::tok {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

uint64_t pair_key(int32_t a, int32_t b) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
}
int32_t pair_left(uint64_t k) { return static_cast<int32_t>(k >> 32); }
int32_t pair_right(uint64_t k) { return static_cast<int32_t>(k & 0xFFFFFFFFu); }

struct Word {
  std::vector<int32_t> sym;
  int64_t freq;
};

// Pre-token counts over the chunks between special tokens (special tokens themselves are never merged into).
std::unordered_map<std::string_view, int64_t> count_pretokens(std::string_view corpus,
                                                              const std::vector<std::string>& specials) {
  std::unordered_map<std::string_view, int64_t> counts;
  auto count_chunk = [&](std::string_view chunk) {
    for (size_t i = 0; i < chunk.size();) {
      const size_t e = gpt2_pretoken_end(chunk, i);
      ++counts[chunk.substr(i, e - i)];
      i = e;
    }
  };
  size_t pos = 0;
  while (pos < corpus.size()) {
    size_t best = std::string_view::npos, best_len = 0;
    for (const auto& s : specials) {
      const size_t k = corpus.find(s, pos);
      if (k < best || (k == best && s.size() > best_len)) best = k, best_len = s.size();
    }
    if (best == std::string_view::npos) break;
    count_chunk(corpus.substr(pos, best - pos));
    pos = best + best_len;
  }
  count_chunk(corpus.substr(std::min(pos, corpus.size())));
  return counts;
}

}  // namespace

BpeTrainResult train_byte_bpe(std::string_view corpus, int vocab_size, const std::vector<std::string>& specials) {
  BpeTrainResult r;
  r.special_tokens = specials;
  for (const auto& s : specials) XF_CHECK(!s.empty(), "bpe train: empty special token");
  const int n_base = static_cast<int>(specials.size()) + 256;
  XF_CHECK(vocab_size >= n_base, "bpe train: vocab_size ", vocab_size, " is smaller than the ", specials.size(),
           " special tokens + 256 bytes = ", n_base);
  r.corpus_bytes = corpus.size();
  const auto t0 = Clock::now();

  r.vocab = specials;
  int32_t byte_id[256];
  for (const uint8_t b : bytes_in_display_order()) {
    byte_id[b] = static_cast<int32_t>(r.vocab.size());
    r.vocab.emplace_back(1, static_cast<char>(b));
  }
  std::unordered_map<std::string, int32_t> id_of_bytes;
  for (size_t i = 0; i < r.vocab.size(); ++i) id_of_bytes.emplace(r.vocab[i], static_cast<int32_t>(i));
  std::vector<std::string> tok = r.vocab;  // id -> bytes, including reused ids

  std::vector<Word> words;
  {
    const auto counts = count_pretokens(corpus, specials);
    words.reserve(counts.size());
    for (const auto& [w, f] : counts) {
      Word word{{}, f};
      word.sym.reserve(w.size());
      for (const char c : w) word.sym.push_back(byte_id[static_cast<unsigned char>(c)]);
      words.push_back(std::move(word));
    }
  }
  r.distinct_pretokens = words.size();
  r.pretokenize_seconds = seconds_since(t0);
  const auto t1 = Clock::now();

  std::unordered_map<uint64_t, int64_t> count;
  std::unordered_map<uint64_t, std::vector<int32_t>> where;  // pair -> words that contain (or once contained) it
  for (size_t w = 0; w < words.size(); ++w) {
    const auto& s = words[w].sym;
    for (size_t i = 0; i + 1 < s.size(); ++i) {
      const uint64_t k = pair_key(s[i], s[i + 1]);
      count[k] += words[w].freq;
      auto& list = where[k];
      if (list.empty() || list.back() != static_cast<int32_t>(w)) list.push_back(static_cast<int32_t>(w));
    }
  }

  // Max-heap of (count, pair) with lazy deletion: an entry is live only while its count is the pair's current count.
  struct Entry {
    int64_t count;
    uint64_t pair;
  };
  auto less = [&tok](const Entry& x, const Entry& y) {
    if (x.count != y.count) return x.count < y.count;
    const int c = tok[pair_left(x.pair)].compare(tok[pair_left(y.pair)]);  // byte-wise, as Python bytes compare
    if (c != 0) return c < 0;
    return tok[pair_right(x.pair)] < tok[pair_right(y.pair)];
  };
  std::priority_queue<Entry, std::vector<Entry>, decltype(less)> heap(less);
  for (const auto& [k, c] : count)
    if (c > 0) heap.push({c, k});

  std::vector<uint32_t> seen(words.size(), 0);  // stamp per word: visited in this merge step
  std::unordered_map<uint64_t, int64_t> touched;  // pair -> count before this step
  std::vector<int32_t> next_sym;
  const int n_merges = vocab_size - n_base;
  for (int m = 0; m < n_merges && !heap.empty(); ++m) {
    Entry top = heap.top();
    heap.pop();
    const auto it = count.find(top.pair);
    if (it == count.end() || it->second != top.count || top.count <= 0) {
      --m;  // stale entry
      continue;
    }
    const int32_t a = pair_left(top.pair), b = pair_right(top.pair);
    std::string merged = tok[a] + tok[b];
    int32_t c;
    if (const auto e = id_of_bytes.find(merged); e != id_of_bytes.end()) {
      c = e->second;
    } else {
      c = static_cast<int32_t>(tok.size());
      tok.push_back(merged);
      r.vocab.push_back(merged);
      id_of_bytes.emplace(merged, c);
    }
    r.merges.emplace_back(tok[a], tok[b]);

    touched.clear();
    auto add = [&](uint64_t k, int64_t d) {
      auto& v = count[k];
      touched.try_emplace(k, v);
      v += d;
    };
    const uint32_t stamp = static_cast<uint32_t>(m) + 1;
    const std::vector<int32_t> affected = std::move(where[top.pair]);
    where.erase(top.pair);
    for (const int32_t w : affected) {
      if (seen[w] == stamp) continue;
      seen[w] = stamp;
      auto& s = words[w].sym;
      const int64_t f = words[w].freq;
      bool found = false;
      for (size_t i = 0; i + 1 < s.size() && !found; ++i) found = s[i] == a && s[i + 1] == b;
      if (!found) continue;
      // Replace every non-overlapping occurrence left to right, then update the counts by the difference between the
      // word's old and new pairs.
      next_sym.clear();
      for (size_t i = 0; i < s.size();) {
        if (i + 1 < s.size() && s[i] == a && s[i + 1] == b) {
          next_sym.push_back(c);
          i += 2;
        } else {
          next_sym.push_back(s[i++]);
        }
      }
      for (size_t i = 0; i + 1 < s.size(); ++i) add(pair_key(s[i], s[i + 1]), -f);
      for (size_t i = 0; i + 1 < next_sym.size(); ++i) {
        const uint64_t k = pair_key(next_sym[i], next_sym[i + 1]);
        add(k, f);
        if (next_sym[i] == c || next_sym[i + 1] == c) {
          auto& list = where[k];
          if (list.empty() || list.back() != w) list.push_back(w);
        }
      }
      s.swap(next_sym);
    }
    for (const auto& [k, before] : touched) {
      const int64_t now = count[k];
      if (now != before && now > 0) heap.push({now, k});
      if (now == 0) count.erase(k);
    }
  }
  r.merge_seconds = seconds_since(t1);
  return r;
}

std::string bpe_to_hf_tokenizer_json(const BpeTrainResult& r) {
  using oj = nlohmann::ordered_json;
  oj vocab = oj::object();
  for (size_t i = 0; i < r.vocab.size(); ++i) {
    const bool special = i < r.special_tokens.size();
    vocab[special ? r.vocab[i] : bytes_to_display(r.vocab[i])] = i;
  }
  oj merges = oj::array();
  for (const auto& [a, b] : r.merges) merges.push_back(bytes_to_display(a) + " " + bytes_to_display(b));
  oj added = oj::array();
  for (size_t i = 0; i < r.special_tokens.size(); ++i)
    added.push_back({{"id", i}, {"content", r.special_tokens[i]}, {"single_word", false}, {"lstrip", false},
                     {"rstrip", false}, {"normalized", false}, {"special", true}});
  const oj byte_level = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}};
  oj j;
  j["version"] = "1.0";
  j["truncation"] = nullptr;
  j["padding"] = nullptr;
  j["added_tokens"] = added;
  j["normalizer"] = nullptr;
  j["pre_tokenizer"] = byte_level;
  j["post_processor"] = nullptr;
  j["decoder"] = byte_level;
  j["model"] = {{"type", "BPE"},          {"dropout", nullptr},       {"unk_token", nullptr},
                {"continuing_subword_prefix", nullptr}, {"end_of_word_suffix", nullptr}, {"fuse_unk", false},
                {"byte_fallback", false}, {"vocab", vocab},           {"merges", merges}};
  return j.dump(1) + "\n";
}

}  // namespace xfmr::tok
