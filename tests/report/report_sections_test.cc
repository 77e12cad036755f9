// results.json "sections": pre-rendered HTML from another producer (e.g. `xfmr icl probe`) is inserted in order,
// and a malformed entry is an error naming the key.
#include <gtest/gtest.h>

#include "xfmr/core/check.h"
#include "xfmr/report/html_report.h"

using namespace xfmr;

TEST(ReportSections, InsertedVerbatimInOrder) {
  nlohmann::json r;
  r["title"] = "t";
  r["sections"] = {{{"id", "a"}, {"html", "<section id=\"a\">A</section>\n"}},
                   {{"id", "b"}, {"html", "<section id=\"b\">B</section>\n"}}};
  const std::string html = report::render_report_html(r);
  const size_t a = html.find("<section id=\"a\">A</section>"), b = html.find("<section id=\"b\">B</section>");
  ASSERT_NE(a, std::string::npos);
  ASSERT_NE(b, std::string::npos);
  EXPECT_LT(a, b);
}

TEST(ReportSections, MalformedIsAnError) {
  for (const nlohmann::json& bad : {nlohmann::json("x"), nlohmann::json::array({nlohmann::json{{"id", "a"}}}),
                                    nlohmann::json::array({nlohmann::json{{"html", 3}}})}) {
    nlohmann::json r;
    r["sections"] = bad;
    try {
      report::render_report_html(r);
      ADD_FAILURE() << bad.dump();
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("sections"), std::string::npos) << e.what();
    }
  }
}
