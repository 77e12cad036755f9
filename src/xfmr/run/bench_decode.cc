#include "xfmr/run/bench_decode.h"

#include <time.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <vector>

#include "xfmr/core/check.h"
#include "xfmr/core/parallel.h"
#include "xfmr/io/llama_hf.h"
#include "xfmr/infer/decode_team.h"
#include "xfmr/infer/llama.h"
#include "xfmr/infer/sampler.h"
#include "xfmr/io/llama2c.h"
#include "xfmr/run/bench.h"
#include "xfmr/run/bench_cost.h"

namespace xfmr {

namespace {

void pick(int64_t& field, int64_t given, const char* name) {
  if (given < 0) return;
  XF_CHECK(given > 0, "bench decode: --", name, " must be positive, got ", given);
  field = given;
}

double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// A checkpoint file, a Llama model folder (config.json + model.safetensors), or the first .gguf (else .bin)
// inside another folder.
std::string model_file(const std::string& path) {
  namespace fs = std::filesystem;
  if (!fs::is_directory(path) || io::is_model_folder(path)) return path;
  std::string bin;
  for (const auto& e : fs::directory_iterator(path)) {
    const std::string ext = e.path().extension().string();
    if (ext == ".gguf") return e.path().string();
    if (ext == ".bin" && e.path().filename() != "tokenizer.bin" && bin.empty()) bin = e.path().string();
  }
  XF_CHECK(!bin.empty(), "bench decode: no .gguf or .bin checkpoint in folder ", path);
  return bin;
}

int64_t matrix_bytes(const io::LlamaWeights& w) {
  int64_t b = w.tok_embd.bytes() + (w.tied ? 0 : w.output.bytes());
  for (const auto& L : w.layers)
    for (const auto* m : {&L.wq, &L.wk, &L.wv, &L.wo, &L.w_gate, &L.w_down, &L.w_up}) b += m->bytes();
  return b;
}

}  // namespace

io::LlamaConfig decode_preset(const std::string& name) {
  io::LlamaConfig c;
  if (name == "stories15M") {
    c.dim = 288, c.n_layers = 6, c.n_heads = 6, c.hidden_dim = 768, c.seq_len = 256;
  } else if (name == "stories110M") {
    c.dim = 768, c.n_layers = 12, c.n_heads = 12, c.hidden_dim = 2048, c.seq_len = 1024;
  } else {
    throw Error("bench decode: unknown preset '" + name + "' (known: stories15M, stories110M)");
  }
  c.n_kv_heads = c.n_heads;
  c.vocab_size = 32000;
  return c;
}

io::GgufMetadata synthetic_vocab(int64_t n) {
  io::Llama2cVocab v;
  v.pieces = {"<unk>", "<s>", "</s>"};
  char buf[16];
  for (int b = 0; b < 256 && static_cast<int64_t>(v.pieces.size()) < n; ++b) {
    std::snprintf(buf, sizeof buf, "<0x%02X>", b);
    v.pieces.push_back(buf);
  }
  while (static_cast<int64_t>(v.pieces.size()) < n) v.pieces.push_back(" w" + std::to_string(v.pieces.size()));
  v.pieces.resize(static_cast<size_t>(n));
  for (size_t i = 0; i < v.pieces.size(); ++i) v.scores.push_back(-static_cast<float>(i));
  return io::gguf_tokenizer_metadata(v, 1, 2);
}

nlohmann::ordered_json bench_decode(const DecodeBench& opt) {
  kernels::QType type = kernels::QType::f32;
  XF_CHECK(opt.dtype.empty() || kernels::qtype_from_name(opt.dtype, &type), "bench decode: unknown --dtype '",
           opt.dtype, "' (known: f32, f16, q8_0, q4_0)");
  const double baseline_mb = current_rss_mb();  // code, libraries, thread stacks: before any weight exists
  io::LlamaWeights w;
  std::string preset = opt.preset;
  if (!opt.model.empty()) {
    w = io::load_llama_weights(model_file(opt.model));
    if (!opt.dtype.empty()) w = io::requantize_llama_weights(w, type);
    pick(w.cfg.seq_len, opt.seq, "seq");  // a longer KV cache than the file's training context
    preset = "file";
  } else {
    io::LlamaConfig c = decode_preset(opt.preset);
    pick(c.dim, opt.dim, "dim");
    pick(c.n_layers, opt.n_layer, "n_layer");
    pick(c.n_heads, opt.n_head, "n_head");
    pick(c.hidden_dim, opt.hidden, "hidden");
    pick(c.vocab_size, opt.vocab, "vocab");
    pick(c.seq_len, opt.seq, "seq");
    c.n_kv_heads = c.n_heads;
    w = io::random_llama_weights(c, type, opt.seed);
  }
  const io::LlamaConfig c = w.cfg;
  if (!opt.write_gguf.empty())
    io::write_llama_gguf(w, opt.write_gguf, w.tok_embd.type, synthetic_vocab(c.vocab_size),
                         "xfmr bench decode " + preset);
  const int64_t gen = opt.gen < 0 ? c.seq_len - opt.prompt : opt.gen;
  XF_CHECK(opt.prompt >= 1 && gen >= 1 && opt.prompt + gen <= c.seq_len && opt.warmup >= 0,
           "bench decode: need --prompt >= 1, --gen >= 1, --warmup >= 0 and prompt + gen <= seq (", opt.prompt,
           " + ", gen, " > ", c.seq_len, ")");

  const kernels::QType wtype = w.layers.empty() ? w.tok_embd.type : w.layers[0].wq.type;
  const int64_t weight_bytes = matrix_bytes(w);
  int64_t params = c.vocab_size * c.dim * (w.tied ? 1 : 2) + c.dim;
  params += c.n_layers * (2 * c.dim * c.dim + 2 * c.kv_dim() * c.dim + 3 * c.dim * c.hidden_dim + 2 * c.dim);
  infer::LlamaModel model(std::move(w));  // the KV cache holds seq positions, as torch_decode.py's
  const int64_t kv_bytes = 2 * c.n_layers * model.context_length() * c.kv_dim() * 4;
  const int64_t norm_bytes = (2 * c.n_layers + 1) * c.dim * 4;

  std::mt19937_64 rng(opt.seed + 1);
  std::vector<int32_t> prompt(static_cast<size_t>(opt.prompt));
  for (auto& t : prompt) t = static_cast<int32_t>(rng() % static_cast<uint64_t>(c.vocab_size));

  using clock = std::chrono::steady_clock;
  int32_t last = 0;
  double cp = 0, cd = 0;  // process CPU seconds (all threads) of the prefill and of the decode loop
  infer::TeamStats team0, team1;  // the decode team's counters around the decode loop
  auto run = [&](double* prefill_s, double* decode_s) {
    const double c0 = cpu_seconds();
    const auto t0 = clock::now();
    int32_t tok = infer::Sampler::argmax(model.prefill(prompt.data(), opt.prompt, 0), c.vocab_size);
    const auto t1 = clock::now();
    const double c1 = cpu_seconds();
    team0 = infer::team_stats();
    for (int64_t pos = opt.prompt; pos < opt.prompt + gen - 1; ++pos)
      tok = infer::Sampler::argmax(model.forward(tok, pos), c.vocab_size);
    const auto t2 = clock::now();
    team1 = infer::team_stats();
    cp = c1 - c0;
    cd = cpu_seconds() - c1;
    last = tok;
    *prefill_s = std::chrono::duration<double>(t1 - t0).count();
    *decode_s = std::chrono::duration<double>(t2 - t1).count();
  };
  double tp = 0, td = 0;
  for (int64_t i = 0; i < opt.warmup; ++i) run(&tp, &td);
  run(&tp, &td);
  const int64_t decoded = gen - 1;  // the first generated token comes from the prefill pass
  const double need_mb = static_cast<double>(weight_bytes + norm_bytes + kv_bytes) / (1024.0 * 1024.0);
  const double rss = current_rss_mb(), peak = peak_rss_mb();

  nlohmann::ordered_json j;
  j["bench"] = "xfmr_decode";
  j["preset"] = preset;
  j["dim"] = c.dim;
  j["n_layer"] = c.n_layers;
  j["n_head"] = c.n_heads;
  j["hidden"] = c.hidden_dim;
  j["vocab"] = c.vocab_size;
  j["seq"] = c.seq_len;
  j["dtype"] = kernels::qtype_name(wtype);
  j["threads"] = num_threads();
  j["params"] = params;
  j["prompt"] = opt.prompt;
  j["gen"] = gen;
  j["prefill_ms"] = 1e3 * tp;
  j["prefill_tokens_per_s"] = static_cast<double>(opt.prompt) / tp;
  j["decode_ms_per_token"] = decoded ? 1e3 * td / static_cast<double>(decoded) : 0.0;
  if (decoded)
    j["decode_tokens_per_s"] = static_cast<double>(decoded) / td;
  else
    j["decode_tokens_per_s"] = nullptr;
  // CPU time beside wall time: on a shared machine wall time includes waits for a core.
  // Of the decode steps (layers' team runs) at threads > 1: how many ran on the team and how many the
  // contention fallback sent to one thread (infer/decode_team.h).
  j["decode_team_runs"] = team1.team_runs - team0.team_runs;
  j["decode_solo_runs"] = team1.solo_runs - team0.solo_runs;
  j["prefill_cpu_ms"] = 1e3 * cp;
  j["decode_cpu_ms_per_token"] = decoded ? 1e3 * cd / static_cast<double>(decoded) : 0.0;
  j["last_token"] = last;
  j["weight_bytes"] = weight_bytes;
  j["kv_cache_bytes"] = kv_bytes;
  j["memory_need_mb"] = need_mb;
  j["peak_rss_mb"] = peak;
  j["rss_mb"] = rss;
  j["rss_over_need"] = rss / need_mb;
  j["peak_rss_over_need"] = peak / need_mb;
  j["baseline_rss_mb"] = baseline_mb;
  j["peak_rss_over_need_above_baseline"] = (peak - baseline_mb) / need_mb;
  // Weight bytes streamed per decoded token (every matrix once; the embedding is one row): divide by a
  // memory bandwidth (bench_machine's STREAM triad) for the fraction of the machine that decoding uses.
  const io::WeightRef& emb = model.weights().tok_embd;
  j["weight_bytes_per_token"] = model.weights().tied ? weight_bytes : weight_bytes - emb.bytes() + emb.row_bytes();
  return j;
}

}  // namespace xfmr
