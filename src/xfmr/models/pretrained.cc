#include "xfmr/models/pretrained.h"

#include <filesystem>

#include "xfmr/io/file_util.h"
#include "xfmr/models/gpt.h"
#include "xfmr/models/llama.h"

namespace xfmr::models {

void save_pretrained(const CausalLM& model, const std::string& dir) {
  std::filesystem::create_directories(dir);
  io::save_safetensors(dir + "/model.safetensors", model.hf_state_dict(), {{"format", "pt"}});
  io::write_file_atomic(dir + "/config.json", model.hf_config().dump(2) + "\n");
}

std::unique_ptr<CausalLM> model_from_hf_config(const nlohmann::json& j, Generator& init, DType dtype) {
  XF_CHECK(j.is_object() && j.contains("model_type") && j["model_type"].is_string(),
           "model config: no \"model_type\" string");
  const std::string type = j["model_type"].get<std::string>();
  if (type == "gpt2") return std::make_unique<Gpt>(Gpt::config_from_hf(j), init, dtype);
  if (type == "llama") return std::make_unique<Llama>(Llama::config_from_hf(j), init, dtype);
  throw Error("model config: unknown model_type '" + type + "' (known: gpt2, llama)");
}

std::unique_ptr<CausalLM> load_pretrained(const std::string& dir, DType dtype) {
  const std::string cfg_path = dir + "/config.json";
  const auto j = nlohmann::json::parse(io::read_file(cfg_path), nullptr, /*allow_exceptions=*/false);
  XF_CHECK(!j.is_discarded(), "load_pretrained: '", cfg_path, "' is not valid JSON");
  Generator init(0);
  std::unique_ptr<CausalLM> m;
  try {
    m = model_from_hf_config(j, init, dtype);
  } catch (const Error& e) {
    throw Error("load_pretrained: '" + cfg_path + "': " + e.what());
  }
  m->load_hf_state(io::load_safetensors(dir + "/model.safetensors"));
  m->eval();  // for inference: dropout off (HF configs carry their training dropout, e.g. resid_pdrop 0.1)
  return m;
}

}  // namespace xfmr::models
