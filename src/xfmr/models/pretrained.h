// Save and load a text model as a Hugging Face model folder: DIR/config.json (model_type "gpt2" or "llama",
// HF key names) and DIR/model.safetensors (HF tensor names and layouts). Folders written by transformers'
// save_pretrained for these two architectures load too (GPT2Model files without the "transformer." prefix
// included).
#pragma once
#include <memory>
#include <string>

#include "xfmr/models/causal_lm.h"

namespace xfmr::models {

// Writes both files atomically (each via a temp file + rename).
void save_pretrained(const CausalLM& model, const std::string& dir);

// Reads DIR/config.json, builds the model its model_type names (Error for any other type, naming it) and loads
// DIR/model.safetensors into it (converted to `dtype`). The model is returned in eval() mode (no dropout); call
// train() to fine-tune it.
std::unique_ptr<CausalLM> load_pretrained(const std::string& dir, DType dtype = DType::f32);

// The model described by an HF config object, randomly initialised from `init`.
std::unique_ptr<CausalLM> model_from_hf_config(const nlohmann::json& config, Generator& init,
                                               DType dtype = DType::f32);

}  // namespace xfmr::models
