#include "xfmr/models/icl_lstm.h"

#include "xfmr/ops/view.h"

namespace xfmr::models {

void IclLstmConfig::validate() const {
  XF_CHECK(d > 0, "model.d must be positive, got ", d);
  XF_CHECK(hidden > 0, "model.n_embd (the LSTM's hidden size) must be positive, got ", hidden);
  XF_CHECK(n_layer > 0, "model.n_layer must be positive, got ", n_layer);
  XF_CHECK(read_in_init_std >= 0, "model.read_in_init_std must be >= 0, got ", read_in_init_std);
}

IclLstm::IclLstm(const IclLstmConfig& cfg, Generator& gen, DType dtype)
    : cfg_((cfg.validate(), cfg)),
      read_in_(cfg.d, cfg.hidden, true, gen, cfg.read_in_init_std, dtype),
      lstm_(cfg.hidden, cfg.hidden, cfg.n_layer, gen, dtype),
      read_out_(cfg.hidden, 1, true, gen, 0.02, dtype) {
  register_module("read_in", read_in_);
  register_module("lstm", lstm_);
  register_module("read_out", read_out_);
}

void IclLstm::check_prompt(const Tensor& zs) const {
  XF_CHECK(zs.defined() && zs.dim() == 3 && zs.size(2) == cfg_.d && zs.size(1) % 2 == 0,
           "IclLstm: expected an interleaved prompt [B, 2n, ", cfg_.d, "], got ",
           zs.defined() ? zs.shape().str() : std::string("undefined"));
}

Tensor IclLstm::forward(const Tensor& zs) const {
  check_prompt(zs);
  const int64_t B = zs.size(0), T = zs.size(1);
  const Tensor out = read_out_.forward(lstm_.forward(read_in_.forward(zs)));  // [B, T, 1]
  return reshape(slice(out, 1, 0, T, 2), {B, T / 2});
}

std::vector<Tensor> IclLstm::hidden_states(const Tensor& zs, std::vector<std::string>* names) const {
  check_prompt(zs);
  const Tensor e = read_in_.forward(zs);
  std::vector<Tensor> hs = {e};
  if (names) names->push_back("embed");
  const auto layers = lstm_.forward_layers(e);
  for (size_t l = 0; l < layers.size(); ++l) {
    hs.push_back(layers[l]);
    if (names) names->push_back("layer" + std::to_string(l + 1));
  }
  return hs;
}

}  // namespace xfmr::models
