// Native model folders through the inference path: a random models::Llama (grouped-query attention) saved
// with save_pretrained and read back by io::load_llama_weights must give infer::LlamaModel logits equal to
// the autograd model's forward (which proves the RoPE row permutation, GQA, eps, theta), in f32, f16 and
// bf16 files and with a tied head; a random models::Gpt gives infer::Gpt2Decoder logits equal to its
// forward; greedy generation through the KV cache equals the argmax loop over the autograd model; the HF
// tiny GPT-2 generates; bad folders are one-line errors naming the file.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <random>

#include "xfmr/core/autograd.h"
#include "xfmr/infer/generate.h"
#include "xfmr/infer/gpt2.h"
#include "xfmr/infer/llama.h"
#include "xfmr/infer/load_model.h"
#include "xfmr/io/file_util.h"
#include "xfmr/io/llama_hf.h"
#include "xfmr/io/safetensors.h"
#include "xfmr/models/gpt.h"
#include "xfmr/models/llama.h"
#include "xfmr/models/pretrained.h"

namespace fs = std::filesystem;

namespace xfmr {
namespace {

std::string temp_dir(const std::string& tag) {
  std::string tmpl = (fs::temp_directory_path() / ("xfmr_folder_" + tag + "_XXXXXX")).string();
  return mkdtemp(tmpl.data());
}

// Parameters of order-one effect (the 0.02 init gives near-uniform logits, whose argmax ties would make
// greedy comparisons depend on rounding): matrices uniform in ±0.3, norm weights 1 ± 0.5, biases ±0.1.
void randomise(models::CausalLM& m, uint32_t seed) {
  std::mt19937 rng(seed);
  for (auto& p : m.named_parameters()) {
    const bool norm = p.name.find("norm") != std::string::npos || p.name.find("ln_") != std::string::npos;
    const bool bias = p.name.ends_with(".bias");
    const float a = bias ? 0.1f : norm ? 0.5f : 0.3f;
    std::uniform_real_distribution<float> u(-a, a);
    std::vector<float> v(static_cast<size_t>(p.tensor.numel()));
    for (float& x : v) x = (norm && !bias ? 1.0f : 0.0f) + u(rng);
    models::copy_parameter(p.tensor, Tensor::from_vector(v, p.tensor.shape()));
  }
}

std::vector<int32_t> ids_of(int64_t n, int64_t vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int32_t> ids(static_cast<size_t>(n));
  for (int32_t& i : ids) i = static_cast<int32_t>(rng() % static_cast<uint32_t>(vocab));
  return ids;
}

// A small GPT-2 shape for the decoder tests.
models::GptConfig gpt_config(int64_t vocab, int64_t block, int64_t layers, int64_t heads, int64_t width) {
  models::GptConfig c;
  c.vocab_size = vocab;
  c.block_size = block;
  c.n_layer = layers;
  c.n_head = heads;
  c.n_embd = width;
  return c;
}

// The autograd model's logits [T, V] for the whole sequence.
std::vector<float> forward_logits(const models::CausalLM& m, const std::vector<int32_t>& ids) {
  NoGradGuard ng;
  const std::vector<int64_t> v(ids.begin(), ids.end());
  const Tensor logits = m.forward(Tensor::from_vector(v, {1, static_cast<int64_t>(ids.size())}));
  const std::vector<double> d = logits.to_vector();
  return std::vector<float>(d.begin(), d.end());
}

// max |a - b| / max |b| over row t of ref [T, V] against a [V].
double row_error(const float* a, const std::vector<float>& ref, int64_t t, int64_t V) {
  double num = 0, den = 0;
  for (int64_t i = 0; i < V; ++i) {
    num = std::max(num, std::abs(static_cast<double>(a[i]) - ref[static_cast<size_t>(t * V + i)]));
    den = std::max(den, std::abs(static_cast<double>(ref[static_cast<size_t>(t * V + i)])));
  }
  return num / std::max(den, 1e-6);
}

// Token by token through the cache, then the whole sequence as one prefill, then a prefill of a prefix
// followed by single tokens: every logit row within 1e-4 of the autograd forward.
void expect_decoder_matches(infer::Decoder& d, const models::CausalLM& m, const std::vector<int32_t>& ids) {
  const int64_t T = static_cast<int64_t>(ids.size()), V = m.vocab_size();
  const std::vector<float> ref = forward_logits(m, ids);
  for (int64_t t = 0; t < T; ++t) {
    const double e = row_error(d.forward(ids[static_cast<size_t>(t)], t), ref, t, V);
    EXPECT_LT(e, 1e-4) << "forward at position " << t;
  }
  EXPECT_LT(row_error(d.prefill(ids.data(), T, 0), ref, T - 1, V), 1e-4) << "prefill of " << T << " tokens";
  const int64_t cut = T - 3;
  EXPECT_LT(row_error(d.prefill(ids.data(), cut, 0), ref, cut - 1, V), 1e-4);
  for (int64_t t = cut; t < T; ++t)
    EXPECT_LT(row_error(d.forward(ids[static_cast<size_t>(t)], t), ref, t, V), 1e-4)
        << "after prefill, " << t;
}

// Greedy through the decoder (infer::generate, temperature 0) == argmax of the autograd forward, step by
// step.
void expect_greedy_matches(infer::Decoder& d, const models::CausalLM& m, const std::vector<int32_t>& prompt,
                           int64_t n) {
  infer::GenerateOptions opt;
  opt.max_tokens = n;
  opt.sampler.temperature = 0;
  opt.stop_at_eos = false;
  const infer::GenerateResult r = infer::generate(d, prompt, opt);
  std::vector<int32_t> seq(prompt), want;
  for (int64_t i = 0; i < n; ++i) {
    const std::vector<float> lg = forward_logits(m, seq);
    const int64_t V = m.vocab_size();
    const int32_t next = infer::Sampler::argmax(lg.data() + (seq.size() - 1) * static_cast<size_t>(V), V);
    want.push_back(next);
    seq.push_back(next);
  }
  EXPECT_EQ(r.tokens, want);
}

models::LlamaConfig llama_config() {
  models::LlamaConfig c;
  c.vocab_size = 53;
  c.block_size = 80;  // room for a prefill that crosses LlamaModel's 64-token block
  c.n_layer = 2;
  c.n_head = 4;
  c.n_kv_head = 2;  // grouped-query attention
  c.n_embd = 32;
  c.intermediate_size = 48;
  c.rms_norm_eps = 1e-3;  // not the defaults, so a config key read wrongly shows
  c.rope_theta = 500.0;
  return c;
}

// The folder's tensors re-saved as `dt` (the config unchanged).
void resave_as(const std::string& dir, DType dt) {
  const io::SafetensorsFile f = io::load_safetensors(dir + "/model.safetensors");
  std::vector<std::pair<std::string, Tensor>> ts;
  for (const std::string& n : f.names()) ts.emplace_back(n, f.get(n).converted(dt));
  io::save_safetensors(dir + "/model.safetensors.tmp", ts);
  fs::rename(dir + "/model.safetensors.tmp", dir + "/model.safetensors");
}

}  // namespace

TEST(LlamaFolder, LogitsAndGreedyEqualTheAutogradModel) {
  Generator init(1);
  models::Llama m(llama_config(), init);
  randomise(m, 7);
  const std::string dir = temp_dir("llama");
  models::save_pretrained(m, dir);
  io::LlamaWeights w = io::load_llama_weights(dir);
  EXPECT_EQ(w.cfg.n_kv_heads, 2);
  EXPECT_EQ(w.cfg.seq_len, 80);
  EXPECT_FLOAT_EQ(w.cfg.norm_eps, 1e-3f);
  EXPECT_FLOAT_EQ(w.cfg.rope_theta, 500.0f);
  EXPECT_EQ(w.cfg.eos_id, -1);  // xfmr's config names no token ids
  EXPECT_FALSE(w.tied);
  EXPECT_EQ(w.layers[0].wq.type, kernels::QType::f32);
  infer::LlamaModel d(w);
  expect_decoder_matches(d, m, ids_of(70, 53, 3));
  expect_greedy_matches(d, m, ids_of(5, 53, 4), 20);
  // The f64 no-cache reference over the same weights agrees too (the permuted rows are self-consistent).
  const infer::LlamaReference ref(w);
  const std::vector<int32_t> ids = ids_of(9, 53, 5);
  const std::vector<float> a = ref.logits(ids), b = forward_logits(m, ids);
  EXPECT_LT(row_error(a.data() + 8 * 53, b, 8, 53), 1e-4);
}

TEST(LlamaFolder, F16AndBf16FilesLoad) {
  for (DType dt : {DType::f16, DType::bf16}) {
    Generator init(2);
    models::Llama m(llama_config(), init);
    randomise(m, 8);
    const std::string dir = temp_dir("llama16");
    models::save_pretrained(m, dir);
    resave_as(dir, dt);
    // The autograd model with exactly the rounded weights the file holds.
    const auto rounded = models::load_pretrained(dir);
    io::LlamaWeights w = io::load_llama_weights(dir);
    EXPECT_EQ(w.layers[1].w_up.type, dt == DType::f16 ? kernels::QType::f16 : kernels::QType::f32);
    EXPECT_EQ(w.layers[1].wk.type, dt == DType::f16 ? kernels::QType::f16 : kernels::QType::f32);
    infer::LlamaModel d(w);
    expect_decoder_matches(d, *rounded, ids_of(20, 53, 6));
  }
}

TEST(LlamaFolder, TiedHeadWithoutLmHead) {
  // An HF folder with tie_word_embeddings = true and no lm_head.weight: the head is the embedding. The
  // oracle is the untied model whose lm_head is a copy of embed_tokens.
  Generator init(3);
  models::Llama m(llama_config(), init);
  randomise(m, 9);
  Tensor embed, head;
  for (auto& p : m.named_parameters()) {
    if (p.name == "model.embed_tokens.weight") embed = p.tensor;
    if (p.name == "lm_head.weight") head = p.tensor;
  }
  models::copy_parameter(head, embed.detach());
  const std::string dir = temp_dir("tied");
  std::vector<std::pair<std::string, Tensor>> ts;
  for (auto& [n, t] : m.hf_state_dict())
    if (n != "lm_head.weight") ts.emplace_back(n, t);
  io::save_safetensors(dir + "/model.safetensors", ts);
  nlohmann::json cfg = m.hf_config();
  cfg["tie_word_embeddings"] = true;
  cfg["bos_token_id"] = 1;
  cfg["eos_token_id"] = std::vector<int>{2, 5};  // a list: the first is taken
  io::write_file_atomic(dir + "/config.json", cfg.dump());
  io::LlamaWeights w = io::load_llama_weights(dir);
  EXPECT_TRUE(w.tied);
  EXPECT_EQ(w.output.data, w.tok_embd.data);
  EXPECT_EQ(w.cfg.bos_id, 1);
  EXPECT_EQ(w.cfg.eos_id, 2);
  infer::LlamaModel d(w);
  expect_decoder_matches(d, m, ids_of(12, 53, 10));
}

TEST(Gpt2Folder, LogitsAndGreedyEqualTheAutogradModel) {
  for (GeluApprox g : {GeluApprox::tanh, GeluApprox::none}) {
    for (bool bias : {true, false}) {
      models::GptConfig c = gpt_config(41, 90, 2, 4, 32);
      c.gelu = g;
      c.bias = bias;
      Generator init(4);
      models::Gpt m(c, init);
      randomise(m, 11);
      infer::Gpt2Decoder d(m);
      EXPECT_EQ(d.context_length(), 90);
      expect_decoder_matches(d, m, ids_of(75, 41, 12));  // crosses the 64-token prefill block
      expect_greedy_matches(d, m, ids_of(4, 41, 13), 20);
      infer::Gpt2Decoder small(m, 30);  // a shorter cache
      EXPECT_EQ(small.context_length(), 30);
      EXPECT_THROW(small.forward(0, 30), Error);
      EXPECT_THROW(small.forward(41, 0), Error);
    }
  }
}

TEST(Gpt2Folder, F64ModelIsCopiedAndDecodersShareF32Weights) {
  const models::GptConfig c = gpt_config(29, 24, 1, 2, 16);
  Generator init(8);
  models::Gpt m64(c, init, DType::f64);
  randomise(m64, 21);
  infer::Gpt2Decoder d(m64);  // parameters converted to f32 copies
  expect_decoder_matches(d, m64, ids_of(12, 29, 22));
  // Two decoders over one f32 model keep separate caches over the same weights.
  auto m = std::make_shared<models::Gpt>(c, init);
  randomise(*m, 23);
  infer::Gpt2Decoder a(*m, 0, -1, -1, m), b(*m, 0, -1, -1, m);
  const std::vector<int32_t> x = ids_of(6, 29, 24), y = ids_of(9, 29, 25);
  const std::vector<float> ref_x = forward_logits(*m, x);
  b.prefill(y.data(), 9, 0);
  EXPECT_LT(row_error(a.prefill(x.data(), 6, 0), ref_x, 5, 29), 1e-4);
}

TEST(Gpt2Folder, SavedFolderLoadsThroughLoadModel) {
  models::GptConfig c = gpt_config(37, 40, 1, 2, 16);
  c.gelu = GeluApprox::tanh;
  Generator init(5);
  models::Gpt m(c, init);
  randomise(m, 14);
  const std::string dir = temp_dir("gpt2");
  models::save_pretrained(m, dir);
  const infer::LoadedModel lm = infer::load_model(dir);
  EXPECT_EQ(lm.kind, "gpt2");
  EXPECT_EQ(lm.vocab_size(), 37);
  EXPECT_EQ(lm.max_context(), 40);
  const auto d = lm.decoder(25);
  EXPECT_EQ(d->context_length(), 25);
  EXPECT_EQ(d->eos_id(), -1);
  expect_greedy_matches(*d, m, ids_of(3, 37, 15), 12);
}

TEST(Gpt2Folder, HfTinyGpt2Generates) {
  const std::string dir = std::string(XFMR_SOURCE_DIR) + "/data/hf-tiny-gpt2";
  const infer::LoadedModel lm = infer::load_model(dir);
  EXPECT_EQ(lm.kind, "gpt2");
  EXPECT_EQ(lm.eos_id, 20);  // config.json's eos_token_id
  const auto d = lm.decoder(40);
  const auto m = models::load_pretrained(dir);
  expect_decoder_matches(*d, *m, ids_of(10, 21, 16));
  expect_greedy_matches(*d, *m, ids_of(3, 21, 17), 15);
}

TEST(LlamaFolder, BadFoldersAreOneLineErrorsNamingTheFile) {
  Generator init(6);
  models::Llama m(llama_config(), init);
  const std::string good = temp_dir("good");
  models::save_pretrained(m, good);
  const auto error_of = [](const std::string& path) -> std::string {
    try {
      infer::load_model(path);
    } catch (const Error& e) {
      return e.what();
    }
    return "(no error)";
  };
  const auto variant = [&](const std::string& tag, const std::function<void(const std::string&)>& edit) {
    const std::string dir = temp_dir(tag);
    fs::copy(good, dir, fs::copy_options::recursive | fs::copy_options::overwrite_existing);
    edit(dir);
    return dir;
  };
  const auto edit_config = [&](const std::function<void(nlohmann::json&)>& f) {
    return [f](const std::string& dir) {
      nlohmann::json j = nlohmann::json::parse(io::read_file(dir + "/config.json"));
      f(j);
      io::write_file_atomic(dir + "/config.json", j.dump());
    };
  };
  const auto drop_tensor = [&](const std::string& name, bool reshape) {
    return [name, reshape](const std::string& dir) {
      const io::SafetensorsFile f = io::load_safetensors(dir + "/model.safetensors");
      std::vector<std::pair<std::string, Tensor>> ts;
      for (const std::string& n : f.names()) {
        if (n != name)
          ts.emplace_back(n, f.copy(n));
        else if (reshape)
          ts.emplace_back(n, Tensor::zeros({3, 5}));
      }
      io::save_safetensors(dir + "/model.safetensors", ts);
    };
  };
  const struct {
    std::string path, expect;
  } cases[] = {
      {variant("nocfg", [](const std::string& d) { fs::remove(d + "/config.json"); }), "no config.json"},
      {variant("nost", [](const std::string& d) { fs::remove(d + "/model.safetensors"); }),
       "no model.safetensors"},
      {variant("bert", edit_config([](nlohmann::json& j) { j["model_type"] = "bert"; })),
       "model_type 'bert'"},
      {variant("notype", edit_config([](nlohmann::json& j) { j.erase("model_type"); })), "model_type"},
      {variant("nohid", edit_config([](nlohmann::json& j) { j.erase("hidden_size"); })), "hidden_size"},
      {variant("rs", edit_config([](nlohmann::json& j) {
                 j["rope_scaling"] = {{"type", "linear"}};
               })),
       "rope_scaling"},
      {variant("miss", drop_tensor("model.layers.1.mlp.up_proj.weight", false)),
       "has no tensor 'model.layers.1.mlp.up_proj.weight'"},
      {variant("shape", drop_tensor("model.layers.0.self_attn.k_proj.weight", true)),
       "tensor 'model.layers.0.self_attn.k_proj.weight' has shape [3, 5], expected [16, 32]"},
      {variant("gqa", edit_config([](nlohmann::json& j) { j["num_key_value_heads"] = 3; })), "n_kv_heads"},
      {variant("hd", edit_config([](nlohmann::json& j) { j["head_dim"] = int64_t{1} << 62; })),
       "is not hidden_size / num_attention_heads = 8"},
      {variant("act", edit_config([](nlohmann::json& j) { j["hidden_act"] = "gelu"; })), "hidden_act 'gelu'"},
      {variant("int",
               [](const std::string& d) {
                 const io::SafetensorsFile f = io::load_safetensors(d + "/model.safetensors");
                 std::vector<std::pair<std::string, Tensor>> ts;
                 for (const std::string& n : f.names())
                   ts.emplace_back(n, n == "model.norm.weight" ? Tensor::zeros({32}, DType::i32) : f.copy(n));
                 io::save_safetensors(d + "/model.safetensors", ts);
               }),
       "tensor 'model.norm.weight' has dtype i32, expected a float type"},
      {variant("extra",
               [](const std::string& d) {
                 const io::SafetensorsFile f = io::load_safetensors(d + "/model.safetensors");
                 std::vector<std::pair<std::string, Tensor>> ts;
                 for (const std::string& n : f.names()) ts.emplace_back(n, f.copy(n));
                 ts.emplace_back("model.layers.0.self_attn.q_proj.bias", Tensor::zeros({32}));
                 io::save_safetensors(d + "/model.safetensors", ts);
               }),
       "does not use: 'model.layers.0.self_attn.q_proj.bias'"},
      {variant("badjson", [](const std::string& d) { io::write_file_atomic(d + "/config.json", "{oops"); }),
       "config.json' is not a JSON object"},
  };
  for (const auto& c : cases) {
    const std::string e = error_of(c.path);
    EXPECT_NE(e.find(c.expect), std::string::npos) << c.path << ": " << e;
    EXPECT_EQ(e.find('\n'), std::string::npos) << e;
  }
  EXPECT_NE(error_of(good + "/nothing_here").find("nothing_here"), std::string::npos);
  // load_llama_weights itself refuses a GPT-2 folder by name.
  const models::GptConfig gc = gpt_config(11, 8, 1, 1, 8);
  models::Gpt g(gc, init);
  const std::string gdir = temp_dir("gptw");
  models::save_pretrained(g, gdir);
  try {
    io::load_llama_weights(gdir);
    ADD_FAILURE() << "a gpt2 folder loaded as Llama weights";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("model_type 'gpt2' is not a Llama model"), std::string::npos)
        << e.what();
  }
}

}  // namespace xfmr
