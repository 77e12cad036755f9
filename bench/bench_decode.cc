// Token-by-token decoding speed (tokens/s) of infer::LlamaModel at one thread: stories260K (the real .bin)
// and random-weight GGUFs of the llama2.c stories15M / stories110M shapes in f32, f16, q8_0 and q4_0, written
// with io::write_llama_gguf and read back through the mmap reader exactly as `xfmr generate` reads them. One
// iteration decodes positions 0..127 (greedy, feeding back the argmax), so attention over a growing context
// is included. The generated GGUFs stay in $XFMR_BENCH_DIR (default /tmp/xfmr_bench_decode) for running peers
// (llama.cpp's llama-bench) on the same files.
//
//   build/ci/bench/bench_decode --benchmark_min_time=2
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "xfmr/core/parallel.h"
#include "xfmr/infer/llama.h"
#include "xfmr/infer/sampler.h"
#include "xfmr/io/llama_gguf.h"

using namespace xfmr;

namespace {

constexpr int64_t kTokens = 128;

std::string bench_dir() {
  const char* d = std::getenv("XFMR_BENCH_DIR");
  const std::string dir = d ? d : "/tmp/xfmr_bench_decode";
  std::filesystem::create_directories(dir);
  return dir;
}

io::LlamaConfig shape(int which) {
  io::LlamaConfig c;
  if (which == 15) {  // llama2.c stories15M
    c.dim = 288, c.hidden_dim = 768, c.n_layers = 6, c.n_heads = 6, c.n_kv_heads = 6;
  } else {  // stories110M
    c.dim = 768, c.hidden_dim = 2048, c.n_layers = 12, c.n_heads = 12, c.n_kv_heads = 12;
  }
  c.vocab_size = 32000;
  c.seq_len = 256;
  return c;
}

// A synthetic 32000-token SentencePiece vocabulary (<unk>, <s>, </s>, the 256 byte pieces, then " w<i>"), so
// peers that insist on a tokenizer (llama.cpp) load the random files too.
io::GgufMetadata synthetic_vocab(int64_t n) {
  io::Llama2cVocab v;
  v.pieces = {"<unk>", "<s>", "</s>"};
  char buf[16];
  for (int b = 0; b < 256; ++b) {
    std::snprintf(buf, sizeof buf, "<0x%02X>", b);
    v.pieces.push_back(buf);
  }
  while (static_cast<int64_t>(v.pieces.size()) < n)
    v.pieces.push_back(" w" + std::to_string(v.pieces.size()));
  for (size_t i = 0; i < v.pieces.size(); ++i) v.scores.push_back(-static_cast<float>(i));
  return io::gguf_tokenizer_metadata(v, 1, 2);
}

// The random GGUF for (shape, type), written once (kept between runs).
std::string model_file(int which, kernels::QType t) {
  const std::string path =
      bench_dir() + "/stories" + std::to_string(which) + "M-random." + kernels::qtype_name(t) + ".gguf";
  if (!std::filesystem::exists(path))
    io::write_llama_gguf(io::random_llama_weights(shape(which), kernels::QType::f32, 42), path, t,
                         synthetic_vocab(32000), "random stories" + std::to_string(which) + "M shape");
  return path;
}

void decode(benchmark::State& state, const std::string& path) {
  set_num_threads(1);
  infer::LlamaModel m(io::load_llama_weights(path), kTokens);
  const int64_t V = m.config().vocab_size;
  for (auto _ : state) {
    int32_t tok = 1;
    for (int64_t pos = 0; pos < kTokens; ++pos) tok = infer::Sampler::argmax(m.forward(tok, pos), V);
    benchmark::DoNotOptimize(tok);
  }
  state.SetItemsProcessed(state.iterations() * kTokens);
  int64_t bytes = m.weights().tok_embd.row_bytes();  // one embedding row per token, every matrix in full
  for (const auto& L : m.weights().layers)
    for (const auto* w : {&L.wq, &L.wk, &L.wv, &L.wo, &L.w_gate, &L.w_down, &L.w_up}) bytes += w->bytes();
  bytes += m.weights().output.bytes();
  state.counters["weight_MB"] = static_cast<double>(bytes) / 1e6;
  state.counters["tok/s"] =
      benchmark::Counter(static_cast<double>(kTokens), benchmark::Counter::kIsIterationInvariantRate);
}

void BM_decode_stories260K(benchmark::State& state) {
  const char* src = std::getenv("XFMR_SOURCE_DIR");
  decode(state, std::string(src ? src : ".") + "/data/stories260K/stories260K.bin");
}

void BM_decode_random(benchmark::State& state) {
  const auto t = static_cast<kernels::QType>(state.range(1));
  state.SetLabel(std::string("stories") + std::to_string(state.range(0)) + "M " + kernels::qtype_name(t));
  decode(state, model_file(static_cast<int>(state.range(0)), t));
}

}  // namespace

// Wall-clock rates, as llama-bench reports them.
BENCHMARK(BM_decode_stories260K)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_decode_random)
    ->ArgsProduct({{15, 110}, {0, 1, 8, 2}})  // f32, f16, q8_0, q4_0
    ->ArgNames({"shape", "type"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

BENCHMARK_MAIN();
