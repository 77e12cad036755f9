#include "xfmr/models/looped_transformer.h"

#include <algorithm>

#include "xfmr/core/autograd.h"
#include "xfmr/ops/elementwise.h"
#include "xfmr/ops/view.h"

namespace xfmr::models {

void LoopedTransformerConfig::validate() const {
  XF_CHECK(d > 0, "model.d must be positive, got ", d);
  XF_CHECK(n_points > 0, "model.n_points must be positive, got ", n_points);
  XF_CHECK(n_embd > 0, "model.n_embd must be positive, got ", n_embd);
  XF_CHECK(n_head > 0, "model.n_head must be positive, got ", n_head);
  XF_CHECK(n_embd % n_head == 0, "model.n_embd (", n_embd, ") must be divisible by model.n_head (", n_head, ")");
  XF_CHECK(n_loop_layer > 0, "model.n_layer (blocks per loop iteration) must be positive, got ", n_loop_layer);
  XF_CHECK(n_pre_layer >= 0, "model.n_pre_layer must be >= 0, got ", n_pre_layer);
  XF_CHECK(n_post_layer >= 0, "model.n_post_layer must be >= 0, got ", n_post_layer);
  XF_CHECK(n_loops >= 1, "model.n_loops must be >= 1 (the looped block runs at least once), got ", n_loops);
  XF_CHECK(read_in_init_std >= 0, "model.read_in_init_std must be >= 0, got ", read_in_init_std);
  XF_CHECK(pos_init_std >= 0, "model.pos_init_std must be >= 0, got ", pos_init_std);
}

LoopedTransformer::LoopedTransformer(const LoopedTransformerConfig& cfg, Generator& gen, DType dtype)
    : cfg_((cfg.validate(), cfg)),
      read_in_(cfg.d, cfg.n_embd, true, gen, cfg.read_in_init_std, dtype),
      ln_f_(cfg.n_embd, 1e-5, true, dtype),
      read_out_(cfg.n_embd, 1, true, gen, 0.02, dtype) {
  register_module("read_in", read_in_);
  Tensor wpe = Tensor::empty({2 * cfg.n_points, cfg.n_embd}, dtype);
  normal_(wpe, 0.0, cfg.pos_init_std, gen);
  wpe_ = register_parameter("wpe", wpe, /*decay=*/false);
  // Residual projections scaled for the depth actually unrolled (GPT-2 §2.3 counts applied layers).
  const int64_t depth = cfg.n_pre_layer + cfg.n_loops * cfg.n_loop_layer + cfg.n_post_layer;
  auto make = [&](int64_t n, Module& list, std::vector<std::unique_ptr<nn::PreLNBlock>>& blocks, const char* name) {
    for (int64_t l = 0; l < n; ++l) {
      blocks.push_back(std::make_unique<nn::PreLNBlock>(cfg.n_embd, cfg.n_head, depth, gen, dtype, cfg.gelu));
      list.register_module(std::to_string(l), *blocks.back());
    }
    if (n > 0) register_module(name, list);
  };
  make(cfg.n_pre_layer, pre_list_, pre_, "pre");
  make(cfg.n_loop_layer, loop_list_, loop_, "loop");
  make(cfg.n_post_layer, post_list_, post_, "post");
  register_module("ln_f", ln_f_);
  register_module("read_out", read_out_);
}

void LoopedTransformer::check_prompt(const Tensor& zs) const {
  XF_CHECK(zs.defined() && zs.dim() == 3 && zs.size(2) == cfg_.d && zs.size(1) % 2 == 0 &&
               zs.size(1) <= 2 * cfg_.n_points,
           "LoopedTransformer: expected a prompt [B, 2n, ", cfg_.d, "] with n <= model positions ", cfg_.n_points,
           ", got ", zs.defined() ? zs.shape().str() : std::string("undefined"));
}

Tensor LoopedTransformer::embed(const Tensor& zs) const {
  return read_in_.forward(zs) + slice(wpe_, 0, 0, zs.size(1));  // [B, T, C]
}

Tensor LoopedTransformer::loop_once(const Tensor& y, const Tensor& p) const {
  Tensor h = !y.defined() ? p : (cfg_.input_injection ? y + p : y);
  for (const auto& blk : loop_) h = blk->forward(h);
  return h;
}

Tensor LoopedTransformer::read_out(const Tensor& y, int64_t B, int64_t T) const {
  Tensor h = y;
  for (const auto& blk : post_) h = blk->forward(h);
  const Tensor out = read_out_.forward(ln_f_.forward(h));  // [B, T, 1]
  return reshape(slice(out, 1, 0, T, 2), {B, T / 2});
}

std::vector<Tensor> LoopedTransformer::forward_window(const Tensor& zs, int64_t loops, int64_t window) const {
  return run(zs, loops, window, true);
}

std::vector<Tensor> LoopedTransformer::run(const Tensor& zs, int64_t loops, int64_t window, bool read_all) const {
  check_prompt(zs);
  XF_CHECK(loops >= 1, "LoopedTransformer: loops must be >= 1, got ", loops);
  window = std::clamp<int64_t>(window, 1, loops);
  const int64_t B = zs.size(0), T = zs.size(1);
  Tensor p = embed(zs);
  for (const auto& blk : pre_) p = blk->forward(p);
  // Y_0 = 0 with injection (Y_0 + P = P), else Y_0 = P: either way the first iteration reads P.
  Tensor y;
  std::vector<Tensor> preds;
  for (int64_t t = 1; t <= loops; ++t) {
    if (t <= loops - window) {
      NoGradGuard ng;
      y = loop_once(y, p).detach();
    } else {
      y = loop_once(y, p);
      if (read_all || t == loops) preds.push_back(read_out(y, B, T));
    }
  }
  return preds;
}

Tensor LoopedTransformer::forward(const Tensor& zs, int64_t loops) const {
  // Every iteration tracked (autograd sees the whole unrolled loop), only the last one read out.
  const int64_t T = loops < 0 ? cfg_.n_loops : loops;
  return run(zs, T, T, false).back();
}

std::vector<Tensor> LoopedTransformer::hidden_states(const Tensor& zs, std::vector<std::string>* names) const {
  check_prompt(zs);
  std::vector<Tensor> hs;
  auto push = [&](const Tensor& h, const std::string& n) {
    hs.push_back(h);
    if (names) names->push_back(n);
  };
  Tensor p = embed(zs);
  push(p, "embed");
  for (size_t l = 0; l < pre_.size(); ++l) push(p = pre_[l]->forward(p), "pre" + std::to_string(l + 1));
  Tensor y;
  for (int64_t t = 1; t <= cfg_.n_loops; ++t) {
    y = loop_once(y, p);
    push(y, "loop" + std::to_string(t));
  }
  for (size_t l = 0; l < post_.size(); ++l) push(y = post_[l]->forward(y), "post" + std::to_string(l + 1));
  return hs;
}

}  // namespace xfmr::models
