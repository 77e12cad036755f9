// `xfmr train`: a GPT-2 or Llama language model trained on a tokenized text corpus (tasks/text_data.h) with
// the generic trainer (AdamW, warmup + cosine decay, clipping, checkpoints, bit-exact resume). Every eval_every
// steps: mean cross-entropy on eval.iters random batches of each split (val_loss, val_ppl, train_loss_eval in
// metrics.jsonl) and a text sample from the model's own forward. The run folder gets config.json,
// metrics.jsonl, checkpoints/, data/ (when trained from a raw text file), model/ (the final weights in
// Hugging Face layout + config.json + tokenizer.json), results.json and report.html.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "xfmr/models/causal_lm.h"
#include "xfmr/train/trainer.h"

namespace xfmr {

struct TextDataSettings {
  std::string path = "data/text/tinyshakespeare.txt";  // a prepared folder (xfmr prepare) or a UTF-8 text file
  std::string tokenizer = "char";                     // char | byte | a tokenizer file, for a text file
  double val_fraction = 0.1;                          // for a text file
  int64_t batch_size = 12;                            // windows per step
  template <class V>
  void visit(V& v) {
    v("path", path, "prepared data folder, or a text file (prepared into RUN_DIR/data)");
    v("tokenizer", tokenizer, "tokenizer for a text file: char | byte | PATH of a tokenizer file");
    v("val_fraction", val_fraction, "fraction of a text file held out for validation (the end)");
    v("batch_size", batch_size, "sequences per training step");
  }
  void validate() const;
};

struct TextModelSettings {
  std::string type = "gpt2";  // gpt2 | llama
  int64_t n_layer = 4;
  int64_t n_head = 4;
  int64_t n_kv_head = 0;  // llama: key/value heads (0 = n_head)
  int64_t n_embd = 128;
  int64_t block_size = 64;  // context length = training window
  double dropout = 0.0;
  bool bias = false;                 // gpt2: biases in Linear/LayerNorm (nanoGPT's default: off)
  std::string activation = "gelu";   // gpt2: gelu (exact) | gelu_new (tanh approximation)
  int64_t intermediate_size = 0;     // llama: SwiGLU width (0 = 8·n_embd/3 rounded up to 32)
  double rope_theta = 10000.0;       // llama
  double norm_eps = 1e-5;            // LayerNorm / RMSNorm epsilon
  template <class V>
  void visit(V& v) {
    v("type", type, "gpt2 | llama");
    v("n_layer", n_layer, "transformer blocks");
    v("n_head", n_head, "attention heads");
    v("n_kv_head", n_kv_head, "llama: key/value heads, dividing n_head (0 = n_head)");
    v("n_embd", n_embd, "model width");
    v("block_size", block_size, "context length (training window)");
    v("dropout", dropout, "training dropout: attention probabilities, residual branches (gpt2: also embeddings)");
    v("bias", bias, "gpt2: biases in Linear and LayerNorm layers");
    v("activation", activation, "gpt2: gelu | gelu_new");
    v("intermediate_size", intermediate_size, "llama: SwiGLU hidden width (0 = auto)");
    v("rope_theta", rope_theta, "llama: RoPE base");
    v("norm_eps", norm_eps, "normalisation epsilon");
  }
  void validate() const;
};

struct TextEvalSettings {
  int64_t iters = 20;           // batches per split per evaluation
  int64_t sample_tokens = 200;  // tokens generated at each evaluation (0 = none)
  double temperature = 0.0;     // 0 = greedy
  std::string prompt = "\n";    // the sample's prompt text
  uint64_t seed = 1;            // eval batches and sampling (never the training stream)
  template <class V>
  void visit(V& v) {
    v("iters", iters, "batches per split per evaluation");
    v("sample_tokens", sample_tokens, "tokens sampled at each evaluation (0 = none)");
    v("temperature", temperature, "sampling temperature (0 = greedy)");
    v("prompt", prompt, "prompt text of the samples");
    v("seed", seed, "seed of the evaluation batches and samples");
  }
  void validate() const;
};

struct TextLmConfig {
  TextDataSettings data;
  TextModelSettings model;
  TrainConfig train;
  TextEvalSettings eval;
  uint64_t seed = 1337;  // model initialisation
  template <class V>
  void visit(V& v) {
    v("data", data, "");
    v("model", model, "");
    v("train", train, "");
    v("eval", eval, "");
    v("seed", seed, "model initialisation seed");
  }
  void validate() const;
};

// "shakespeare-char-cpu": nanoGPT's CPU recipe for config/train_shakespeare_char.py (README: --block_size=64
//   --batch_size=12 --n_layer=4 --n_head=4 --n_embd=128 --max_iters=2000 --lr_decay_iters=2000 --dropout=0.0
//   --eval_iters=20); "shakespeare-char": the config file itself (6/6/384, block 256, batch 64, dropout 0.2,
//   5000 iters, eval_iters 200); "smoke": a tiny model for CI. Error listing the names when unknown.
TextLmConfig text_lm_preset(const std::string& name);

// The model a config describes, randomly initialised.
std::unique_ptr<models::CausalLM> build_text_model(const TextModelSettings& m, int64_t vocab_size, Generator& init,
                                                   DType dtype = DType::f32);

struct TextLmProgress {
  std::function<void(const StepInfo&)> on_step;
  std::function<void(const std::string&)> on_stage;
  std::function<void(int64_t step, const nlohmann::json& metrics)> on_eval;
  // Once the data is loaded and the model built, before training (errors in the data come before it).
  std::function<void(const models::CausalLM& model, const std::string& data_dir)> on_start;
};

// Trains (or resumes) in run_dir and writes the run folder; returns results.json's content.
nlohmann::json run_text_lm(const TextLmConfig& cfg, const std::string& run_dir, bool resume, const std::string& command,
                           const TextLmProgress& progress = {});

}  // namespace xfmr
