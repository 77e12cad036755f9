#include "support/errors.h"
#include "xfmr/io/file_util.h"

#include <sys/stat.h>

#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "report/report_fixtures.h"
#include "xfmr/core/check.h"
#include "xfmr/report/html_report.h"

using xfmr::test::error_of;

namespace xfmr {
namespace {

// Names of everything in `dir`, to check that failures leave no temporary files behind.
std::vector<std::string> listing(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}


TEST(AtomicFile, WriteThenReadRoundTripsAndReplaces) {
  test::ScratchDir dir("atomic");
  const std::string path = dir.file("a.txt");
  const std::string binary("x\0y\n\xff", 5);
  io::write_file_atomic(path, binary);
  EXPECT_EQ(io::read_file(path), binary);
  io::write_file_atomic(path, "second");
  EXPECT_EQ(io::read_file(path), "second");
  io::write_file_atomic(path, "");
  EXPECT_EQ(io::read_file(path), "");
  const std::string big(3 << 20, 'z');  // larger than one read() buffer
  io::write_file_atomic(path, big);
  EXPECT_EQ(io::read_file(path), big);
  EXPECT_EQ(listing(dir.path()), std::vector<std::string>{"a.txt"});
  // Mode follows the umask like an ordinary new file (not mkstemp's 0600).
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  const mode_t mask = ::umask(0);
  ::umask(mask);
  EXPECT_EQ(st.st_mode & 0777, 0666 & ~mask);
}

TEST(AtomicFile, ReadErrorsNameThePath) {
  test::ScratchDir dir("atomic_read");
  const std::string missing = dir.file("nope.json");
  std::string msg = error_of([&] { io::read_file(missing); });
  EXPECT_NE(msg.find("cannot open '" + missing + "': No such file or directory"),
            std::string::npos)
      << msg;
  msg = error_of([&] { io::read_file(dir.path()); });
  EXPECT_NE(msg.find("'" + dir.path() + "'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("Is a directory"), std::string::npos) << msg;
}

TEST(AtomicFile, FailedWriteLeavesNoDebris) {
  test::ScratchDir dir("atomic_fail");
  // The target is a directory: the temp file is written, the rename fails, the temp file must go.
  const std::string target = dir.file("sub");
  std::filesystem::create_directory(target);
  std::string msg = error_of([&] { io::write_file_atomic(target, "data"); });
  EXPECT_NE(msg.find("write '" + target + "'"), std::string::npos)
      << msg;
  EXPECT_NE(msg.find("failed: Is a directory"), std::string::npos) << msg;
  EXPECT_EQ(listing(dir.path()), std::vector<std::string>{"sub"});
  // A missing directory: nothing can be created.
  const std::string nowhere = dir.file("missing/x.html");
  msg = error_of([&] { io::write_file_atomic(nowhere, "data"); });
  EXPECT_NE(msg.find("write '" + nowhere + "'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("No such file or directory"), std::string::npos) << msg;
}

TEST(WriteReport, WritesReportNextToResults) {
  test::ScratchDir dir("write_report");
  test::write_text(dir.file("results.json"), test::synthetic_results().dump());
  report::write_report(dir.path());
  EXPECT_EQ(test::read_text(dir.file("report.html")), report::render_report_html(test::synthetic_results()));
  EXPECT_EQ(listing(dir.path()), (std::vector<std::string>{"report.html", "results.json"}));
}

TEST(WriteReport, RenderFailureKeepsTheOldReport) {
  test::ScratchDir dir("write_report_keep");
  const std::string old_report = "<html>previous good report</html>";
  test::write_text(dir.file("report.html"), old_report);
  nlohmann::json bad = test::synthetic_results();
  bad["error"]["ridge"] = "not an array";  // parses as JSON, fails while rendering
  test::write_text(dir.file("results.json"), bad.dump());
  const std::string msg = error_of([&] { report::write_report(dir.path()); });
  EXPECT_NE(
      msg.find("report: invalid '" + dir.file("results.json") + "': report: 'error.ridge' must be an array"),
      std::string::npos)
      << msg;
  EXPECT_EQ(test::read_text(dir.file("report.html")), old_report);
  EXPECT_EQ(listing(dir.path()), (std::vector<std::string>{"report.html", "results.json"}));
}

TEST(WriteReport, CorruptOrMissingResultsNameTheFile) {
  test::ScratchDir dir("write_report_corrupt");
  const std::string results = dir.file("results.json");
  std::string msg = error_of([&] { report::write_report(dir.path()); });
  EXPECT_NE(msg.find("cannot open '" + results + "': No such file or directory"), std::string::npos) << msg;

  test::write_text(results, "{\"title\": \"cut off\",\n \"k\": [0, 1,");  // a crash mid-write of results.json
  msg = error_of([&] { report::write_report(dir.path()); });
  EXPECT_NE(msg.find("report: cannot parse '" + results + "': "), std::string::npos) << msg;
  EXPECT_NE(msg.find("parse error"), std::string::npos) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << "message must be one line: " << msg;
  EXPECT_FALSE(std::filesystem::exists(dir.file("report.html")));
}

}  // namespace
}  // namespace xfmr
