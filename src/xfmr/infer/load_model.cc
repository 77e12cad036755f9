#include "xfmr/infer/load_model.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "xfmr/core/check.h"
#include "xfmr/infer/gpt2.h"
#include "xfmr/infer/llama.h"
#include "xfmr/io/file_util.h"
#include "xfmr/io/llama_hf.h"
#include "xfmr/models/pretrained.h"

namespace fs = std::filesystem;

namespace xfmr::infer {

int64_t LoadedModel::vocab_size() const {
  return kind == "gpt2" ? gpt2->vocab_size() : llama.cfg.vocab_size;
}

int64_t LoadedModel::max_context() const {
  return kind == "gpt2" ? gpt2->block_size() : llama.cfg.seq_len;
}

std::unique_ptr<Decoder> LoadedModel::decoder(int64_t context) const {
  if (kind == "gpt2") return std::make_unique<Gpt2Decoder>(*gpt2, context, bos_id, eos_id, gpt2);
  const std::lock_guard<std::mutex> lock(shared_->mu);
  auto model = std::make_unique<LlamaModel>(llama, context, shared_->packed);
  shared_->packed = model->packed();
  return model;
}

LoadedModel load_model(const std::string& path) {
  LoadedModel m;
  m.path = path;
  std::error_code ec;
  if (!fs::is_directory(path, ec)) {
    m.kind = "llama";
    m.llama = io::load_llama_weights(path);
    return m;
  }
  const std::string type = io::model_folder_type(path);  // errors when config.json is missing or bad
  const std::string cfg = (fs::path(path) / "config.json").string();
  XF_CHECK(type == "llama" || type == "gpt2", "'", cfg, "': model_type '", type,
           "' is not supported (gpt2 or llama)");
  XF_CHECK(fs::exists(fs::path(path) / "model.safetensors"), "'", path,
           "': no model.safetensors in this folder (sharded checkpoints are not supported)");
  m.kind = type;
  if (type == "llama") {
    m.llama = io::load_llama_hf(path);
    return m;
  }
  std::unique_ptr<models::CausalLM> lm = models::load_pretrained(path);
  auto* gpt = dynamic_cast<models::Gpt*>(lm.get());
  XF_CHECK(gpt, "'", path, "': model_type gpt2 did not load as a GPT-2 model");
  lm.release();
  m.gpt2.reset(gpt);
  const auto j = nlohmann::json::parse(io::read_file(cfg), nullptr, false);
  const auto id = [&](const char* key) -> int32_t {
    return j.contains(key) && j[key].is_number_integer() ? j[key].get<int32_t>() : -1;
  };
  m.bos_id = id("bos_token_id");
  m.eos_id = id("eos_token_id");
  return m;
}

}  // namespace xfmr::infer
