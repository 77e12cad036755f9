#include "xfmr/eval/accuracy_curve.h"

#include <span>
#include <vector>

#include "xfmr/core/check.h"
#include "xfmr/ops/activation.h"
#include "xfmr/ops/elementwise.h"
#include "xfmr/ops/reduce.h"

namespace xfmr {

Tensor sign_correct(const Tensor& predictions, const Tensor& ys) {
  check_defined(predictions, "sign_correct");
  check_defined(ys, "sign_correct");
  XF_CHECK(predictions.dim() == 2 && predictions.shape() == ys.shape(),
           "sign_correct: predictions must be [P, n] like ys, got predictions ", predictions.shape().str(),
           " and ys ", ys.shape().str());
  const std::vector<double> p = predictions.to_vector(), y = ys.to_vector();
  std::vector<double> c(p.size());
  for (size_t i = 0; i < p.size(); ++i) c[i] = p[i] == 0.0 ? 0.5 : ((p[i] > 0) == (y[i] > 0) ? 1.0 : 0.0);
  return Tensor::from_vector(std::span<const double>(c), predictions.shape(), DType::f64);
}

ErrorCurve accuracy_vs_k(const IclPredictor& predictor, const IclBatch& prompts, const BootstrapOptions& opt) {
  return summarize_errors(sign_correct(predict_all(predictor, prompts), prompts.ys), opt);
}

ErrorCurve accuracy_vs_k(const Tensor& predictions, const IclBatch& prompts, const BootstrapOptions& opt) {
  return summarize_errors(sign_correct(predictions, prompts.ys), opt);
}

Tensor logistic_loss(const Tensor& logits, const Tensor& ys) {
  XF_CHECK(logits.shape() == ys.shape(), "logistic_loss: logits and ys must have the same shape, got ",
           logits.shape().str(), " and ", ys.shape().str());
  return mean(softplus(neg(mul(logits, ys.detach()))));
}

}  // namespace xfmr
