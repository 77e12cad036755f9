#include "xfmr/run/icl_probe.h"

#include <algorithm>
#include <cmath>
#include <fstream>

#include "xfmr/baselines/catalog.h"
#include "xfmr/baselines/gradient_descent.h"
#include "xfmr/baselines/iterative_newton.h"
#include "xfmr/core/autograd.h"
#include "xfmr/core/check.h"
#include "xfmr/eval/error_curve.h"
#include "xfmr/io/config.h"
#include "xfmr/io/file_util.h"
#include "xfmr/ops/view.h"
#include "xfmr/report/format.h"
#include "xfmr/report/html_report.h"
#include "xfmr/report/svg_plot.h"
#include "xfmr/tasks/icl_linear.h"
#include "xfmr/train/trainer.h"

namespace xfmr {

void IclProbeOptions::validate() const {
  XF_CHECK(prompts >= 2, "icl probe: --prompts must be >= 2, got ", prompts);
  XF_CHECK(ridge >= 0 && std::isfinite(ridge), "icl probe: --ridge must be finite and >= 0, got ", ridge);
  XF_CHECK(max_gd_steps >= 1, "icl probe: --max-gd-steps must be >= 1, got ", max_gd_steps);
  XF_CHECK(max_newton >= 0, "icl probe: --max-newton must be >= 0, got ", max_newton);
}

namespace {

using json = nlohmann::json;
using Vec = std::vector<double>;

IclBatch rows(const IclBatch& b, int64_t begin, int64_t end) {
  return {contiguous(slice(b.xs, 0, begin, end)), contiguous(slice(b.ys, 0, begin, end)),
          contiguous(slice(b.w, 0, begin, end))};
}

Vec to_vec(const Tensor& t) {
  const Tensor c = contiguous(to_dtype(t.detach(), DType::f64));
  return Vec(c.data<double>(), c.data<double>() + c.numel());
}

constexpr int64_t kChunk = 256;

// The model's final predictions [P·n] and, per layer, the hidden states at the x positions [P·n·C].
struct Activations {
  Vec pred;
  std::vector<Vec> layers;
  std::vector<std::string> names;
  int64_t width = 0;
};

Activations activations(const IclModel& model, const IclBatch& prompts) {
  NoGradGuard ng;
  Activations a;
  const int64_t P = prompts.xs.size(0);
  for (int64_t b = 0; b < P; b += kChunk) {
    const Tensor zs = interleave_prompt(rows(prompts, b, std::min(P, b + kChunk)));
    const Vec p = to_vec(model.forward(zs));
    a.pred.insert(a.pred.end(), p.begin(), p.end());
    std::vector<std::string> names;
    const std::vector<Tensor> hs = model.hidden_states(zs, &names);
    if (a.layers.empty()) {
      a.layers.resize(hs.size());
      a.names = names;
    }
    for (size_t l = 0; l < hs.size(); ++l) {
      a.width = hs[l].size(2);
      const Vec h = to_vec(slice(hs[l], 1, 0, zs.size(1), 2));  // [b, n, C]
      a.layers[l].insert(a.layers[l].end(), h.begin(), h.end());
    }
  }
  return a;
}

// Ridge with a bias column: w [C + 1] minimising ‖[F 1]w − y‖² + λ‖w‖², λ = ridge · mean diag(FᵀF).
Vec fit_ridge(const Vec& F, const Vec& y, int64_t R, int64_t C, double ridge) {
  const int64_t D = C + 1;
  Vec A(static_cast<size_t>(D * D), 0.0), b(static_cast<size_t>(D), 0.0), row(static_cast<size_t>(D));
  for (int64_t r = 0; r < R; ++r) {
    for (int64_t c = 0; c < C; ++c) row[c] = F[r * C + c];
    row[C] = 1.0;
    for (int64_t i = 0; i < D; ++i) {
      b[i] += row[i] * y[r];
      for (int64_t j = 0; j <= i; ++j) A[i * D + j] += row[i] * row[j];
    }
  }
  double tr = 0;
  for (int64_t i = 0; i < D; ++i) tr += A[i * D + i];
  const double lam = ridge * tr / static_cast<double>(D) + 1e-12;
  for (int64_t i = 0; i < D; ++i) A[i * D + i] += lam;
  // Cholesky A = LLᵀ in place (lower triangle), then two triangular solves.
  for (int64_t j = 0; j < D; ++j) {
    double s = A[j * D + j];
    for (int64_t k = 0; k < j; ++k) s -= A[j * D + k] * A[j * D + k];
    XF_CHECK(s > 0, "icl probe: read-out normal equations are not positive definite (raise --ridge)");
    A[j * D + j] = std::sqrt(s);
    for (int64_t i = j + 1; i < D; ++i) {
      double t = A[i * D + j];
      for (int64_t k = 0; k < j; ++k) t -= A[i * D + k] * A[j * D + k];
      A[i * D + j] = t / A[j * D + j];
    }
  }
  Vec w = b;
  for (int64_t i = 0; i < D; ++i) {
    for (int64_t k = 0; k < i; ++k) w[i] -= A[i * D + k] * w[k];
    w[i] /= A[i * D + i];
  }
  for (int64_t i = D - 1; i >= 0; --i) {
    for (int64_t k = i + 1; k < D; ++k) w[i] -= A[k * D + i] * w[k];
    w[i] /= A[i * D + i];
  }
  return w;
}

Vec apply_ridge(const Vec& F, const Vec& w, int64_t R, int64_t C) {
  Vec out(static_cast<size_t>(R));
  for (int64_t r = 0; r < R; ++r) {
    double s = w[C];
    for (int64_t c = 0; c < C; ++c) s += F[r * C + c] * w[c];
    out[r] = s;
  }
  return out;
}

Vec error_per_k(const Vec& pred, const Vec& y, int64_t P, int64_t n, int64_t norm) {
  Vec e(static_cast<size_t>(n), 0.0);
  for (int64_t p = 0; p < P; ++p)
    for (int64_t k = 0; k < n; ++k) e[k] += (pred[p * n + k] - y[p * n + k]) * (pred[p * n + k] - y[p * n + k]);
  for (double& v : e) v /= static_cast<double>(P * norm);
  return e;
}

// Fu et al.'s similarity of errors: mean over prompts of cos(a − y, b − y) over k = 1..n−1.
double error_similarity(const Vec& a, const Vec& b, const Vec& y, int64_t P, int64_t n) {
  double total = 0;
  int64_t used = 0;
  for (int64_t p = 0; p < P; ++p) {
    double ab = 0, aa = 0, bb = 0;
    for (int64_t k = 1; k < n; ++k) {
      const double ra = a[p * n + k] - y[p * n + k], rb = b[p * n + k] - y[p * n + k];
      ab += ra * rb;
      aa += ra * ra;
      bb += rb * rb;
    }
    if (aa > 0 && bb > 0 && std::isfinite(ab)) {
      total += ab / std::sqrt(aa * bb);
      ++used;
    }
  }
  return used ? total / static_cast<double>(used) : NAN;
}

// Per k, the cosine over prompts between two prediction columns (NaN where either column is zero).
Vec prediction_cosine(const Vec& a, const Vec& b, int64_t P, int64_t n) {
  Vec c(static_cast<size_t>(n));
  for (int64_t k = 0; k < n; ++k) {
    double ab = 0, aa = 0, bb = 0;
    for (int64_t p = 0; p < P; ++p) {
      ab += a[p * n + k] * b[p * n + k];
      aa += a[p * n + k] * a[p * n + k];
      bb += b[p * n + k] * b[p * n + k];
    }
    c[k] = aa > 1e-300 && bb > 1e-300 ? ab / std::sqrt(aa * bb) : NAN;
  }
  return c;
}

json num(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }
json arr(const Vec& v) {
  json a = json::array();
  for (double x : v) a.push_back(num(x));
  return a;
}

std::vector<int64_t> gd_grid(int64_t max_steps) {
  std::vector<int64_t> g;
  for (int64_t base = 1; base <= max_steps; base *= 2) {
    g.push_back(base);
    const int64_t mid = base + base / 2;
    if (base >= 2 && mid <= max_steps && mid < 2 * base) g.push_back(mid);
  }
  std::sort(g.begin(), g.end());
  g.erase(std::unique(g.begin(), g.end()), g.end());
  return g;
}

}  // namespace

json icl_probes(const IclConfig& cfg, const IclModel& model, const IclProbeOptions& opt) {
  opt.validate();
  const IclTaskParams tp = cfg.task.params();
  const int64_t d = cfg.task.d, n = cfg.task.n_points, P = opt.prompts;
  const int64_t norm = icl_task_class(tp.kind).error_normalizer(tp, d);
  Generator gen_a(opt.seed), gen_b(opt.seed + 1);
  const IclBatch A = sample_icl_task(tp, P, n, d, d, gen_a);
  const IclBatch B = sample_icl_task(tp, P, n, d, d, gen_b);
  const Vec ya = to_vec(A.ys), yb = to_vec(B.ys);

  const Activations act_a = activations(model, A), act_b = activations(model, B);
  json out;
  out["model_kind"] = cfg.model.kind;
  out["task_kind"] = tp.kind;
  out["d"] = d;
  out["prompts"] = P;
  out["error_normalizer"] = norm;
  json k = json::array();
  for (int64_t i = 0; i < n; ++i) k.push_back(i);
  out["k"] = k;
  out["model_error"] = arr(error_per_k(act_b.pred, yb, P, n, norm));

  // (a) per-layer read-outs.
  std::vector<Vec> layer_pred;
  std::vector<std::string> names = act_b.names;
  json readout = json::object();
  for (size_t l = 0; l < act_b.layers.size(); ++l) {
    const int64_t C = act_b.width;
    const Vec w = fit_ridge(act_a.layers[l], ya, P * n, C, opt.ridge);
    layer_pred.push_back(apply_ridge(act_b.layers[l], w, P * n, C));
    readout[names[l]] = arr(error_per_k(layer_pred.back(), yb, P, n, norm));
  }
  out["layers"] = names;
  out["readout_error"] = readout;
  // The model's own output joins the matching as a last "layer".
  names.push_back("output");
  layer_pred.push_back(act_b.pred);

  // (b) GD steps and Newton iterations that best match each layer.
  const int64_t gd_tune_steps = cfg.eval.gd_steps;
  const double eta = tune_gd_step_size(gd_tune_steps, rows(A, 0, std::min<int64_t>(P, 256))).eta;
  const std::vector<int64_t> grid = gd_grid(opt.max_gd_steps);
  std::vector<Vec> gd_pred, newton_pred;
  for (int64_t t : grid) {
    GradientDescent g(t, eta);
    gd_pred.push_back(to_vec(predict_all([g](const IclContext& c, const double* x) mutable { return g(c, x); }, B)));
  }
  for (int64_t j = 0; j <= opt.max_newton; ++j) {
    IterativeNewton it(j);
    newton_pred.push_back(
        to_vec(predict_all([it](const IclContext& c, const double* x) mutable { return it(c, x); }, B)));
  }
  out["gd_eta"] = eta;
  out["gd_eta_tuned_for_steps"] = gd_tune_steps;
  out["gd_steps_grid"] = grid;
  json ng = json::array();
  for (int64_t j = 0; j <= opt.max_newton; ++j) ng.push_back(j);
  out["newton_grid"] = ng;
  json gd_err = json::object(), nt_err = json::object();
  for (size_t i = 0; i < grid.size(); ++i) gd_err[std::to_string(grid[i])] = arr(error_per_k(gd_pred[i], yb, P, n, norm));
  for (int64_t j = 0; j <= opt.max_newton; ++j)
    nt_err[std::to_string(j)] = arr(error_per_k(newton_pred[static_cast<size_t>(j)], yb, P, n, norm));
  out["gd_error"] = gd_err;
  out["newton_error"] = nt_err;
  json match = json::array();
  for (size_t l = 0; l < names.size(); ++l) {
    Vec sg, sn;
    for (const Vec& g : gd_pred) sg.push_back(error_similarity(layer_pred[l], g, yb, P, n));
    for (const Vec& g : newton_pred) sn.push_back(error_similarity(layer_pred[l], g, yb, P, n));
    auto best = [](const Vec& s) {
      size_t b = 0;
      for (size_t i = 1; i < s.size(); ++i)
        if (std::isfinite(s[i]) && (!std::isfinite(s[b]) || s[i] > s[b])) b = i;
      return b;
    };
    const size_t bg = best(sg), bn = best(sn);
    match.push_back({{"layer", names[l]},
                     {"best_gd_steps", grid[bg]},
                     {"gd_similarity", num(sg[bg])},
                     {"best_newton_iters", static_cast<int64_t>(bn)},
                     {"newton_similarity", num(sn[bn])},
                     {"gd_similarity_curve", arr(sg)},
                     {"newton_similarity_curve", arr(sn)}});
  }
  out["match"] = match;

  // (c) cosine between the model's predictions and each baseline's, per k.
  IclBaselineOptions bo;
  bo.noise_std = cfg.task.noise_std;
  bo.gd_steps = cfg.eval.gd_steps;
  bo.gd_eta = eta;
  bo.newton_iters = cfg.eval.newton_iters;
  json cos = json::object();
  json cos_names = json::array();
  for (const char* b : {"least_squares", "ridge", "gd", "newton", "knn3", "averaging"}) {
    const std::string label = icl_baseline_label(b, bo);
    if (cos.contains(label)) continue;
    cos[label] = arr(prediction_cosine(act_b.pred, to_vec(predict_all(make_icl_baseline(b, bo), B)), P, n));
    cos_names.push_back(label);
  }
  out["prediction_cosine"] = cos;
  out["prediction_cosine_methods"] = cos_names;
  out["notes"] = {
      "prompts A (fit) and B (evaluation): " + std::to_string(P) + " each, seeds " + std::to_string(opt.seed) +
          " and " + std::to_string(opt.seed + 1) + " (not the training or evaluation seeds)",
      "read-out: ridge (lambda = " + report::format_number(opt.ridge) +
          " x mean diagonal of F^T F) with a bias, all k pooled, fitted on A and scored on B; error = (y_hat - y)^2 / " +
          std::to_string(norm),
      "matching: Fu et al. 2023's similarity of errors, the mean over prompts of cos(r_layer, r_alg) with r = "
      "y_hat - y over k = 1..n-1; GD step size " + report::format_number(eta) + " (tuned for " +
          std::to_string(gd_tune_steps) + " steps on prompts A)",
      "prediction cosine: per k, cos between the model's and the baseline's prediction vectors over prompts B"};
  return out;
}

namespace {

std::string figure(const std::string& svg) { return "<figure>" + svg + "</figure>\n"; }

}  // namespace

std::string render_probe_section(const json& pr) {
  using report::format_number;
  using report::xml_escape;
  std::string o = "<section id=\"probes\">\n<h2>Probes</h2>\n<p class=\"note\">";
  for (const auto& n : pr.value("notes", json::array())) o += xml_escape(n.get<std::string>()) + ". ";
  o += "</p>\n<div class=\"charts\">\n";
  Vec kx;
  for (const auto& v : pr["k"]) kx.push_back(v.get<double>());
  auto series_of = [&](const std::string& name, const json& ys) {
    report::Series s;
    s.name = name;
    s.x = kx;
    for (const auto& v : ys) s.y.push_back(v.is_null() ? NAN : v.get<double>());
    return s;
  };
  {
    report::LineChart c;
    c.title = "Linear read-out of each layer: error vs k";
    c.x_label = "in-context examples k";
    c.y_label = "error";
    c.y_include_zero = true;
    for (const auto& l : pr["layers"]) c.series.push_back(series_of(l.get<std::string>(), pr["readout_error"][l.get<std::string>()]));
    c.series.push_back(series_of("model output", pr["model_error"]));
    o += figure(report::render_svg(c));
  }
  {
    report::LineChart c;
    c.title = "Best-matching GD steps and Newton iterations per layer";
    c.x_label = "layer index (0 = embedding; last = model output)";
    c.y_label = "steps / iterations";
    c.y_scale = report::Scale::log10;
    report::Series g{"GD steps", {}, {}, {}, {}, true}, nt{"Newton iterations (+1)", {}, {}, {}, {}, true};
    double i = 0;
    for (const auto& m : pr["match"]) {
      g.x.push_back(i);
      nt.x.push_back(i);
      g.y.push_back(m["best_gd_steps"].get<double>());
      nt.y.push_back(m["best_newton_iters"].get<double>() + 1);
      i += 1;
    }
    c.series = {g, nt};
    o += figure(report::render_svg(c));
  }
  {
    report::LineChart c;
    c.title = "Cosine of the model's predictions with each baseline's";
    c.x_label = "in-context examples k";
    c.y_label = "cosine";
    for (const auto& m : pr["prediction_cosine_methods"])
      c.series.push_back(series_of(m.get<std::string>(), pr["prediction_cosine"][m.get<std::string>()]));
    o += figure(report::render_svg(c));
  }
  o += "</div>\n<table>\n<caption>Per layer: best-matching algorithm step counts (Fu et al.'s similarity of "
       "errors in brackets)</caption>\n<thead><tr><th>layer</th><th>GD steps</th><th>Newton iterations</th>"
       "<th>read-out error at k = d</th></tr></thead>\n<tbody>\n";
  const size_t kd = std::min<size_t>(static_cast<size_t>(pr.value("d", 0)), kx.empty() ? 0 : kx.size() - 1);
  for (const auto& m : pr["match"]) {
    const std::string name = m["layer"].get<std::string>();
    const json& curve = name == "output" ? pr["model_error"] : pr["readout_error"][name];
    auto f = [&](const json& v) { return v.is_null() ? std::string("nan") : format_number(v.get<double>()); };
    o += "<tr><td>" + xml_escape(name) + "</td><td class=\"num\">" + std::to_string(m["best_gd_steps"].get<int64_t>()) +
         " (" + f(m["gd_similarity"]) + ")</td><td class=\"num\">" +
         std::to_string(m["best_newton_iters"].get<int64_t>()) + " (" + f(m["newton_similarity"]) +
         ")</td><td class=\"num\">" + f(curve[kd]) + "</td></tr>\n";
  }
  return o + "</tbody>\n</table>\n</section>\n";
}

json probe_icl_run(const std::string& run_dir, const IclProbeOptions& opt, const std::string& command) {
  IclConfig cfg;
  config::load_config(cfg, run_dir + "/config.json");
  cfg.validate();
  const std::vector<int64_t> steps = list_checkpoints(run_dir);
  XF_CHECK(!steps.empty(), "icl probe: run folder '", run_dir, "' has no checkpoint (train it first: xfmr icl --out ",
           run_dir, ")");
  Generator init(cfg.seed);
  IclModel model(cfg, init);
  load_model(model.module(), checkpoint_path(run_dir, steps.back()));
  json pr = icl_probes(cfg, model, opt);
  pr["command"] = command;
  pr["checkpoint_step"] = steps.back();
  io::write_file_atomic(run_dir + "/probes.json", pr.dump(1));
  // results.json (when the run finished) gets the summary and the report section.
  const std::string res_path = run_dir + "/results.json";
  std::ifstream f(res_path);
  if (f) {
    json res = json::parse(f, nullptr, false);
    if (!res.is_discarded()) {
      json summary = json::array();
      for (const auto& m : pr["match"])
        summary.push_back({{"layer", m["layer"]}, {"best_gd_steps", m["best_gd_steps"]},
                           {"best_newton_iters", m["best_newton_iters"]}});
      res["probes"] = summary;
      json sections = json::array();
      for (const auto& s : res.value("sections", json::array()))
        if (s.value("id", "") != "probes") sections.push_back(s);
      sections.push_back({{"id", "probes"}, {"html", render_probe_section(pr)}});
      res["sections"] = sections;
      io::write_file_atomic(res_path, res.dump(1));
      report::write_report(run_dir);
    }
  }
  return pr;
}

}  // namespace xfmr
