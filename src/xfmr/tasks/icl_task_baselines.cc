#include "xfmr/tasks/icl_task_baselines.h"

#include <memory>
#include <vector>

#include "xfmr/baselines/ridge.h"
#include "xfmr/baselines/zfb_closed_form.h"
#include "xfmr/core/check.h"
#include "xfmr/tasks/icl_representation.h"

namespace xfmr {

namespace {
// Ridge on Φ(x): maps the context and the query through the fixed representation, then solves ridge in R^D.
class RidgeOnRepresentation {
 public:
  RidgeOnRepresentation(std::shared_ptr<const IclRepresentation> phi, double lambda)
      : phi_(std::move(phi)), ridge_(lambda) {}
  double operator()(const IclContext& ctx, const double* x_query) {
    const int64_t D = phi_->width();
    XF_CHECK(ctx.d == phi_->d(), "ridge_phi: prompt has d = ", ctx.d, ", Φ takes d = ", phi_->d());
    fx_.resize(static_cast<size_t>((ctx.k + 1) * D));
    scratch_.resize(static_cast<size_t>(2 * D));
    for (int64_t i = 0; i < ctx.k; ++i) phi_->apply(ctx.x + i * ctx.d, fx_.data() + i * D, scratch_.data());
    double* fq = fx_.data() + ctx.k * D;
    phi_->apply(x_query, fq, scratch_.data());
    return ridge_(IclContext{fx_.data(), ctx.y, ctx.k, D}, fq);
  }

 private:
  std::shared_ptr<const IclRepresentation> phi_;
  Ridge ridge_;
  std::vector<double> fx_, scratch_;
};
}  // namespace

IclPredictor make_icl_task_baseline(const std::string& name, const IclTaskBaselineContext& ctx,
                                    const IclBaselineOptions& opt) {
  if (name == "ridge_phi") {
    XF_CHECK(ctx.task.kind == "fixed_representation", "icl: baseline ridge_phi needs task.kind=fixed_representation",
             " (it uses the true Φ), got task.kind=", ctx.task.kind);
    auto phi = std::make_shared<const IclRepresentation>(ctx.d, ctx.task.phi_width, ctx.task.phi_depth,
                                                         ctx.task.phi_seed);
    return RidgeOnRepresentation(phi, ctx.task.noise_std * ctx.task.noise_std);
  }
  if (name == "zfb") {
    XF_CHECK(ctx.n_points >= 2, "icl: baseline zfb needs n_points >= 2, got ", ctx.n_points);
    return ZfbClosedForm::for_train_length(ZfbClosedForm::identity(ctx.d), ctx.d, ctx.n_points - 1);
  }
  if (name == "zfb_prefix")
    return ZfbClosedForm::prefix_averaged(ZfbClosedForm::identity(ctx.d), ctx.d, ctx.n_points);
  return make_icl_baseline(name, opt);
}

}  // namespace xfmr
