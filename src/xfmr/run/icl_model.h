// The models that `xfmr icl` can train (model.kind), behind one interface: predictions at the x positions of an
// interleaved prompt, the training loss (with the looped models' truncated loss and loop curriculum), and the
// per-layer hidden states that the probes (run/icl_probe.h) read.
//
//   gpt         Garg et al. 2022's GPT-2 decoder (models/icl_transformer.h)
//   lsa         linear self-attention only, von Oswald et al. 2023 (models/lsa.h)
//   looped      Yang et al. 2023's looped transformer: model.n_layer blocks applied model.n_loops times with
//               input injection (models/looped_transformer.h)
//   algoformer  Gao et al. 2024: model.n_pre_layer blocks, then the looped blocks, then model.n_post_layer blocks
//   lstm        an attention-free baseline: an LSTM of model.n_layer layers and model.n_embd units (models/icl_lstm.h)
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "xfmr/core/rng.h"
#include "xfmr/core/tensor.h"
#include "xfmr/nn/module.h"

namespace xfmr {

struct IclConfig;
namespace models {
class IclTransformer;
class LinearSelfAttentionModel;
class LoopedTransformer;
class IclLstm;
}  // namespace models

// The config keys of the looped models (model.*; the other kinds ignore them).
struct IclLoopSettings {
  int64_t n_loops = 8;                    // T at evaluation and at the end of the loop curriculum
  int64_t loop_window = 0;                // truncated loss: last b iterations (0 = all T)
  int64_t loop_curriculum_start = 0;      // loops at step 0 (0 = no loop curriculum: always n_loops)
  int64_t loop_curriculum_interval = 1000;  // steps between +1 loop
  int64_t n_pre_layer = 1;                // algoformer: pre-transformer blocks
  int64_t n_post_layer = 1;               // algoformer: post-transformer blocks
  bool input_injection = true;            // add the embedded prompt to the state before every iteration
  template <class V>
  void visit(V& v) {
    v("n_loops", n_loops, "looped/algoformer: loop iterations T (>= 1)");
    v("loop_window", loop_window, "looped/algoformer: truncated loss over the last b iterations (0 = all T)");
    v("loop_curriculum_start", loop_curriculum_start, "looped/algoformer: loops at step 0 (0 = no loop curriculum)");
    v("loop_curriculum_interval", loop_curriculum_interval, "looped/algoformer: steps between +1 loop");
    v("n_pre_layer", n_pre_layer, "algoformer: pre-transformer blocks");
    v("n_post_layer", n_post_layer, "algoformer: post-transformer blocks");
    v("input_injection", input_injection, "looped/algoformer: add the embedded prompt before every iteration");
  }
};

// The known model kinds, in the order of the list above.
const std::vector<std::string>& icl_model_kinds();
// Error naming the field, the value and the reason (unknown kinds list the known ones).
void validate_icl_model(const IclConfig& cfg);
// One line for the console: "4 layers x 2 heads x 64 dims", "looped: 1 layer x 8 loops, ...".
std::string icl_model_summary(const IclConfig& cfg);

class IclModel {
 public:
  IclModel(const IclConfig& cfg, Generator& init);
  ~IclModel();
  Module& module();
  const std::string& kind() const { return kind_; }

  // zs: [B, 2n, d] interleaved prompt -> [B, n] predictions at the x positions.
  Tensor forward(const Tensor& zs) const;
  // The predictions [B, n] a training loss at step `step` averages over: one tensor (= forward) for the
  // non-looped kinds; for looped/algoformer the read-outs of the last loop_window iterations at the loop
  // curriculum's count (Yang et al.'s truncated loss; earlier iterations carry no gradient). The caller applies
  // its loss (MSE, logistic, last position only, ...) to each and takes the mean.
  std::vector<Tensor> training_predictions(const Tensor& zs, int64_t step) const;
  // Loop count at a training step (n_loops without a loop curriculum; 0 for non-looped kinds).
  int64_t loops_at(int64_t step) const;
  // Per-layer hidden states [B, 2n, C] (names as the models give them); empty for lsa (no exposed stream).
  std::vector<Tensor> hidden_states(const Tensor& zs, std::vector<std::string>* names) const;

  models::LinearSelfAttentionModel* lsa() const { return lsa_.get(); }

 private:
  std::string kind_;
  IclLoopSettings loop_;
  std::unique_ptr<models::IclTransformer> gpt_;
  std::unique_ptr<models::LinearSelfAttentionModel> lsa_;
  std::unique_ptr<models::LoopedTransformer> looped_;
  std::unique_ptr<models::IclLstm> lstm_;
};

}  // namespace xfmr
