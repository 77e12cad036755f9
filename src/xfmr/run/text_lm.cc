#include "xfmr/run/text_lm.h"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "xfmr/core/autograd.h"
#include "xfmr/io/config.h"
#include "xfmr/io/file_util.h"
#include "xfmr/models/gpt.h"
#include "xfmr/models/llama.h"
#include "xfmr/models/pretrained.h"
#include "xfmr/ops/loss.h"
#include "xfmr/ops/view.h"
#include "xfmr/report/html_report.h"
#include "xfmr/tasks/text_data.h"

namespace fs = std::filesystem;

namespace xfmr {

void TextDataSettings::validate() const {
  XF_CHECK(!path.empty(), "data.path is empty");
  XF_CHECK(!tokenizer.empty(), "data.tokenizer is empty (char, byte or a tokenizer file)");
  XF_CHECK(val_fraction > 0 && val_fraction < 1, "data.val_fraction must be in (0, 1), got ", val_fraction);
  XF_CHECK(batch_size > 0, "data.batch_size must be positive, got ", batch_size);
}

void TextModelSettings::validate() const {
  XF_CHECK(type == "gpt2" || type == "llama", "model.type: unknown model type '", type, "' (known: gpt2, llama)");
  XF_CHECK(n_layer > 0, "model.n_layer must be positive, got ", n_layer);
  XF_CHECK(n_head > 0, "model.n_head must be positive, got ", n_head);
  XF_CHECK(n_embd > 0, "model.n_embd must be positive, got ", n_embd);
  XF_CHECK(n_embd % n_head == 0, "model.n_embd (", n_embd, ") must be divisible by model.n_head (", n_head, ")");
  XF_CHECK(block_size > 0, "model.block_size must be positive, got ", block_size);
  XF_CHECK(n_kv_head >= 0, "model.n_kv_head must be >= 0, got ", n_kv_head);
  const int64_t kv = n_kv_head == 0 ? n_head : n_kv_head;
  XF_CHECK(n_head % kv == 0, "model.n_head (", n_head, ") must be divisible by model.n_kv_head (", kv, ")");
  XF_CHECK(type == "llama" || n_kv_head == 0 || n_kv_head == n_head,
           "model.n_kv_head: grouped-query attention needs model.type = llama");
  XF_CHECK(type == "gpt2" || (n_embd / n_head) % 2 == 0, "model: head dimension ", n_embd / n_head,
           " must be even for rotary embeddings");
  XF_CHECK(dropout >= 0 && dropout < 1, "model.dropout must be in [0, 1), got ", dropout);
  XF_CHECK(activation == "gelu" || activation == "gelu_new", "model.activation must be gelu or gelu_new, got '",
           activation, "'");
  XF_CHECK(intermediate_size >= 0, "model.intermediate_size must be >= 0, got ", intermediate_size);
  XF_CHECK(rope_theta > 0, "model.rope_theta must be positive, got ", rope_theta);
  XF_CHECK(norm_eps > 0, "model.norm_eps must be positive, got ", norm_eps);
}

void TextEvalSettings::validate() const {
  XF_CHECK(iters > 0, "eval.iters must be positive, got ", iters);
  XF_CHECK(sample_tokens >= 0, "eval.sample_tokens must be >= 0, got ", sample_tokens);
  XF_CHECK(temperature >= 0 && std::isfinite(temperature), "eval.temperature must be >= 0, got ", temperature);
}

void TextLmConfig::validate() const {
  data.validate();
  model.validate();
  train.validate();
  eval.validate();
}

TextLmConfig text_lm_preset(const std::string& name) {
  TextLmConfig c;
  // Shared by both Shakespeare presets: nanoGPT's train.py defaults and config/train_shakespeare_char.py.
  c.train.lr = 1e-3;
  c.train.min_lr = 1e-4;
  c.train.warmup = 100;
  c.train.schedule = "cosine";
  c.train.beta1 = 0.9;
  c.train.beta2 = 0.99;
  c.train.weight_decay = 0.1;
  c.train.grad_clip = 1.0;
  c.train.eval_every = 250;
  c.train.log_every = 10;
  c.train.seed = 1337;
  if (name == "shakespeare-char-cpu") {
    c.model.n_layer = 4;
    c.model.n_head = 4;
    c.model.n_embd = 128;
    c.model.block_size = 64;
    c.model.dropout = 0.0;
    c.data.batch_size = 12;
    c.train.steps = 2000;
    c.train.checkpoint_every = 500;
    c.eval.iters = 20;
  } else if (name == "shakespeare-char") {
    c.model.n_layer = 6;
    c.model.n_head = 6;
    c.model.n_embd = 384;
    c.model.block_size = 256;
    c.model.dropout = 0.2;
    c.data.batch_size = 64;
    c.train.steps = 5000;
    c.train.checkpoint_every = 250;
    c.eval.iters = 200;
  } else if (name == "smoke") {
    c.model.n_layer = 2;
    c.model.n_head = 2;
    c.model.n_embd = 32;
    c.model.block_size = 32;
    c.data.batch_size = 8;
    c.train.steps = 60;
    c.train.lr = 3e-3;
    c.train.min_lr = 3e-4;
    c.train.warmup = 5;
    c.train.eval_every = 20;
    c.train.log_every = 5;
    c.train.checkpoint_every = 20;
    c.eval.iters = 4;
    c.eval.sample_tokens = 40;
  } else {
    throw Error("train: unknown preset '" + name + "' (known: shakespeare-char-cpu, shakespeare-char, smoke)");
  }
  return c;
}

std::unique_ptr<models::CausalLM> build_text_model(const TextModelSettings& m, int64_t vocab_size, Generator& init,
                                                   DType dtype) {
  m.validate();
  if (m.type == "gpt2") {
    models::GptConfig g;
    g.vocab_size = vocab_size;
    g.block_size = m.block_size;
    g.n_layer = m.n_layer;
    g.n_head = m.n_head;
    g.n_embd = m.n_embd;
    g.dropout = m.dropout;
    g.bias = m.bias;
    g.layer_norm_eps = m.norm_eps;
    g.gelu = m.activation == "gelu_new" ? GeluApprox::tanh : GeluApprox::none;
    return std::make_unique<models::Gpt>(g, init, dtype);
  }
  models::LlamaConfig l;
  l.vocab_size = vocab_size;
  l.block_size = m.block_size;
  l.n_layer = m.n_layer;
  l.n_head = m.n_head;
  l.n_kv_head = m.n_kv_head == 0 ? m.n_head : m.n_kv_head;
  l.n_embd = m.n_embd;
  l.intermediate_size = m.intermediate_size;
  l.rms_norm_eps = m.norm_eps;
  l.rope_theta = m.rope_theta;
  l.dropout = m.dropout;
  return std::make_unique<models::Llama>(l, init, dtype);
}

namespace {

// Greedy (temperature 0) or sampled continuation of `prompt`, re-running the model over the last block_size
// tokens for each new one (no KV cache: a sample every eval_every steps is cheap at these sizes).
std::vector<int32_t> continue_text(const models::CausalLM& model, std::vector<int32_t> ids, int64_t n,
                                   double temperature, Generator& gen) {
  NoGradGuard ng;
  const int64_t V = model.vocab_size();
  const size_t prompt_len = ids.size();
  for (int64_t i = 0; i < n; ++i) {
    const int64_t len = std::min<int64_t>(static_cast<int64_t>(ids.size()), model.block_size());
    Tensor x = Tensor::empty({1, len}, DType::i64);
    for (int64_t t = 0; t < len; ++t) x.data<int64_t>()[t] = ids[ids.size() - static_cast<size_t>(len - t)];
    const Tensor logits = contiguous(select(select(model.forward(x), 0, 0), 0, len - 1)).converted(DType::f64);
    const double* l = logits.data<double>();
    int32_t next = 0;
    if (temperature == 0) {
      for (int64_t v = 1; v < V; ++v)
        if (l[v] > l[next]) next = static_cast<int32_t>(v);
    } else {
      double mx = l[0];
      for (int64_t v = 1; v < V; ++v) mx = std::max(mx, l[v]);
      std::vector<double> p(static_cast<size_t>(V));
      double s = 0;
      for (int64_t v = 0; v < V; ++v) s += p[static_cast<size_t>(v)] = std::exp((l[v] - mx) / temperature);
      double u = gen.next_uniform() * s;
      next = static_cast<int32_t>(V - 1);
      for (int64_t v = 0; v < V; ++v) {
        u -= p[static_cast<size_t>(v)];
        if (u < 0) {
          next = static_cast<int32_t>(v);
          break;
        }
      }
    }
    ids.push_back(next);
  }
  return std::vector<int32_t>(ids.begin() + static_cast<std::ptrdiff_t>(prompt_len), ids.end());
}

class TextLmTask : public TrainTask {
 public:
  TextLmTask(const TextLmConfig& cfg, const text::TextDataset& data) : cfg_(cfg), data_(data) {
    const int64_t T = cfg.model.block_size;
    XF_CHECK(data.train->size() >= T + 1, "train: the training split has ", data.train->size(),
             " tokens, fewer than model.block_size + 1 = ", T + 1);
    XF_CHECK(data.val->size() >= T + 1, "train: the validation split has ", data.val->size(),
             " tokens, fewer than model.block_size + 1 = ", T + 1, " (raise data.val_fraction or lower block_size)");
    Generator init(cfg.seed);
    model_ = build_text_model(cfg.model, data.vocab_size(), init);
    prompt_ = data.codec->encode(cfg.eval.prompt);
    if (prompt_.empty()) prompt_.push_back(0);
  }
  Module& model() override { return *model_; }
  const models::CausalLM& lm() const { return *model_; }

  Tensor loss(int64_t /*step*/, Generator& gen) override {
    const int64_t T = cfg_.model.block_size;
    const Tensor w = text::sample_windows(*data_.train, cfg_.data.batch_size, T, gen);  // [B, T+1]
    const Tensor x = contiguous(slice(w, 1, 0, T)), y = contiguous(slice(w, 1, 1, T + 1));
    return cross_entropy(model_->forward(x, &gen), y);
  }

  // Mean loss over eval.iters batches of one split; the batches depend only on (eval.seed, step, split).
  double split_loss(const text::TokenFile& f, int64_t step, uint64_t split) const {
    Generator g(cfg_.eval.seed);
    g.set_state(cfg_.eval.seed, (static_cast<uint64_t>(step) << 24) + (split << 23));
    const int64_t T = cfg_.model.block_size;
    double total = 0;
    for (int64_t i = 0; i < cfg_.eval.iters; ++i) {
      const Tensor w = text::sample_windows(f, cfg_.data.batch_size, T, g);
      total += cross_entropy(model_->forward(contiguous(slice(w, 1, 0, T))), contiguous(slice(w, 1, 1, T + 1))).item();
    }
    return total / static_cast<double>(cfg_.eval.iters);
  }

  std::string sample(int64_t step) const {
    Generator g(cfg_.eval.seed + 7);
    g.set_state(cfg_.eval.seed + 7, static_cast<uint64_t>(step) << 20);
    return data_.codec->decode(continue_text(*model_, prompt_, cfg_.eval.sample_tokens, cfg_.eval.temperature, g));
  }

  void evaluate(int64_t step, nlohmann::json& m) override {
    const double val = split_loss(*data_.val, step, 1);
    m["val_loss"] = val;
    m["val_ppl"] = std::exp(val);
    m["train_loss_eval"] = split_loss(*data_.train, step, 0);
    if (cfg_.eval.sample_tokens > 0) m["sample"] = sample(step);
    if (on_eval) on_eval(step, m);
  }

  int64_t tokens_per_step(int64_t) const override { return cfg_.data.batch_size * cfg_.model.block_size; }

  std::function<void(int64_t, const nlohmann::json&)> on_eval;

 private:
  TextLmConfig cfg_;
  const text::TextDataset& data_;
  std::unique_ptr<models::CausalLM> model_;
  std::vector<int32_t> prompt_;
};

nlohmann::json to_plain_json(const TextLmConfig& cfg) { return nlohmann::json::parse(config::to_json(cfg).dump()); }

// Curves and eval samples from metrics.jsonl.
void read_metrics(const std::string& path, nlohmann::json& train, nlohmann::json& samples, nlohmann::json& last_eval) {
  for (const char* k : {"step", "loss", "val_loss", "train_loss_eval"}) train[k] = nlohmann::json::array();
  samples = nlohmann::json::array();
  std::ifstream f(path);
  std::string line;
  while (std::getline(f, line)) {
    const auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.contains("step") || !j.contains("loss")) continue;
    train["step"].push_back(j["step"]);
    train["loss"].push_back(j["loss"]);
    train["val_loss"].push_back(j.contains("val_loss") ? j["val_loss"] : nlohmann::json(nullptr));
    train["train_loss_eval"].push_back(j.contains("train_loss_eval") ? j["train_loss_eval"] : nlohmann::json(nullptr));
    if (j.contains("val_loss")) last_eval = j;
    if (j.contains("sample")) samples.push_back({{"step", j["step"]}, {"text", j["sample"]}});
  }
}

// The prepared data folder for a run: data.path itself when it is one, else RUN_DIR/data (prepared on first use,
// reused on resume even when the text file is no longer reachable from the current directory).
std::string resolve_data(const TextLmConfig& cfg, const std::string& run_dir) {
  const std::string& p = cfg.data.path;
  if (fs::is_directory(p)) return p;
  const std::string dir = run_dir + "/data";
  if (fs::exists(dir + "/meta.json")) return dir;
  XF_CHECK(fs::exists(p), "train: data.path '", p, "' does not exist");
  text::prepare_text(p, cfg.data.tokenizer, dir, cfg.data.val_fraction);
  return dir;
}

}  // namespace

nlohmann::json run_text_lm(const TextLmConfig& cfg, const std::string& run_dir, bool resume, const std::string& command,
                           const TextLmProgress& progress) {
  config::validate(cfg);
  fs::create_directories(run_dir);
  const text::TextDataset data(resolve_data(cfg, run_dir));
  TextLmTask task(cfg, data);
  task.on_eval = progress.on_eval;
  if (progress.on_start) progress.on_start(task.lm(), data.dir);
  if (!resume) config::save_config(cfg, run_dir + "/config.json");

  const auto t0 = std::chrono::steady_clock::now();
  const TrainResult tr = train(task, cfg.train, run_dir, resume, progress.on_step);
  const double train_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  nlohmann::json res;
  res["title"] = "Language model (" + cfg.model.type + ", " + std::to_string(cfg.model.n_layer) + " layers x " +
                 std::to_string(cfg.model.n_embd) + " dims) on " + fs::path(cfg.data.path).filename().string();
  res["command"] = command;
  res["config"] = to_plain_json(cfg);
  res["steps_done"] = tr.steps_done;
  res["interrupted"] = tr.interrupted;
  res["time_limit_reached"] = tr.time_limit_reached;
  nlohmann::json curves, samples, last_eval = nlohmann::json::object();
  read_metrics(run_dir + "/metrics.jsonl", curves, samples, last_eval);
  res["train"] = curves;
  res["samples"] = samples;
  nlohmann::json notes = nlohmann::json::array();
  if (tr.interrupted) {
    notes.push_back("training was interrupted at step " + std::to_string(tr.steps_done) +
                    "; resume with: xfmr train --resume " + run_dir);
  } else {
    if (progress.on_stage) progress.on_stage("saving the model to " + run_dir + "/model");
    models::save_pretrained(task.lm(), run_dir + "/model");
    io::write_file_atomic(run_dir + "/model/tokenizer.json", data.codec->to_json().dump(1) + "\n");
  }
  if (tr.time_limit_reached)
    notes.push_back("stopped by train.max_minutes = " + nlohmann::json(cfg.train.max_minutes).dump() + " after step " +
                    std::to_string(tr.steps_done) + " of " + std::to_string(cfg.train.steps) +
                    " (the learning-rate schedule was not finished)");
  notes.push_back("data: " + data.dir + " (" + data.codec->kind() + " tokenizer, vocab " +
                  std::to_string(data.vocab_size()) + ", " + std::to_string(data.train->size()) + " train / " +
                  std::to_string(data.val->size()) + " val tokens)");
  notes.push_back("val_loss: mean cross-entropy (nats/token) over " + std::to_string(cfg.eval.iters) + " random batches of " +
                  std::to_string(cfg.data.batch_size) + " x " + std::to_string(cfg.model.block_size) +
                  " validation tokens at each evaluation");
  for (const auto& s : samples)
    notes.push_back("sample at step " + s["step"].dump() + (cfg.eval.temperature == 0 ? " (greedy)" : " (sampled)") +
                    ": " + s["text"].get<std::string>());
  res["notes"] = notes;
  nlohmann::json timing = {{"train_seconds", train_s}, {"steps", tr.steps_done}, {"final_loss", tr.final_loss},
                           {"parameters", task.model().num_parameters()}};
  for (const char* k : {"val_loss", "val_ppl", "train_loss_eval", "elapsed_s", "tokens_per_s"})
    if (last_eval.contains(k)) timing[std::string("final_") + k] = last_eval[k];
  res["timing"] = timing;
  io::write_file_atomic(run_dir + "/results.json", res.dump(1));
  report::write_report(run_dir);
  return res;
}

}  // namespace xfmr
