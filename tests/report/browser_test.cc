// Opens a realistic report.html in Debian's headless Chromium: the DOM must hold the plots and the table, the
// page must log no console errors or failed loads, and a screenshot must come out (copies of the page, logs
// and the PNG are kept in <build>/report_browser/ for a human look). Chromium is a required test dependency:
// when it is missing these tests fail and say how to install it, rather than skipping.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "report/report_fixtures.h"
#include "xfmr/io/file_util.h"
#include "xfmr/report/html_report.h"

namespace xfmr {
namespace {

// Debian's chromium; XFMR_CHROMIUM overrides the path (another install, or checking the missing-browser
// failure).
std::string chromium_path() {
  const char* env = std::getenv("XFMR_CHROMIUM");
  return env != nullptr && *env != '\0' ? env : "/usr/bin/chromium";
}

// Runs headless Chromium on `url` with `mode_flags`, stdout and stderr to files in `dir`. A fresh profile per
// call, no sandbox (the tests run as root), and everything that would touch the network turned off.
int chromium(const test::ScratchDir& dir, const std::string& url, const std::string& mode_flags,
             const std::string& out_name, const std::string& log_name) {
  const std::string profile = dir.file("profile-" + out_name);
  std::filesystem::create_directories(profile);
  const std::string cmd = "timeout 60 " + test::shell_quote(chromium_path()) +
                          " --headless --no-sandbox --disable-gpu --disable-quic --no-first-run"
                          " --disable-background-networking --disable-component-update --disable-sync"
                          " --user-data-dir=" +
                          test::shell_quote(profile) + " --enable-logging=stderr --v=0 " + mode_flags + " " +
                          test::shell_quote(url) + " > " + test::shell_quote(dir.file(out_name)) + " 2> " +
                          test::shell_quote(dir.file(log_name));
  return test::run_shell(cmd);
}

// Lines of a Chromium stderr log that come from the page rather than from Chromium itself.
// Chromium logs each console message of the page (console.log/warn/error and uncaught exceptions) as
// "[pid:tid:time:INFO:CONSOLE:<line>] "<message>", source: <url> (<line>)", so any "CONSOLE" line is the
// page's; "Uncaught", "Failed to load", "net::ERR_" and "Refused to" are the markers of script errors, failed
// resource loads and blocked requests. Everything else in a headless run in a container is Chromium's own
// noise about its environment (no D-Bus: dbus/bus.cc, object_proxy.cc, bluez, UPower, ScreenSaver; no GPU:
// vaapi_wrapper.cc; sandbox_linux.cc; and the Debian wrapper script's "unexpected operator"), none of which
// contains these markers. The negative-control test below checks that this filter does catch a page that
// misbehaves.
std::vector<std::string> page_problems(const std::string& log) {
  std::vector<std::string> bad;
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);) {
    for (const char* marker : {"CONSOLE", "Uncaught", "Failed to load", "net::ERR_", "Refused to"}) {
      if (line.find(marker) != std::string::npos) {
        bad.push_back(line);
        break;
      }
    }
  }
  return bad;
}

std::string join(const std::vector<std::string>& lines) {
  std::string s;
  for (const std::string& l : lines) s += l + "\n";
  return s;
}

bool require_chromium() {
  const std::string path = chromium_path();
  if (::access(path.c_str(), X_OK) == 0) return true;
  ADD_FAILURE() << path << " not found: the report browser tests need Debian's chromium package; "
                << "run scripts/setup.sh (CI installs it)";
  return false;
}

// Width and height from a PNG's IHDR chunk (big-endian at bytes 16..23), or {0, 0} when it is not a PNG.
std::pair<uint32_t, uint32_t> png_size(const std::string& png) {
  static const std::string kSignature("\x89PNG\r\n\x1a\n", 8);
  if (png.size() < 24 || png.compare(0, 8, kSignature) != 0 || png.compare(12, 4, "IHDR") != 0) return {0, 0};
  const auto be32 = [&](size_t at) {
    uint32_t v = 0;
    for (size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(png[at + i]);
    return v;
  };
  return {be32(16), be32(20)};
}

// Keeps a copy of the test's files in the build tree for someone to look at.
void keep(const test::ScratchDir& dir, const std::vector<std::string>& names) {
  const std::filesystem::path keep_dir = std::filesystem::path(XFMR_BINARY_DIR) / "report_browser";
  std::error_code ec;
  std::filesystem::create_directories(keep_dir, ec);
  for (const std::string& n : names) {
    std::filesystem::copy_file(dir.file(n), keep_dir / n, std::filesystem::copy_options::overwrite_existing,
                               ec);
  }
}

TEST(ReportBrowser, DomHasPlotsAndTableAndPageLogsNoErrors) {
  if (!require_chromium()) return;
  test::ScratchDir dir("report_browser");
  test::write_text(dir.file("results.json"), test::synthetic_results().dump(2));
  report::write_report(dir.path());
  const std::string url = "file://" + dir.file("report.html");

  // (a) and (b) in one run: the DOM on stdout, the log on stderr.
  const int rc = chromium(dir, url, "--dump-dom", "dom.html", "dom.log");
  const std::string dom = test::read_text(dir.file("dom.html"));
  const std::string log = test::read_text(dir.file("dom.log"));
  keep(dir, {"report.html", "dom.html", "dom.log"});
  ASSERT_EQ(rc, 0) << "chromium --dump-dom failed (rc " << rc << ", 124 = timed out):\n" << log;

  size_t svgs = 0;
  for (size_t at = dom.find("<svg"); at != std::string::npos; at = dom.find("<svg", at + 1)) ++svgs;
  EXPECT_EQ(svgs, 3u) << "expected the linear and log error plots and the loss plot";
  EXPECT_NE(dom.find("Error vs in-context examples (log scale)"), std::string::npos);
  EXPECT_NE(dom.find("Training loss"), std::string::npos);
  EXPECT_NE(dom.find("<table class=\"summary\">"), std::string::npos);
  EXPECT_NE(dom.find("<th>least_squares</th>"), std::string::npos);
  EXPECT_NE(dom.find("<td class=\"num best\""), std::string::npos);
  EXPECT_NE(dom.find("model.d_model"), std::string::npos);  // the flattened config table
  EXPECT_NE(dom.find("xfmr icl --d 5"), std::string::npos);
  const std::vector<std::string> problems = page_problems(log);
  EXPECT_TRUE(problems.empty()) << "the page logged problems:\n" << join(problems);
}

TEST(ReportBrowser, LogFilterCatchesAMisbehavingPage) {
  // Negative control for page_problems(): a page with a console error and an uncaught exception must be
  // flagged, which shows that this Chromium version logs console messages the way the filter expects.
  if (!require_chromium()) return;
  test::ScratchDir dir("report_browser_bad");
  test::write_text(dir.file("bad.html"),
                   "<!DOCTYPE html><html><body><p>x</p><script>console.error('planted error');"
                   "no_such_function();</script></body></html>");
  const int rc = chromium(dir, "file://" + dir.file("bad.html"), "--dump-dom", "dom.html", "dom.log");
  ASSERT_EQ(rc, 0) << test::read_text(dir.file("dom.log"));
  const std::string found = join(page_problems(test::read_text(dir.file("dom.log"))));
  EXPECT_NE(found.find("planted error"), std::string::npos) << found;
  EXPECT_NE(found.find("Uncaught ReferenceError"), std::string::npos) << found;
}

TEST(ReportBrowser, ScreenshotRenders) {
  if (!require_chromium()) return;
  test::ScratchDir dir("report_shot");
  test::write_text(dir.file("results.json"), test::synthetic_results().dump(2));
  report::write_report(dir.path());
  const std::string png_path = dir.file("screenshot.png");
  const int rc =
      chromium(dir, "file://" + dir.file("report.html"),
               "--hide-scrollbars --window-size=1200,1600 --screenshot=" + test::shell_quote(png_path),
               "shot.out", "shot.log");
  const std::string log = test::read_text(dir.file("shot.log"));
  ASSERT_EQ(rc, 0) << "chromium --screenshot failed (rc " << rc << ", 124 = timed out):\n" << log;
  ASSERT_TRUE(std::filesystem::exists(png_path)) << "no screenshot written:\n" << log;
  keep(dir, {"screenshot.png", "shot.log"});
  const std::string png = test::read_text(png_path);
  const auto [w, h] = png_size(png);
  EXPECT_EQ(w, 1200u);
  EXPECT_EQ(h, 1600u);
  // A blank 1200x1600 page compresses to a few KiB; three charts, a table and text take far more.
  EXPECT_GT(png.size(), 40000u) << "screenshot looks empty";
  const std::vector<std::string> problems = page_problems(log);
  EXPECT_TRUE(problems.empty()) << "the page logged problems:\n" << join(problems);
}

}  // namespace
}  // namespace xfmr
