#include "xfmr/report/svg_plot.h"

#include <cmath>
#include <limits>
#include <string>

#include <gtest/gtest.h>

#include "report/report_fixtures.h"
#include "xfmr/core/check.h"

namespace xfmr::report {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
  return n;
}

// The d attribute of the first <path class="cls" d="...">, or "" when there is none. (No std::regex: under
// ASan at -O1, GCC 12 warns falsely inside libstdc++'s regex.)
std::string path_data(const std::string& svg, const std::string& cls) {
  const std::string key = "class=\"" + cls + "\" d=\"";
  const size_t at = svg.find(key);
  if (at == std::string::npos) return "";
  const size_t start = at + key.size();
  return svg.substr(start, svg.find('"', start) - start);
}

// Tiny tag-balance checker, independent of python: every <tag ...> is closed by </tag> in LIFO order or is
// self-closing. Returns "" when balanced.
std::string unbalanced_tag(const std::string& xml) {
  std::vector<std::string> stack;
  for (size_t at = xml.find('<'); at != std::string::npos; at = xml.find('<', at + 1)) {
    const size_t end = xml.find('>', at);
    if (end == std::string::npos) return "unterminated tag at " + std::to_string(at);
    const std::string tag = xml.substr(at + 1, end - at - 1);
    if (tag.empty()) return "empty tag";
    if (tag[0] == '!' || tag[0] == '?') continue;
    if (tag[0] == '/') {
      if (stack.empty() || stack.back() != tag.substr(1)) return "unexpected </" + tag.substr(1) + ">";
      stack.pop_back();
    } else if (tag.back() != '/') {
      stack.push_back(tag.substr(0, tag.find_first_of(" \n\t")));
    }
  }
  return stack.empty() ? "" : "unclosed <" + stack.back() + ">";
}

LineChart two_series_chart() {
  LineChart c;
  c.title = "Error vs k";
  c.x_label = "k";
  c.y_label = "error";
  c.series.push_back(
      {"ridge", {0, 1, 2, 3}, {1.0, 0.5, 0.25, 0.125}, {0.9, 0.4, 0.2, 0.1}, {1.1, 0.6, 0.3, 0.15}, true});
  c.series.push_back({"3-NN", {0, 1, 2, 3}, {1.0, 1.4, 1.3, 1.2}, {}, {}, true});
  return c;
}

void expect_well_formed(const std::string& svg) {
  EXPECT_EQ(unbalanced_tag(svg), "");
  test::ScratchDir dir("svg");
  EXPECT_EQ(test::xml_parse_error(svg, dir.path()), "");
}

TEST(ReportSvg, WellFormedWithSizeAndViewBox) {
  for (const Scale s : {Scale::linear, Scale::log10}) {
    LineChart c = two_series_chart();
    c.y_scale = s;
    c.vlines.push_back({2, "k = d"});
    const std::string svg = render_svg(c);
    EXPECT_EQ(
        svg.rfind(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"720\" height=\"420\" viewBox=\"0 0 720 420\"",
            0),
        0u);
    EXPECT_EQ(svg.substr(svg.size() - 6), "</svg>");
    expect_well_formed(svg);
    EXPECT_EQ(count(svg, "class=\"line\""), 2u);
    EXPECT_EQ(count(svg, "class=\"vline\""), 1u);
    EXPECT_NE(svg.find(">ridge</text>"), std::string::npos);
    EXPECT_NE(svg.find(">3-NN</text>"), std::string::npos);
  }
}

TEST(ReportSvg, BandsDrawnOnlyForSeriesWithBands) {
  const std::string svg = render_svg(two_series_chart());
  EXPECT_EQ(count(svg, "class=\"band\""), 1u);
  // The band polygon goes out along lo and back along hi: 8 points, one subpath, closed.
  const std::string d = path_data(svg, "band");
  EXPECT_EQ(count(d, "M"), 1u);
  EXPECT_EQ(count(d, "L"), 7u);
  EXPECT_EQ(count(d, "Z"), 1u);
  EXPECT_NE(svg.find("fill=\"#0072B2\" fill-opacity"), std::string::npos);  // band in the series' colour
}

TEST(ReportSvg, EscapesAllText) {
  LineChart c = two_series_chart();
  c.title = "a < b & \"c\"";
  c.x_label = "k <i>";
  c.y_label = "err's";
  c.series[0].name = "</text><script>alert(1)</script>";
  c.vlines.push_back({1, "k=d&"});
  const std::string svg = render_svg(c);
  EXPECT_EQ(svg.find("<script"), std::string::npos);
  EXPECT_EQ(svg.find("<i>"), std::string::npos);
  EXPECT_NE(svg.find("a &lt; b &amp; &quot;c&quot;"), std::string::npos);
  EXPECT_NE(svg.find("err&#39;s"), std::string::npos);
  EXPECT_NE(svg.find("k=d&amp;"), std::string::npos);
  expect_well_formed(svg);
}

TEST(ReportSvg, SkipsNonFiniteAndBreaksTheLine) {
  LineChart c;
  c.series.push_back({"s", {0, 1, 2, 3, 4, 5}, {1, 2, kNaN, 3, kInf, 4}, {}, {}, false});
  const std::string svg = render_svg(c);
  EXPECT_EQ(svg.find("nan"), std::string::npos);
  EXPECT_EQ(svg.find("inf"), std::string::npos);
  // Runs {0,1}, {3}, {5}: one path with three subpaths; the two lone points also get dots to stay visible.
  EXPECT_EQ(count(svg, "class=\"line\""), 1u);
  const std::string d = path_data(svg, "line");
  EXPECT_EQ(count(d, "M"), 3u);
  EXPECT_EQ(count(d, "L"), 1u);
  EXPECT_EQ(count(svg, "<circle"), 2u);
  expect_well_formed(svg);
}

TEST(ReportSvg, LogAxisDropsNonPositiveValues) {
  LineChart c;
  c.y_scale = Scale::log10;
  c.series.push_back({"loss", {0, 1, 2, 3}, {1.0, 0.0, -1.0, 0.01}, {}, {}, true});
  const std::string svg = render_svg(c);
  EXPECT_EQ(count(svg, "<circle"), 2u);
  EXPECT_NE(svg.find(">0.01</text>"), std::string::npos);
  EXPECT_NE(svg.find(">1</text>"), std::string::npos);
  expect_well_formed(svg);
}

TEST(ReportSvg, EmptyChartsStillRender) {
  LineChart none;
  none.title = "nothing";
  std::string svg = render_svg(none);
  EXPECT_NE(svg.find(">no data</text>"), std::string::npos);
  expect_well_formed(svg);

  LineChart empty_series;
  empty_series.series.push_back({"empty", {}, {}, {}, {}, true});
  empty_series.series.push_back({"all-nan", {0, 1}, {kNaN, kNaN}, {}, {}, true});
  empty_series.y_scale = Scale::log10;
  svg = render_svg(empty_series);
  EXPECT_NE(svg.find(">empty (no data)</text>"), std::string::npos);
  EXPECT_NE(svg.find(">all-nan (no data)</text>"), std::string::npos);
  EXPECT_EQ(count(svg, "class=\"line\""), 0u);
  expect_well_formed(svg);
}

TEST(ReportSvg, RejectsMismatchedLengths) {
  LineChart c;
  c.series.push_back({"bad", {0, 1, 2}, {1, 2}, {}, {}, true});
  try {
    render_svg(c);
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("render_svg: series 'bad' has 3 x values but 2 y values"),
              std::string::npos)
        << e.what();
  }
  c.series[0] = {"band", {0, 1}, {1, 2}, {0.5}, {1.5}, true};
  EXPECT_THROW(render_svg(c), Error);
}

TEST(ReportSvg, DistinctColours) {
  LineChart c;
  for (int i = 0; i < 9; ++i) {
    Series s;
    s.name = std::to_string(i);
    s.name.insert(0, "s");  // not "s" + std::to_string(i): GCC 12 -Wrestrict false positive
    s.x = {0, 1};
    s.y = {1.0 + i, 2.0 + i};
    c.series.push_back(s);
  }
  const std::string svg = render_svg(c);
  for (size_t i = 0; i < 7; ++i) {
    for (size_t j = i + 1; j < 7; ++j) EXPECT_STRNE(series_color(i), series_color(j));
  }
  // After the palette wraps, the 8th and 9th series are dashed.
  EXPECT_EQ(count(svg, "class=\"line\""), 9u);
  EXPECT_GE(count(svg, "stroke-dasharray=\"6 4\""), 2u);
}

TEST(ReportTicks, LinearNiceNumbers) {
  EXPECT_EQ(linear_ticks(0, 10, 6), (std::vector<double>{0, 2, 4, 6, 8, 10}));
  EXPECT_EQ(linear_ticks(0, 1, 6), (std::vector<double>{0, 0.2, 0.4, 0.6, 0.8, 1.0}));
  EXPECT_EQ(linear_ticks(0.13, 0.97, 5), (std::vector<double>{0, 0.2, 0.4, 0.6, 0.8, 1.0}));
  EXPECT_EQ(linear_ticks(-3, 7, 6), (std::vector<double>{-4, -2, 0, 2, 4, 6, 8}));
  EXPECT_EQ(linear_ticks(0, 9950, 11),
            (std::vector<double>{0, 1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000, 10000}));
  const std::vector<double> t = linear_ticks(0.1, 0.3, 3);  // no 0.30000000000000004
  EXPECT_EQ(t.back(), 0.3);
  const std::vector<double> flat = linear_ticks(5, 5, 6);  // a constant series still gets a range
  EXPECT_LT(flat.front(), 5);
  EXPECT_GT(flat.back(), 5);
}

TEST(ReportTicks, Log10) {
  // Up to two decades: 1-2-5 steps, ends snapped to 1-2-5 values around the data.
  EXPECT_EQ(log10_ticks(0.3, 4), (std::vector<double>{0.2, 0.5, 1, 2, 5}));
  EXPECT_EQ(log10_ticks(1, 10), (std::vector<double>{1, 2, 5, 10}));
  // More decades: ends at 1-2-5 values, powers of ten between.
  EXPECT_EQ(log10_ticks(0.0138, 1.7), (std::vector<double>{0.01, 0.1, 1, 2}));
  const std::vector<double> wide = log10_ticks(1e-12, 1e12);
  EXPECT_LE(wide.size(), 10u);
  EXPECT_LE(wide.front(), 1e-12);
  EXPECT_GE(wide.back(), 1e12);
  for (const double v : wide) EXPECT_NEAR(std::log10(v), std::round(std::log10(v)), 1e-9);
  for (const auto& [lo, hi] : std::vector<std::pair<double, double>>{{2e-5, 3e-5}, {0.07, 950}, {123, 124}}) {
    const std::vector<double> t = log10_ticks(lo, hi);
    ASSERT_GE(t.size(), 2u);
    EXPECT_LE(t.front(), lo);
    EXPECT_GE(t.back(), hi);
  }
}

}  // namespace
}  // namespace xfmr::report
