#include "xfmr/report/html_report.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "xfmr/core/check.h"
#include "xfmr/io/file_util.h"
#include "xfmr/report/format.h"
#include "xfmr/report/svg_plot.h"

namespace xfmr::report {
namespace {

using nlohmann::json;
using Curves = std::map<std::string, std::vector<double>>;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// ---- Reading the results object
// -------------------------------------------------------------------------------

std::vector<double> numbers(const json& j, const std::string& where) {
  XF_CHECK(j.is_array(), "report: '", where, "' must be an array of numbers, got ", j.type_name());
  std::vector<double> out;
  out.reserve(j.size());
  for (size_t i = 0; i < j.size(); ++i) {
    const json& v = j[i];
    XF_CHECK(v.is_number() || v.is_null(), "report: '", where, "'[", i, "] must be a number or null, got ",
             v.type_name());
    out.push_back(v.is_null() ? kNaN : v.get<double>());
  }
  return out;
}

std::string text_field(const json& r, const char* key, const char* fallback) {
  if (!r.contains(key)) return fallback;
  XF_CHECK(r[key].is_string(), "report: '", key, "' must be a string, got ", r[key].type_name());
  return r[key].get<std::string>();
}

// A {method: [numbers]} object whose arrays all have `n` entries.
Curves curves(const json& r, const char* key, size_t n) {
  Curves out;
  if (!r.contains(key)) return out;
  XF_CHECK(r[key].is_object(), "report: '", key, "' must be an object {method: [numbers]}, got ",
           r[key].type_name());
  for (const auto& [name, arr] : r[key].items()) {
    const std::string where = std::string(key) + "." + name;
    out[name] = numbers(arr, where);
    XF_CHECK(out[name].size() == n, "report: '", where, "' has ", out[name].size(), " values but 'k' has ",
             n);
  }
  return out;
}

struct Results {
  std::string title, command;
  std::optional<long long> d;
  std::vector<double> k;
  std::vector<std::string> methods;  // display order
  Curves error, lo, hi;
  bool accuracy = false;  // "metric": "accuracy": the curves are accuracies (higher is better)
  std::vector<double> steps;
  std::vector<std::pair<std::string, std::vector<double>>> train;  // loss first
  json summary, config, timing;
  std::vector<std::string> notes;
};

// "train": {"step": [...], "loss": [...], other curves...}: every array as long as "step", loss first.
void parse_train(const json& t, Results& out) {
  XF_CHECK(t.is_object(), "report: 'train' must be an object {\"step\": [...], \"loss\": [...]}");
  XF_CHECK(t.contains("step"), "report: 'train' has no 'step' array");
  out.steps = numbers(t["step"], "train.step");
  for (const auto& [name, arr] : t.items()) {
    if (name == "step" || !arr.is_array()) continue;
    std::vector<double> v = numbers(arr, "train." + name);
    XF_CHECK(v.size() == out.steps.size(), "report: 'train.", name, "' has ", v.size(),
             " values but 'train.step' has ", out.steps.size());
    auto entry = std::make_pair(name, std::move(v));
    if (name == "loss") {
      out.train.insert(out.train.begin(), std::move(entry));
    } else {
      out.train.push_back(std::move(entry));
    }
  }
}

Results parse_results(const json& r) {
  XF_CHECK(r.is_object(), "report: results must be a JSON object, got ", r.type_name());
  Results out;
  out.title = text_field(r, "title", "xfmr run");
  out.command = text_field(r, "command", "");
  if (r.contains("d")) {
    XF_CHECK(r["d"].is_number_integer(), "report: 'd' must be an integer, got ", r["d"].dump());
    out.d = r["d"].get<long long>();
  }
  if (r.contains("error")) {
    XF_CHECK(r.contains("k"), "report: 'error' needs 'k' (the x values of the error curves)");
  }
  if (r.contains("k")) out.k = numbers(r["k"], "k");
  out.error = curves(r, "error", out.k.size());
  out.lo = curves(r, "error_lo", out.k.size());
  out.hi = curves(r, "error_hi", out.k.size());
  out.accuracy = text_field(r, "metric", "error") == "accuracy";
  if (r.contains("methods")) {
    XF_CHECK(r["methods"].is_array(), "report: 'methods' must be an array of strings");
    for (const json& m : r["methods"]) {
      XF_CHECK(m.is_string(), "report: 'methods' must be an array of strings, found ", m.dump());
      out.methods.push_back(m.get<std::string>());
    }
  }
  // Methods missing from "methods" still appear, after the listed ones.
  for (const auto& [name, _] : out.error) {
    if (std::find(out.methods.begin(), out.methods.end(), name) == out.methods.end())
      out.methods.push_back(name);
  }
  if (r.contains("train")) parse_train(r["train"], out);
  if (r.contains("summary")) {
    XF_CHECK(r["summary"].is_array(), "report: 'summary' must be an array of rows {\"k\": ..., method: ...}");
    for (const json& row : r["summary"]) {
      XF_CHECK(row.is_object(), "report: 'summary' rows must be objects, found ", row.type_name());
    }
    out.summary = r["summary"];
  }
  for (const char* key : {"config", "timing"}) {
    if (!r.contains(key)) continue;
    XF_CHECK(r[key].is_object(), "report: '", key, "' must be an object, got ", r[key].type_name());
  }
  out.config = r.value("config", json::object());
  out.timing = r.value("timing", json::object());
  if (r.contains("notes")) {
    XF_CHECK(r["notes"].is_array(), "report: 'notes' must be an array of strings");
    for (const json& n : r["notes"]) out.notes.push_back(n.is_string() ? n.get<std::string>() : n.dump());
  }
  return out;
}

// ---- Sections
// -------------------------------------------------------------------------------------------------

std::string figure(const std::string& svg) {
  return "<figure>" + svg + "</figure>\n";
}

std::string error_plots(const Results& r) {
  if (r.error.empty()) return "";
  std::vector<Series> series;
  for (const std::string& m : r.methods) {
    if (!r.error.count(m)) continue;
    Series s{m, r.k, r.error.at(m), {}, {}, true};
    if (r.lo.count(m) && r.hi.count(m)) {
      s.lo = r.lo.at(m);
      s.hi = r.hi.at(m);
    }
    series.push_back(std::move(s));
  }
  LineChart lin{"Error vs in-context examples",
                "k (in-context examples)",
                "error",
                Scale::linear,
                true,
                560,
                380,
                series,
                {}};
  if (r.d) lin.vlines.push_back({static_cast<double>(*r.d), "k = d"});
  if (r.accuracy) {
    lin.title = "Accuracy vs in-context examples";
    lin.y_label = "accuracy";
    std::string o = "<section id=\"error\">\n<h2>Accuracy vs number of in-context examples</h2>\n";
    o += "<p class=\"note\">Mean accuracy of sign(prediction) on held-out prompts; shaded bands show error_lo "
         "to error_hi.</p>\n<div class=\"charts\">\n" + figure(render_svg(lin)) + "</div>\n</section>\n";
    return o;
  }
  LineChart log = lin;
  log.title = "Error vs in-context examples (log scale)";
  log.y_scale = Scale::log10;
  std::string o = "<section id=\"error\">\n<h2>Error vs number of in-context examples</h2>\n";
  o += "<p class=\"note\">Mean error of each method on held-out prompts; shaded bands show error_lo to "
       "error_hi.";
  if (r.d) o += " The dashed line marks k = d: as many examples as input dimensions.";
  o += "</p>\n<div class=\"charts\">\n" + figure(render_svg(lin)) + figure(render_svg(log)) +
       "</div>\n</section>\n";
  return o;
}

std::string train_plot(const Results& r) {
  if (r.train.empty()) return "";
  LineChart c{"Training loss", "step", "loss", Scale::log10, false, 560, 380, {}, {}};
  for (const auto& [name, v] : r.train) c.series.push_back({name, r.steps, v, {}, {}, false});
  return "<section id=\"train\">\n<h2>Training</h2>\n<div class=\"charts\">\n" + figure(render_svg(c)) +
         "</div>\n</section>\n";
}

// Value of `m` at position i of the error curves, with its band as a tooltip when there is one.
std::string cell(const Results& r, const std::string& m, double v, size_t i, bool best) {
  std::string attrs = best ? " class=\"num best\"" : " class=\"num\"";
  if (i != SIZE_MAX && r.lo.count(m) && r.hi.count(m)) {
    attrs += " title=\"band " + format_number(r.lo.at(m)[i]) + " to " + format_number(r.hi.at(m)[i]) + "\"";
  }
  return "<td" + attrs + ">" + (std::isfinite(v) ? format_number(v) : "&#8212;") + "</td>";
}

// The rows of the summary table: (k, index into r.k or SIZE_MAX, value per column).
struct Row {
  double k;
  size_t index;
  std::vector<double> values;
};

std::vector<Row> summary_rows(const Results& r, std::vector<std::string>& columns) {
  std::vector<Row> rows;
  if (!r.summary.empty()) {
    columns = r.methods;
    for (const json& row : r.summary) {
      for (const auto& [key, _] : row.items()) {
        if (key != "k" && std::find(columns.begin(), columns.end(), key) == columns.end())
          columns.push_back(key);
      }
    }
    for (size_t i = 0; i < r.summary.size(); ++i) {
      const json& row = r.summary[i];
      XF_CHECK(row.contains("k") && row["k"].is_number(), "report: 'summary'[", i, "] needs a numeric 'k'");
      Row out{row["k"].get<double>(), SIZE_MAX, {}};
      for (const std::string& c : columns) {
        const json v = row.value(c, json());
        XF_CHECK(v.is_number() || v.is_null(), "report: 'summary'[", i, "].", c, " must be a number or null");
        out.values.push_back(v.is_null() ? kNaN : v.get<double>());
      }
      rows.push_back(std::move(out));
    }
    return rows;
  }
  columns = r.methods;
  if (r.k.empty() || r.error.empty()) return rows;
  std::vector<double> wanted{0};
  if (r.d) {
    wanted.push_back(static_cast<double>(*r.d / 2));
    wanted.push_back(static_cast<double>(*r.d));
    wanted.push_back(static_cast<double>(2 * *r.d));
  }
  wanted.push_back(r.k.back());
  std::vector<size_t> picked;
  for (const double w : wanted) {
    for (size_t i = 0; i < r.k.size(); ++i) {
      if (r.k[i] == w && std::find(picked.begin(), picked.end(), i) == picked.end()) picked.push_back(i);
    }
  }
  std::sort(picked.begin(), picked.end(), [&](size_t a, size_t b) { return r.k[a] < r.k[b]; });
  for (const size_t i : picked) {
    Row row{r.k[i], i, {}};
    for (const std::string& m : columns) row.values.push_back(r.error.count(m) ? r.error.at(m)[i] : kNaN);
    rows.push_back(std::move(row));
  }
  return rows;
}

std::string summary_table(const Results& r) {
  std::vector<std::string> columns;
  const std::vector<Row> rows = summary_rows(r, columns);
  if (rows.empty()) return "";
  std::string o = "<section id=\"summary\">\n<h2>Summary</h2>\n<table class=\"summary\">\n";
  o += r.accuracy ? "<caption>Accuracy at selected k; the highest accuracy in each row is "
                    "highlighted.</caption>\n<thead><tr><th>k</th>"
                  : "<caption>Error at selected k; the lowest error in each row is "
                    "highlighted.</caption>\n<thead><tr><th>k</th>";
  for (const std::string& c : columns) o += "<th>" + xml_escape(c) + "</th>";
  o += "</tr></thead>\n<tbody>\n";
  for (const Row& row : rows) {
    double best = std::numeric_limits<double>::infinity();
    for (const double v : row.values) {
      if (std::isfinite(v)) best = r.accuracy ? (std::isfinite(best) ? std::max(best, v) : v) : std::min(best, v);
    }
    // Ties are judged at the shown precision: two cells that both read "1.00" are both best.
    const std::string best_text = std::isfinite(best) ? format_number(best) : "";
    o += "<tr><th scope=\"row\">" + format_number(row.k, 6, true) + "</th>";
    for (size_t j = 0; j < columns.size(); ++j) {
      const double v = row.values[j];
      o += cell(r, columns[j], v, row.index, std::isfinite(v) && format_number(v) == best_text);
    }
    o += "</tr>\n";
  }
  return o + "</tbody>\n</table>\n</section>\n";
}

// Flattens nested objects into dotted keys; arrays of objects are indexed ("layers.0.width"), other arrays
// and scalars are shown as compact JSON, strings verbatim. `numbers_sig` > 0 rounds floats to that many
// digits.
void flatten(const json& j, const std::string& prefix, int numbers_sig,
             std::vector<std::pair<std::string, std::string>>& out) {
  const auto key = [&](const std::string& k) { return prefix.empty() ? k : prefix + "." + k; };
  if (j.is_object() && !j.empty()) {
    for (const auto& [k, v] : j.items()) flatten(v, key(k), numbers_sig, out);
    return;
  }
  const bool objects = j.is_array() && !j.empty() &&
                       std::all_of(j.begin(), j.end(), [](const json& e) { return e.is_object(); });
  if (objects) {
    for (size_t i = 0; i < j.size(); ++i) flatten(j[i], key(std::to_string(i)), numbers_sig, out);
    return;
  }
  std::string v;
  if (j.is_string()) {
    v = j.get<std::string>();
  } else if (j.is_number_float() && numbers_sig > 0) {
    v = format_number(j.get<double>(), numbers_sig);
  } else {
    v = j.dump();
  }
  out.emplace_back(prefix, std::move(v));
}

std::string kv_table(const char* id, const char* heading, const json& obj, int numbers_sig) {
  if (obj.empty()) return "";
  std::vector<std::pair<std::string, std::string>> rows;
  flatten(obj, "", numbers_sig, rows);
  std::string o =
      std::string("<section id=\"") + id + "\">\n<h2>" + heading + "</h2>\n<table class=\"kv\">\n";
  for (const auto& [k, v] : rows)
    o += "<tr><th scope=\"row\">" + xml_escape(k) + "</th><td>" + xml_escape(v) + "</td></tr>\n";
  return o + "</table>\n</section>\n";
}

std::string notes_list(const Results& r) {
  if (r.notes.empty()) return "";
  std::string o = "<section id=\"notes\">\n<h2>Notes</h2>\n<ul>\n";
  for (const std::string& n : r.notes) o += "<li>" + xml_escape(n) + "</li>\n";
  return o + "</ul>\n</section>\n";
}

// Plain CSS, system fonts only: the page must render the same offline and from a file:// URL.
constexpr const char* kStyle = R"(
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", "DejaVu Sans", Arial, sans-serif; color: #1d1d1f;
       background: #fafafa; margin: 0; line-height: 1.45; }
main { max-width: 1160px; margin: 0 auto; padding: 24px 20px 40px; }
h1 { font-size: 1.6rem; margin: 0 0 6px; }
h2 { font-size: 1.15rem; margin: 28px 0 8px; padding-bottom: 4px; border-bottom: 1px solid #ddd; }
.meta { color: #555; margin: 0 0 10px; }
pre.command { background: #f0f0f0; border: 1px solid #ddd; border-radius: 4px; padding: 8px 10px; margin: 0;
              white-space: pre-wrap; word-break: break-all; font-size: 0.9rem; }
code, pre { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; }
.note { color: #555; font-size: 0.92rem; margin: 4px 0 10px; }
.charts { display: flex; flex-wrap: wrap; gap: 16px; }
figure { margin: 0; background: #fff; border: 1px solid #e2e2e2; border-radius: 4px; }
figure svg { display: block; max-width: 100%; height: auto; }
table { border-collapse: collapse; background: #fff; font-size: 0.92rem; }
caption { caption-side: top; text-align: left; color: #555; padding-bottom: 6px; }
th, td { border: 1px solid #ddd; padding: 4px 10px; text-align: left; }
thead th { background: #f0f0f0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.best { background: #d9efe3; font-weight: 700; }
table.kv th { font-weight: 500; font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace;
              font-size: 0.88rem; background: #f7f7f7; }
table.kv td { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 0.88rem;
              word-break: break-all; }
footer { color: #888; font-size: 0.85rem; margin-top: 32px; }
)";

}  // namespace

std::string render_report_html(const json& results) {
  const Results r = parse_results(results);
  std::string o;
  o.reserve(1 << 16);
  // XHTML-compatible markup (every element closed, no named entities beyond XML's) so tests can parse it as
  // XML.
  o += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n";
  o += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n";
  o += "<title>" + xml_escape(r.title) + "</title>\n<style>" + kStyle + "</style>\n</head>\n<body>\n<main>\n";
  o += "<h1>" + xml_escape(r.title) + "</h1>\n";
  std::string meta;
  if (r.d) meta += "d = " + std::to_string(*r.d);
  if (!r.k.empty()) {
    meta += std::string(meta.empty() ? "" : " &#183; ") + "k = " + format_number(r.k.front(), 6, true) +
            " to " + format_number(r.k.back(), 6, true);
  }
  if (!r.methods.empty())
    meta += std::string(meta.empty() ? "" : " &#183; ") + std::to_string(r.methods.size()) + " methods";
  if (!meta.empty()) o += "<p class=\"meta\">" + meta + "</p>\n";
  if (!r.command.empty()) o += "<pre class=\"command\"><code>" + xml_escape(r.command) + "</code></pre>\n";
  o += error_plots(r);
  o += summary_table(r);
  o += train_plot(r);
  // Pre-rendered sections from other producers (e.g. `xfmr icl probe`), in order.
  if (results.contains("sections")) {
    const json& secs = results["sections"];
    XF_CHECK(secs.is_array(), "results.json: \"sections\" must be an array");
    for (const json& s : secs) {
      XF_CHECK(s.is_object() && s.contains("html") && s["html"].is_string(),
               "results.json: every entry of \"sections\" must be an object with a string \"html\"");
      o += s["html"].get<std::string>();
    }
  }
  o += notes_list(r);
  o += kv_table("timing", "Timing", r.timing, 3);
  o += kv_table("config", "Configuration", r.config, 0);
  o += "<footer>Written by xfmr from results.json.</footer>\n</main>\n</body>\n</html>\n";
  return o;
}

void write_report(const std::string& run_dir) {
  const std::string in = run_dir + "/results.json";
  const std::string text = io::read_file(in);  // its Error already names the file
  json results;
  try {
    results = json::parse(text);
  } catch (const json::exception& e) {
    std::string why = e.what();
    std::replace(why.begin(), why.end(), '\n', ' ');
    throw Error("report: cannot parse '" + in + "': " + why);
  }
  std::string html;
  try {
    html = render_report_html(results);
  } catch (const Error& e) {
    throw Error("report: invalid '" + in + "': " + e.what());
  }
  io::write_file_atomic(run_dir + "/report.html", html);
}

}  // namespace xfmr::report
