#include "xfmr/tasks/icl_mixture.h"

#include <cmath>
#include <cstring>
#include <sstream>

#include "xfmr/core/check.h"
#include "xfmr/tasks/icl_tasks.h"

namespace xfmr {

std::vector<IclMixtureComponent> parse_icl_mixture(const std::string& spec) {
  std::vector<IclMixtureComponent> out;
  XF_CHECK(!spec.empty(), "task.mixture: empty; expected kind:weight,... e.g. linear:0.5,relu2nn:0.5");
  XF_CHECK(spec.back() != ',' && spec.find(",,") == std::string::npos, "task.mixture: empty entry in '", spec, "'");
  std::stringstream ss(spec);
  std::string item;
  double total = 0;
  while (std::getline(ss, item, ',')) {
    const size_t colon = item.find(':');
    XF_CHECK(colon != std::string::npos && colon > 0, "task.mixture: entry '", item,
             "' is not kind:weight (e.g. linear:0.5)");
    const std::string kind = item.substr(0, colon), w = item.substr(colon + 1);
    XF_CHECK(kind != "mixture", "task.mixture: a mixture cannot contain 'mixture'");
    IclMetric metric;
    try {
      metric = icl_task_class(kind).metric;
    } catch (const Error& e) {
      throw Error(std::string("task.mixture: ") + e.what());
    }
    // A mixture is scored by one normalised squared error; the Boolean classes are scored by accuracy.
    XF_CHECK(metric == IclMetric::squared_error, "task.mixture: '", kind,
             "' is a Boolean (accuracy-scored) class; mixtures take regression classes only");
    for (const auto& c : out) XF_CHECK(c.kind != kind, "task.mixture: class '", kind, "' appears twice");
    char* end = nullptr;
    const double v = std::strtod(w.c_str(), &end);
    XF_CHECK(!w.empty() && end == w.c_str() + w.size() && std::isfinite(v) && v > 0, "task.mixture: weight '", w,
             "' of class '", kind, "' must be a finite number > 0");
    out.push_back({kind, v});
    total += v;
  }
  XF_CHECK(!out.empty(), "task.mixture: no classes in '", spec, "'");
  for (auto& c : out) c.weight /= total;
  return out;
}

IclBatch sample_icl_mixture(const IclTaskParams& p, int64_t batch, int64_t n_points, int64_t d, int64_t active_dims,
                            Generator& gen, std::vector<int64_t>* component_of_prompt) {
  const std::vector<IclMixtureComponent> comps = parse_icl_mixture(p.mixture);
  XF_CHECK(batch > 0 && n_points > 0 && d > 0, "sample_icl_mixture: batch, n_points and d must be positive, got B=",
           batch, " n=", n_points, " d=", d);
  std::vector<int64_t> which(static_cast<size_t>(batch));
  for (int64_t b = 0; b < batch; ++b) {
    const double u = gen.next_uniform();
    double acc = 0;
    int64_t c = static_cast<int64_t>(comps.size()) - 1;  // rounding: the last component takes the remainder
    for (size_t i = 0; i < comps.size(); ++i) {
      acc += comps[i].weight;
      if (u < acc) {
        c = static_cast<int64_t>(i);
        break;
      }
    }
    which[static_cast<size_t>(b)] = c;
  }
  IclBatch out;
  out.xs = Tensor::empty({batch, n_points, d}, DType::f32);
  out.ys = Tensor::empty({batch, n_points}, DType::f32);
  out.w = Tensor::zeros({batch, d}, DType::f32);
  for (size_t c = 0; c < comps.size(); ++c) {
    int64_t count = 0;
    for (int64_t v : which) count += v == static_cast<int64_t>(c);
    if (count == 0) continue;
    IclTaskParams q = p;
    q.kind = comps[c].kind;
    const IclBatch part = sample_icl_task(q, count, n_points, d, active_dims, gen);
    XF_CHECK(part.w.dim() == 2 && part.w.size(1) == d, "sample_icl_mixture: class '", q.kind,
             "' returned w of an unexpected shape");
    const Tensor px = part.xs.contiguous_copy(), py = part.ys.contiguous_copy(), pw = part.w.contiguous_copy();
    int64_t r = 0;
    for (int64_t b = 0; b < batch; ++b) {
      if (which[static_cast<size_t>(b)] != static_cast<int64_t>(c)) continue;
      std::memcpy(out.xs.data<float>() + b * n_points * d, px.data<float>() + r * n_points * d,
                  sizeof(float) * static_cast<size_t>(n_points * d));
      std::memcpy(out.ys.data<float>() + b * n_points, py.data<float>() + r * n_points,
                  sizeof(float) * static_cast<size_t>(n_points));
      std::memcpy(out.w.data<float>() + b * d, pw.data<float>() + r * d, sizeof(float) * static_cast<size_t>(d));
      ++r;
    }
  }
  if (component_of_prompt) *component_of_prompt = which;
  return out;
}

}  // namespace xfmr
