// DIR/report.html of an ICL experiment (run/icl_experiment.h): the claim, the checks, and per run group one table
// and one figure. Self-contained HTML (inline CSS and SVG), like the run reports (report/html_report.h).
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "xfmr/report/format.h"
#include "xfmr/report/svg_plot.h"
#include "xfmr/run/icl_experiment.h"

namespace xfmr {

using Json = nlohmann::json;

std::string render_icl_experiment_html(const nlohmann::json& s) {
  using report::xml_escape;
  using report::format_number;
  std::string h = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" + xml_escape(s.value("title", "")) +
                  "</title>\n<style>body{font-family:sans-serif;max-width:1000px;margin:2em auto;padding:0 1em}"
                  "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:2px 8px;"
                  "text-align:right}th:first-child,td:first-child{text-align:left}.pass{color:#070}.fail{color:#b00}"
                  "code{background:#f4f4f4;padding:1px 3px}</style></head><body>\n";
  h += "<h1>" + xml_escape(s.value("title", "")) + "</h1>\n";
  h += "<p><b>Paper:</b> " + xml_escape(s.value("paper", "")) + "</p>\n";
  h += "<p><b>Claim:</b> " + xml_escape(s.value("claim", "")) + "</p>\n";
  h += "<p><b>Preset:</b> " + xml_escape(s.value("preset", "")) + " &nbsp; <b>Command:</b> <code>" +
       xml_escape(s.value("command", "")) + "</code></p>\n";
  if (!s["checks"].empty()) {
    h += "<h2>Checks</h2>\n<table><tr><th>claim</th><th>run</th><th>measured</th><th>bound</th><th>result</th></tr>\n";
    for (const Json& c : s["checks"]) {
      if (c.contains("skipped")) {
        h += "<tr><td>" + xml_escape(c["what"].get<std::string>()) + "</td><td>" + xml_escape(c["run"].get<std::string>()) +
             "</td><td></td><td></td><td>not run: " + xml_escape(c["skipped"].get<std::string>()) + "</td></tr>\n";
        continue;
      }
      const std::string val = c["value"].is_null() ? "n/a" : format_number(c["value"].get<double>());
      std::string bound = c.contains("max") ? "&le; " + format_number(c["max"].get<double>())
                                            : format_number(c["factor"].get<double>()) + "&times; &le; " +
                                                  xml_escape(c["than_run"].get<std::string>() + " " +
                                                             c["than"].get<std::string>()) + " (" +
                                                  (c["than_value"].is_null() ? "n/a" : format_number(c["than_value"].get<double>())) + ")";
      const bool pass = c["pass"].get<bool>();
      h += "<tr><td>" + xml_escape(c["what"].get<std::string>()) + "</td><td>" + xml_escape(c["run"].get<std::string>()) +
           " " + xml_escape(c["method"].get<std::string>()) + " k=" + std::to_string(c["k"].get<int64_t>()) + "</td><td>" +
           val + "</td><td>" + bound + "</td><td class=\"" + (pass ? "pass\">agrees" : "fail\">does not agree") +
           "</td></tr>\n";
    }
    h += "</table>\n";
  }
  std::vector<std::string> groups;
  for (const Json& r : s["runs"])
    if (std::find(groups.begin(), groups.end(), r["group"].get<std::string>()) == groups.end())
      groups.push_back(r["group"].get<std::string>());
  const std::vector<std::string> only = s.value("report_methods", std::vector<std::string>{});
  auto shown = [&](const std::string& m) { return only.empty() || std::find(only.begin(), only.end(), m) != only.end(); };
  for (const std::string& g : groups) {
    h += "<h2>" + xml_escape(g) + "</h2>\n";
    report::LineChart chart;
    chart.title = g + ": error vs in-context examples";
    chart.x_label = "in-context examples k";
    chart.y_label = "normalised squared error";
    chart.y_scale = report::Scale::log10;
    std::vector<int64_t> ks = s.value("report_k", std::vector<int64_t>{});
    int64_t max_k = 0;
    for (const Json& r : s["runs"])
      if (r["group"] == g && r.contains("k")) max_k = std::max<int64_t>(max_k, static_cast<int64_t>(r["k"].size()) - 1);
    if (ks.empty()) {
      const int64_t d = s["runs"][0].value("d", int64_t{1});
      for (int64_t k : {int64_t{0}, d / 2, d, 2 * d, max_k})
        if (k <= max_k && std::find(ks.begin(), ks.end(), k) == ks.end()) ks.push_back(k);
    }
    h += "<table><tr><th>run / method</th>";
    for (int64_t k : ks) h += "<th>k=" + std::to_string(k) + "</th>";
    h += "</tr>\n";
    for (const Json& r : s["runs"]) {
      if (r["group"] != g || !r.contains("methods")) continue;
      const std::string rn = r["name"].get<std::string>();
      auto row = [&](const std::string& label, const std::string& method) {
        h += "<tr><td>" + xml_escape(label) + "</td>";
        for (int64_t k : ks) {
          const double v = icl_experiment_curve_at(r, method, k);
          h += "<td>" + (std::isfinite(v) ? format_number(v) : std::string("")) + "</td>";
        }
        h += "</tr>\n";
      };
      std::vector<std::string> methods;
      for (const Json& m : r["methods"]) methods.push_back(m.get<std::string>());
      if (r.contains("gap"))
        for (const auto& it : r["gap"].items()) methods.push_back("gap:" + it.key());
      for (const std::string& m : methods) {
        if (!shown(m)) continue;
        row(rn + " / " + m + (m.rfind("gap:", 0) == 0 ? " (model vs baseline)" : ""), m);
        report::Series ser;
        ser.name = rn + ": " + m;
        const Json& c = m.rfind("gap:", 0) == 0 ? r["gap"][m.substr(4)]["mean"] : r["error"][m];
        for (size_t k = 0; k < c.size(); ++k) {
          ser.x.push_back(static_cast<double>(k));
          ser.y.push_back(c[k].is_null() ? NAN : c[k].get<double>());
        }
        chart.series.push_back(std::move(ser));
      }
    }
    h += "</table>\n" + report::render_svg(chart) + "\n";
  }
  h += "<h2>Runs</h2>\n<ul>\n";
  for (const Json& r : s["runs"]) {
    const std::string f = r["folder"].get<std::string>();
    h += "<li><a href=\"" + xml_escape(f) + "/report.html\">" + xml_escape(r["name"].get<std::string>()) + "</a>: " +
         xml_escape(r.value("train_task_kind", std::string())) + " &rarr; evaluated on " +
         xml_escape(r.value("task_kind", std::string())) + (r.value("reused", false) ? " (reused)" : "") + "</li>\n";
  }
  h += "</ul>\n</body></html>\n";
  return h;
}

}  // namespace xfmr
