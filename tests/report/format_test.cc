#include "xfmr/report/format.h"

#include <cmath>
#include <limits>

#include <gtest/gtest.h>

namespace xfmr::report {
namespace {

TEST(ReportFormat, XmlEscape) {
  EXPECT_EQ(xml_escape("a<b & \"c\" > 'd'"), "a&lt;b &amp; &quot;c&quot; &gt; &#39;d&#39;");
  EXPECT_EQ(xml_escape("tab\tnl\n"), "tab\tnl\n");
  EXPECT_EQ(xml_escape(std::string("x\x01y", 3)), "x\xEF\xBF\xBDy");  // forbidden in XML 1.0
  EXPECT_EQ(xml_escape("\xCE\xB1=0.1"), "\xCE\xB1=0.1");              // UTF-8 passes through
}

TEST(ReportFormat, ThreeSignificantDigits) {
  EXPECT_EQ(format_number(0.0123456), "0.0123");
  EXPECT_EQ(format_number(1.2), "1.20");
  EXPECT_EQ(format_number(1.2, 3, true), "1.2");
  EXPECT_EQ(format_number(123.456), "123");
  EXPECT_EQ(format_number(12345.6), "12300");
  EXPECT_EQ(format_number(123456.0), "1.23e5");
  EXPECT_EQ(format_number(0.000123456), "1.23e-4");
  EXPECT_EQ(format_number(0.001), "0.00100");
  EXPECT_EQ(format_number(9.996), "10.0");  // rounding carries into the next decade
  EXPECT_EQ(format_number(99999.0), "1.00e5");
  EXPECT_EQ(format_number(-0.5), "-0.500");
  EXPECT_EQ(format_number(0.0), "0");
  EXPECT_EQ(format_number(2e-5, 6, true), "2e-5");
  EXPECT_EQ(format_number(std::nan("")), "NaN");
  EXPECT_EQ(format_number(std::numeric_limits<double>::infinity()), "inf");
  EXPECT_EQ(format_number(-std::numeric_limits<double>::infinity()), "-inf");
}

}  // namespace
}  // namespace xfmr::report
