#include "xfmr/models/icl_transformer.h"

#include "xfmr/ops/elementwise.h"
#include "xfmr/ops/view.h"

namespace xfmr::models {

void IclTransformerConfig::validate() const {
  XF_CHECK(d > 0, "model.d must be positive, got ", d);
  XF_CHECK(n_points > 0, "model.n_points must be positive, got ", n_points);
  XF_CHECK(n_embd > 0, "model.n_embd must be positive, got ", n_embd);
  XF_CHECK(n_layer > 0, "model.n_layer must be positive, got ", n_layer);
  XF_CHECK(n_head > 0, "model.n_head must be positive, got ", n_head);
  XF_CHECK(read_in_init_std >= 0, "model.read_in_init_std must be >= 0, got ", read_in_init_std);
  XF_CHECK(pos_init_std >= 0, "model.pos_init_std must be >= 0, got ", pos_init_std);
  XF_CHECK(n_embd % n_head == 0, "model.n_embd (", n_embd, ") must be divisible by model.n_head (", n_head, ")");
  XF_CHECK(gelu == "exact" || gelu == "tanh", "model.gelu must be exact or tanh, got '", gelu, "'");
}

IclTransformer::IclTransformer(const IclTransformerConfig& cfg, Generator& gen, DType dtype)
    : cfg_((cfg.validate(), cfg)),
      read_in_(cfg.d, cfg.n_embd, true, gen, cfg.read_in_init_std, dtype),
      ln_f_(cfg.n_embd, 1e-5, true, dtype),
      read_out_(cfg.n_embd, 1, true, gen, 0.02, dtype) {
  register_module("read_in", read_in_);
  Tensor wpe = Tensor::empty({2 * cfg.n_points, cfg.n_embd}, dtype);
  normal_(wpe, 0.0, cfg.pos_init_std, gen);
  wpe_ = register_parameter("wpe", wpe, /*decay=*/false);
  for (int64_t l = 0; l < cfg.n_layer; ++l) {
    blocks_.push_back(std::make_unique<nn::PreLNBlock>(cfg.n_embd, cfg.n_head, cfg.n_layer, gen, dtype, cfg.gelu_approx()));
    blocks_list_.register_module(std::to_string(l), *blocks_.back());
  }
  register_module("blocks", blocks_list_);
  register_module("ln_f", ln_f_);
  register_module("read_out", read_out_);
}

Tensor IclTransformer::forward(const Tensor& zs) const {
  XF_CHECK(zs.dim() == 3 && zs.size(2) == cfg_.d && zs.size(1) % 2 == 0 && zs.size(1) <= 2 * cfg_.n_points,
           "IclTransformer: expected a prompt [B, 2n, ", cfg_.d, "] with n <= ", cfg_.n_points, ", got ",
           zs.shape().str());
  const int64_t T = zs.size(1);
  Tensor h = read_in_.forward(zs) + slice(wpe_, 0, 0, T);  // [B, T, C]
  for (const auto& blk : blocks_) h = blk->forward(h);
  Tensor out = read_out_.forward(ln_f_.forward(h));  // [B, T, 1]
  // Predictions at the x tokens (even positions): [B, T/2]
  return reshape(slice(out, 1, 0, T, 2), {zs.size(0), T / 2});
}

}  // namespace xfmr::models

namespace xfmr::models {

std::vector<Tensor> IclTransformer::hidden_states(const Tensor& zs, std::vector<std::string>* names) const {
  XF_CHECK(zs.dim() == 3 && zs.size(2) == cfg_.d && zs.size(1) % 2 == 0 && zs.size(1) <= 2 * cfg_.n_points,
           "IclTransformer: expected a prompt [B, 2n, ", cfg_.d, "] with n <= ", cfg_.n_points, ", got ",
           zs.shape().str());
  std::vector<Tensor> hs;
  Tensor h = read_in_.forward(zs) + slice(wpe_, 0, 0, zs.size(1));
  hs.push_back(h);
  if (names) names->push_back("embed");
  for (size_t l = 0; l < blocks_.size(); ++l) {
    hs.push_back(h = blocks_[l]->forward(h));
    if (names) names->push_back("layer" + std::to_string(l + 1));
  }
  return hs;
}

}  // namespace xfmr::models
