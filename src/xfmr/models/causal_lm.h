// The interface shared by the text language models (models/gpt.h, models/llama.h): token ids in, next-token
// logits out, plus what save/load in the Hugging Face layout needs (models/pretrained.h).
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "xfmr/core/rng.h"
#include "xfmr/io/safetensors.h"
#include "xfmr/nn/module.h"

namespace xfmr::models {

class CausalLM : public Module {
 public:
  // ids: [B, T] i64 or i32 with T <= block_size() -> logits [B, T, vocab_size()]. Position t sees ids[:, 0..t].
  // `dropout_gen` draws the dropout masks in training mode (nullptr: the default generator); a training loop
  // passes its data generator so a resumed run draws the same masks.
  virtual Tensor forward(const Tensor& ids, Generator* dropout_gen = nullptr) const = 0;
  virtual int64_t vocab_size() const = 0;
  virtual int64_t block_size() const = 0;   // longest sequence (learned positions / RoPE table length)
  virtual std::string model_type() const = 0;  // Hugging Face's model_type: "gpt2" or "llama"

  // config.json in Hugging Face's format (model_type and HF key names).
  virtual nlohmann::json hf_config() const = 0;
  // The parameters under their Hugging Face names and layouts (GPT-2's Conv1D weights transposed to [in, out]),
  // as contiguous copies.
  virtual std::vector<std::pair<std::string, Tensor>> hf_state_dict() const = 0;
  // Copies every parameter from a file in that layout. Every parameter must be present with its exact shape;
  // tensors the model does not use are an Error unless the format is known to carry them (GPT-2's attention
  // mask buffers, a tied lm_head). On error the model is unchanged.
  virtual void load_hf_state(const io::SafetensorsFile& file) = 0;
};

// Checks ids for forward(): rank 2, integer dtype, 1 <= T <= block_size. Error names the model.
void check_token_ids(const Tensor& ids, int64_t block_size, const char* who);

// Copies `src` (any float dtype, shape == dst's) into the parameter `dst` without recording autograd.
void copy_parameter(Tensor& dst, const Tensor& src);

}  // namespace xfmr::models
