// Tokenizer throughput: GPT-2 BPE encode (cold = empty pre-token cache, warm = steady state), SentencePiece encode,
// and byte-level BPE training, in MB of text per second (per minute for training), on one core.
// Run: build/ci/bench/bench_tokenizer. Text: data/tokenizers/bpe-train-reference/corpus.en (133 kB of English), or
// the file named by XFMR_BENCH_TEXT (e.g. tinyshakespeare).
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "xfmr/tokenizers/bpe_train.h"
#include "xfmr/tokenizers/gpt2_bpe.h"
#include "xfmr/tokenizers/sentencepiece.h"

using namespace xfmr::tok;

namespace {

// The repository's data folder, found from this file's path (the bench targets get no source-dir define).
std::string data_path(const std::string& rel) {
  return (std::filesystem::path(__FILE__).parent_path().parent_path() / "data" / "tokenizers" / rel).string();
}

const std::string& bench_text() {
  static const std::string text = [] {
    const char* env = std::getenv("XFMR_BENCH_TEXT");
    std::ifstream f(env ? env : data_path("bpe-train-reference/corpus.en"), std::ios::binary);
    std::ostringstream ss;
    ss << f.rdbuf();
    return ss.str();
  }();
  return text;
}

const Gpt2BpeTokenizer& gpt2() {
  static const auto t = load_gpt2_vocab_merges(data_path("gpt2/vocab.json"), data_path("gpt2/merges.txt"));
  return *t;
}

void set_rate(benchmark::State& st, size_t bytes) {
  st.counters["MB/s"] = benchmark::Counter(static_cast<double>(bytes) / 1e6, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_gpt2_encode_cold(benchmark::State& st) {
  const std::string& text = bench_text();
  size_t n_ids = 0;
  for (auto _ : st) {
    st.PauseTiming();
    gpt2().clear_cache();
    st.ResumeTiming();
    n_ids = gpt2().encode(text).size();
    benchmark::DoNotOptimize(n_ids);
  }
  set_rate(st, text.size());
  st.counters["ids"] = static_cast<double>(n_ids);
}
BENCHMARK(BM_gpt2_encode_cold)->Unit(benchmark::kMillisecond);

void BM_gpt2_encode_warm(benchmark::State& st) {
  const std::string& text = bench_text();
  gpt2().encode(text);
  for (auto _ : st) benchmark::DoNotOptimize(gpt2().encode(text).size());
  set_rate(st, text.size());
}
BENCHMARK(BM_gpt2_encode_warm)->Unit(benchmark::kMillisecond);

void BM_gpt2_decode(benchmark::State& st) {
  const std::string& text = bench_text();
  const auto ids = gpt2().encode(text);
  for (auto _ : st) benchmark::DoNotOptimize(gpt2().decode(ids).size());
  set_rate(st, text.size());
}
BENCHMARK(BM_gpt2_decode)->Unit(benchmark::kMillisecond);

void BM_llama_sentencepiece_encode(benchmark::State& st) {
  static const auto t = load_llama2c_tokenizer(data_path("llama2/tokenizer.bin"));
  const std::string& text = bench_text();
  for (auto _ : st) benchmark::DoNotOptimize(t->encode(text).size());
  set_rate(st, text.size());
}
BENCHMARK(BM_llama_sentencepiece_encode)->Unit(benchmark::kMillisecond);

// Byte-level BPE training to vocab_size (arg): pre-tokenization + counting + all merges.
void BM_bpe_train(benchmark::State& st) {
  const std::string& text = bench_text();
  for (auto _ : st) benchmark::DoNotOptimize(train_byte_bpe(text, static_cast<int>(st.range(0)), {"<|endoftext|>"}));
  st.counters["MB/min"] =
      benchmark::Counter(static_cast<double>(text.size()) / 1e6 * 60.0, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_bpe_train)->Arg(500)->Arg(2000)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
