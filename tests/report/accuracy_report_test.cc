// report.html for accuracy results ("metric": "accuracy", the Boolean ICL classes): the plot and table say
// accuracy, there is no log-scale plot, and the HIGHEST value of a row is highlighted.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "xfmr/report/html_report.h"

using nlohmann::json;

namespace {
size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}
}  // namespace

TEST(ReportAccuracy, HighestIsBestAndLabelsSayAccuracy) {
  json r;
  r["title"] = "acc";
  r["metric"] = "accuracy";
  r["k"] = {0, 1, 2};
  r["d"] = 1;  // table rows at k = 0, d, 2d
  r["methods"] = {"transformer", "elimination"};
  r["error"] = {{"transformer", {0.5, 0.7, 0.9}}, {"elimination", {0.5, 0.6, 0.95}}};
  const std::string html = xfmr::report::render_report_html(r);
  EXPECT_NE(html.find("Accuracy vs number of in-context examples"), std::string::npos);
  EXPECT_NE(html.find("the highest accuracy in each row"), std::string::npos);
  EXPECT_EQ(html.find("log scale"), std::string::npos);
  EXPECT_NE(html.find("<td class=\"num best\">0.950</td>"), std::string::npos) << html;
  EXPECT_NE(html.find("<td class=\"num best\">0.700</td>"), std::string::npos);
  EXPECT_EQ(count(html, "num best"), 4u);  // k = 0 is a tie (both best), then one per row
  // Without "metric" the same numbers are errors: the lowest is best.
  r.erase("metric");
  const std::string err = xfmr::report::render_report_html(r);
  EXPECT_NE(err.find("<td class=\"num best\">0.600</td>"), std::string::npos);
}
