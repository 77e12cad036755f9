// End-to-end: `xfmr icl --list-experiments`, unknown experiment names, and one-line errors for malformed files.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "support/cli_run.h"

using xfmr::test::run_xfmr;
using xfmr::test::temp_dir;

TEST(IclExperimentCli, ListsTheEmbeddedExperiments) {
  const auto r = run_xfmr("icl --list-experiments");
  ASSERT_EQ(r.code, 0) << r.out;
  for (const char* s : {"garg2022", "zhang2023", "guo2023", "yadlowsky2023", "arXiv:2306.09927"})
    EXPECT_NE(r.out.find(s), std::string::npos) << s << "\n" << r.out;
  const auto h = run_xfmr("icl --help");
  EXPECT_NE(h.out.find("--experiment"), std::string::npos);
  EXPECT_NE(h.out.find("reuses finished run folders"), std::string::npos);
}

TEST(IclExperimentCli, UnknownNamesAndMalformedFilesFailInOneLine) {
  auto r = run_xfmr("icl --experiment nope --out /tmp/never_written");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("unknown experiment 'nope' (known: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("garg2022"), std::string::npos) << r.out;
  const std::string dir = temp_dir("exp_cli");
  const std::string f = dir + "/bad.json";
  std::ofstream(f) << R"({"title": "t", "paper": "p", "claim": "c", "presets": {"cpu": {}},
                         "runs": [{"name": "a", "set": {"train.stepz": 5}}]})";
  r = run_xfmr("icl --experiment " + f + " --out " + dir + "/out");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("experiment " + f + ": runs[0].set: unknown config key 'train.stepz'"), std::string::npos)
      << r.out;
  EXPECT_EQ(r.out.find('\n'), r.out.size() - 1) << r.out;  // one line
  r = run_xfmr("icl --experiment garg2022 --preset gpu --out " + dir + "/out");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("no preset 'gpu' (known: cpu, paper)"), std::string::npos) << r.out;
  EXPECT_FALSE(std::filesystem::exists(dir + "/out"));
  std::filesystem::remove_all(dir);
}
