#include "xfmr/run/icl_model.h"

#include <algorithm>

#include "xfmr/eval/accuracy_curve.h"
#include "xfmr/models/icl_lstm.h"
#include "xfmr/models/icl_transformer.h"
#include "xfmr/models/looped_transformer.h"
#include "xfmr/models/lsa.h"
#include "xfmr/ops/elementwise.h"
#include "xfmr/ops/loss.h"
#include "xfmr/ops/view.h"
#include "xfmr/run/icl.h"

namespace xfmr {

const std::vector<std::string>& icl_model_kinds() {
  static const std::vector<std::string> k = {"gpt", "lsa", "looped", "algoformer", "lstm"};
  return k;
}

namespace {

bool is_looped(const std::string& kind) { return kind == "looped" || kind == "algoformer"; }

models::LoopedTransformerConfig looped_config(const IclConfig& cfg) {
  models::LoopedTransformerConfig m;
  m.d = cfg.task.d;
  m.n_points = cfg.task.n_points;
  m.n_embd = cfg.model.n_embd;
  m.n_head = cfg.model.n_head;
  m.n_loop_layer = cfg.model.n_layer;
  m.n_pre_layer = cfg.model.kind == "algoformer" ? cfg.model.n_pre_layer : 0;
  m.n_post_layer = cfg.model.kind == "algoformer" ? cfg.model.n_post_layer : 0;
  m.n_loops = cfg.model.n_loops;
  m.input_injection = cfg.model.input_injection;
  m.pos_init_std = cfg.model.pos_init_std;
  m.read_in_init_std = cfg.model.read_in_init_std;
  m.gelu = cfg.model.gelu_approx();
  return m;
}

models::IclLstmConfig lstm_config(const IclConfig& cfg) {
  models::IclLstmConfig m;
  m.d = cfg.task.d;
  m.hidden = cfg.model.n_embd;
  m.n_layer = cfg.model.n_layer;
  m.read_in_init_std = cfg.model.read_in_init_std;
  return m;
}

}  // namespace

void validate_icl_model(const IclConfig& cfg) {
  const std::string& k = cfg.model.kind;
  XF_CHECK(cfg.model.gelu == "exact" || cfg.model.gelu == "tanh", "model.gelu must be exact or tanh, got '",
           cfg.model.gelu, "'");
  if (k == "gpt") {
    models::IclTransformerConfig m = cfg.model;
    m.d = cfg.task.d;
    m.n_points = cfg.task.n_points;
    m.validate();
  } else if (k == "lsa") {
    XF_CHECK(cfg.model.n_layer > 0, "model.n_layer must be positive, got ", cfg.model.n_layer);
    XF_CHECK(cfg.model.n_head > 0, "model.n_head must be positive, got ", cfg.model.n_head);
  } else if (is_looped(k)) {
    looped_config(cfg).validate();
    const IclLoopSettings& l = cfg.model;
    XF_CHECK(l.loop_window >= 0, "model.loop_window must be >= 0 (0 = every iteration), got ", l.loop_window);
    XF_CHECK(l.loop_curriculum_start >= 0 && l.loop_curriculum_start <= l.n_loops,
             "model.loop_curriculum_start must be in [0, model.n_loops = ", l.n_loops, "] (0 = off), got ",
             l.loop_curriculum_start);
    XF_CHECK(l.loop_curriculum_interval > 0, "model.loop_curriculum_interval must be positive, got ",
             l.loop_curriculum_interval);
  } else if (k == "lstm") {
    lstm_config(cfg).validate();
  } else {
    std::string known;
    for (const auto& n : icl_model_kinds()) known += (known.empty() ? "" : ", ") + n;
    throw Error("model.kind: unknown model '" + k + "' (known: " + known + ")");
  }
}

std::string icl_model_summary(const IclConfig& cfg) {
  const auto& m = cfg.model;
  const std::string L = std::to_string(m.n_layer), H = std::to_string(m.n_head), C = std::to_string(m.n_embd);
  if (m.kind == "lsa") return "linear self-attention, " + L + " layers x " + H + " heads";
  if (m.kind == "looped")
    return "looped transformer, " + L + " block(s) x " + std::to_string(m.n_loops) + " loops x " + H + " heads x " +
           C + " dims";
  if (m.kind == "algoformer")
    return "algoformer, " + std::to_string(m.n_pre_layer) + " pre + " + L + " looped x " + std::to_string(m.n_loops) +
           " + " + std::to_string(m.n_post_layer) + " post blocks x " + H + " heads x " + C + " dims";
  if (m.kind == "lstm") return "LSTM, " + L + " layers x " + C + " units";
  return L + " layers x " + H + " heads x " + C + " dims";
}

IclModel::IclModel(const IclConfig& cfg, Generator& init) : kind_(cfg.model.kind), loop_(cfg.model) {
  validate_icl_model(cfg);
  if (kind_ == "lsa") {
    models::LsaConfig m;
    m.d = cfg.task.d;
    m.n_layer = cfg.model.n_layer;
    m.n_head = cfg.model.n_head;
    lsa_ = std::make_unique<models::LinearSelfAttentionModel>(m, init);
  } else if (is_looped(kind_)) {
    looped_ = std::make_unique<models::LoopedTransformer>(looped_config(cfg), init);
  } else if (kind_ == "lstm") {
    lstm_ = std::make_unique<models::IclLstm>(lstm_config(cfg), init);
  } else {
    models::IclTransformerConfig m = cfg.model;
    m.d = cfg.task.d;
    m.n_points = cfg.task.n_points;
    gpt_ = std::make_unique<models::IclTransformer>(m, init);
  }
}

IclModel::~IclModel() = default;

Module& IclModel::module() {
  if (gpt_) return *gpt_;
  if (lsa_) return *lsa_;
  if (looped_) return *looped_;
  return *lstm_;
}

Tensor IclModel::forward(const Tensor& zs) const {
  if (gpt_) return gpt_->forward(zs);
  if (lsa_) return lsa_->forward_interleaved(zs);
  if (looped_) return looped_->forward(zs);
  return lstm_->forward(zs);
}

int64_t IclModel::loops_at(int64_t step) const {
  if (!looped_) return 0;
  if (loop_.loop_curriculum_start <= 0) return loop_.n_loops;
  return std::min(loop_.n_loops, loop_.loop_curriculum_start + step / loop_.loop_curriculum_interval);
}

Tensor IclLoss::operator()(const Tensor& pred, const Tensor& ys) const {
  const int64_t n = pred.size(1);
  const Tensor p = last_only ? slice(pred, 1, n - 1, n) : pred;
  const Tensor y = last_only ? slice(ys, 1, n - 1, n) : ys;
  return logistic ? logistic_loss(p, y) : mse_loss(p, y);
}

Tensor IclModel::training_loss(const Tensor& zs, const Tensor& ys, int64_t step, const IclLoss& loss_fn) const {
  if (!looped_) return loss_fn(forward(zs), ys);
  // Yang et al. 2023 (§3): the loss averages the read-outs of the last b iterations; earlier ones carry no gradient.
  const int64_t T = loops_at(step);
  const int64_t b = loop_.loop_window > 0 ? std::min(loop_.loop_window, T) : T;
  const std::vector<Tensor> preds = looped_->forward_window(zs, T, b);
  Tensor loss = loss_fn(preds[0], ys);
  for (size_t i = 1; i < preds.size(); ++i) loss = loss + loss_fn(preds[i], ys);
  return preds.size() == 1 ? loss : loss / static_cast<double>(preds.size());
}

std::vector<Tensor> IclModel::hidden_states(const Tensor& zs, std::vector<std::string>* names) const {
  if (gpt_) return gpt_->hidden_states(zs, names);
  if (looped_) return looped_->hidden_states(zs, names);
  if (lstm_) return lstm_->hidden_states(zs, names);
  return {};
}

}  // namespace xfmr
