#include "xfmr/report/html_report.h"

#include <string>

#include <gtest/gtest.h>

#include "report/report_fixtures.h"
#include "xfmr/core/check.h"

namespace xfmr::report {
namespace {

using nlohmann::json;

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
  return n;
}

// The <tr> of the summary table whose row header is k.
std::string summary_row(const std::string& html, const std::string& k) {
  const size_t start = html.find("<table class=\"summary\">");
  const std::string table = html.substr(start, html.find("</table>", start) - start);
  const std::string head = "<tr><th scope=\"row\">" + k + "</th>";
  const size_t at = table.find(head);
  if (at == std::string::npos) return "";
  const size_t cells = at + head.size();
  return table.substr(cells, table.find("</tr>", cells) - cells);
}

std::string error_of(const json& results) {
  try {
    render_report_html(results);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(ReportHtml, ContainsPlotsTablesAndCommand) {
  const std::string html = render_report_html(test::synthetic_results());
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_EQ(count(html, "<svg "), 3u);  // linear error, log error, training loss
  EXPECT_NE(html.find("<title>Error vs in-context examples (log scale)</title>"), std::string::npos);
  EXPECT_NE(html.find("<title>Training loss</title>"), std::string::npos);
  EXPECT_EQ(count(html, "class=\"band\""), 10u);  // 5 methods x 2 error plots
  EXPECT_NE(html.find("<h1>In-context linear regression (d = 5)</h1>"), std::string::npos);
  EXPECT_NE(html.find("xfmr icl --d 5 --k-max 10 --steps 10000 --seed 7 --out runs/icl-d5"),
            std::string::npos);
  // Columns in the "methods" order, not alphabetical.
  EXPECT_NE(html.find("<th>k</th><th>transformer</th><th>least_squares</th><th>ridge</th><th>3-NN</th>"
                      "<th>averaging</th>"),
            std::string::npos);
  // Rows at k = 0, d/2 = 2, d = 5, last = 10 (2d = 10 is the last k too), with 3-digit values.
  for (const char* k : {"0", "2", "5", "10"}) EXPECT_NE(summary_row(html, k), "") << "k = " << k;
  EXPECT_EQ(summary_row(html, "1"), "");
  EXPECT_EQ(count(html, "<tr><th scope=\"row\">"), 4u + 12u + 3u);  // summary + config + timing rows
  // At k = 10 least squares (0.02) wins; at k = 5 ridge does (least squares spikes at k = d).
  EXPECT_NE(
      summary_row(html, "10").find("<td class=\"num best\" title=\"band 0.0100 to 0.0424\">0.0200</td>"),
      std::string::npos)
      << summary_row(html, "10");
  EXPECT_EQ(count(summary_row(html, "10"), "best"), 1u);
  EXPECT_NE(summary_row(html, "5").find("best\" title=\"band 0.181 to 0.276\">0.228</td>"), std::string::npos)
      << summary_row(html, "5");
  // Flattened config with dotted keys; timing rounded to 3 digits; notes.
  EXPECT_NE(html.find("<th scope=\"row\">model.n_layer</th><td>4</td>"), std::string::npos);
  EXPECT_NE(html.find("<th scope=\"row\">train.lr</th><td>0.0003</td>"), std::string::npos);
  EXPECT_NE(html.find("<th scope=\"row\">task.name</th><td>linear_regression</td>"), std::string::npos);
  EXPECT_NE(html.find("<th scope=\"row\">train_seconds</th><td>182</td>"), std::string::npos);
  EXPECT_NE(html.find("<th scope=\"row\">eval_seconds</th><td>3.14</td>"), std::string::npos);
  EXPECT_NE(html.find("95% bootstrap intervals"), std::string::npos);
}

TEST(ReportHtml, SelfContainedAndWellFormedXml) {
  const std::string html = render_report_html(test::synthetic_results());
  // Nothing that could fetch anything: no scripts, links, external images, CSS imports or url() references.
  for (const char* banned :
       {"<script", "<link", "<img", "<iframe", "src=", "href=", "@import", "url(", "http://", "https://"}) {
    const std::string b = banned;
    // The SVG namespace URI is an identifier, not a fetch.
    const size_t allowed = b == "http://" ? count(html, "xmlns=\"http://www.w3.org/2000/svg\"") : 0;
    EXPECT_EQ(count(html, b), allowed) << "found " << b;
  }
  test::ScratchDir dir("html_xml");
  EXPECT_EQ(test::xml_parse_error(html, dir.path()), "");
}

TEST(ReportHtml, EscapesUserText) {
  json r = test::synthetic_results();
  r["title"] = "<b>bold</b> & co";
  r["command"] = "xfmr icl --name '<x>'";
  r["config"]["weird<key>"] = "a&b";
  r["notes"] = {"</li><script>bad()</script>"};
  r["error"]["<m>"] = r["error"]["ridge"];
  const std::string html = render_report_html(r);
  EXPECT_EQ(html.find("<b>"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("<m>"), std::string::npos);
  EXPECT_NE(html.find("&lt;b&gt;bold&lt;/b&gt; &amp; co"), std::string::npos);
  EXPECT_NE(html.find("weird&lt;key&gt;</th><td>a&amp;b"), std::string::npos);
  test::ScratchDir dir("html_escape");
  EXPECT_EQ(test::xml_parse_error(html, dir.path()), "");
}

TEST(ReportHtml, NullValuesAndExplicitSummary) {
  json r;
  r["k"] = {0, 1, 2};
  r["error"] = {{"a", {1.0, nullptr, 0.5}}, {"b", {2.0, 0.1, nullptr}}};
  r["summary"] = json::array({{{"k", 1}, {"a", 0.25}, {"b", 0.75}, {"extra", 0.125}}});
  const std::string html = render_report_html(r);
  EXPECT_EQ(count(html, "<svg "), 2u);  // no training curve
  EXPECT_EQ(html.find("id=\"train\""), std::string::npos);
  EXPECT_NE(html.find("<h1>xfmr run</h1>"), std::string::npos);
  EXPECT_NE(html.find("<th>extra</th>"), std::string::npos);
  EXPECT_NE(summary_row(html, "1").find("<td class=\"num best\">0.125</td>"), std::string::npos);
  EXPECT_EQ(summary_row(html, "0"), "");
  test::ScratchDir dir("html_null");
  EXPECT_EQ(test::xml_parse_error(html, dir.path()), "");
}

TEST(ReportHtml, ExtraTrainingCurvesFollowTheLoss) {
  json r;
  r["train"] = {{"step", {0, 10, 20}}, {"val_loss", {1.5, 0.9, 0.6}}, {"loss", {1.0, 0.5, nullptr}}};
  const std::string html = render_report_html(r);
  EXPECT_EQ(count(html, "<svg "), 1u);
  const size_t loss = html.find(">loss</text>"), val = html.find(">val_loss</text>");
  ASSERT_NE(loss, std::string::npos);
  ASSERT_NE(val, std::string::npos);
  EXPECT_LT(loss, val);  // legend order: loss first
}

TEST(ReportHtml, EmptyObjectGivesAMinimalPage) {
  const std::string html = render_report_html(json::object());
  EXPECT_NE(html.find("<h1>xfmr run</h1>"), std::string::npos);
  EXPECT_EQ(count(html, "<svg "), 0u);
}

TEST(ReportHtml, SchemaErrorsNameTheKey) {
  json r = test::synthetic_results();
  r["error"]["ridge"].push_back(0.1);
  EXPECT_NE(error_of(r).find("'error.ridge' has 12 values but 'k' has 11"), std::string::npos) << error_of(r);
  r = test::synthetic_results();
  r["error_hi"]["3-NN"][4] = "high";
  EXPECT_NE(error_of(r).find("'error_hi.3-NN'[4] must be a number or null, got string"), std::string::npos);
  r = test::synthetic_results();
  r.erase("k");
  EXPECT_NE(error_of(r).find("'error' needs 'k'"), std::string::npos);
  r = test::synthetic_results();
  r["train"]["loss"].erase(0);
  EXPECT_NE(error_of(r).find("'train.loss' has 199 values but 'train.step' has 200"), std::string::npos);
  r = test::synthetic_results();
  r["d"] = 2.5;
  EXPECT_NE(error_of(r).find("'d' must be an integer"), std::string::npos);
  r = test::synthetic_results();
  r["title"] = 3;
  EXPECT_NE(error_of(r).find("'title' must be a string"), std::string::npos);
  EXPECT_NE(error_of(json::array()).find("results must be a JSON object, got array"), std::string::npos);
}

TEST(ReportHtml, Deterministic) {
  EXPECT_EQ(render_report_html(test::synthetic_results()), render_report_html(test::synthetic_results()));
}

}  // namespace
}  // namespace xfmr::report
