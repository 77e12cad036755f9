#include "xfmr/baselines/standard.h"

#include "xfmr/baselines/averaging.h"
#include "xfmr/baselines/gradient_descent.h"
#include "xfmr/baselines/knn.h"
#include "xfmr/baselines/least_squares.h"
#include "xfmr/baselines/ridge.h"

namespace xfmr {

std::vector<NamedPredictor> standard_baselines(const StandardBaselineOptions& opt) {
  std::vector<NamedPredictor> v;
  v.push_back({"least_squares", LeastSquares()});
  v.push_back({"ridge", Ridge(opt.noise_std * opt.noise_std)});
  v.push_back({"knn", NearestNeighbors(opt.knn_neighbors)});
  v.push_back({"averaging", Averaging()});
  v.push_back({"gd", GradientDescent(opt.gd_steps, opt.gd_eta)});
  v.push_back({"zero", [](const IclContext&, const double*) { return 0.0; }});
  return v;
}

}  // namespace xfmr
