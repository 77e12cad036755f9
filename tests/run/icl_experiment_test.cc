// The ICL experiment runner (run/icl_experiment.h): parsing and one-line errors naming the file and field, config
// resolution order, the embedded experiments, and a 50-step run of tests/run/fixtures/tiny_experiment.json with
// shared training, reuse on rerun and refusal to overwrite a different config.
#include "xfmr/run/icl_experiment.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "xfmr/core/check.h"
#include "xfmr/core/parallel.h"

namespace fs = std::filesystem;
using namespace xfmr;

namespace {
const std::string kFixture = std::string(XFMR_SOURCE_DIR) + "/tests/run/fixtures/tiny_experiment.json";

std::string fixture_text() {
  std::ifstream f(kFixture);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string parse_error(const std::string& text) {
  try {
    parse_icl_experiment("bad", "experiments/bad.json", text);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

const char* kMinimal = R"({"title": "t", "paper": "p", "claim": "c", "presets": {"cpu": {}}, "runs": [{"name": "a"}]})";

std::string replace(std::string s, const std::string& from, const std::string& to) {
  const size_t at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) s.replace(at, from.size(), to);
  return s;
}
}  // namespace

TEST(IclExperiment, ParsesTheFixtureAndResolvesInOrder) {
  const IclExperiment e = parse_icl_experiment("tiny", kFixture, fixture_text());
  ASSERT_EQ(e.runs.size(), 3u);
  EXPECT_EQ(e.runs[0].group, "g");
  EXPECT_EQ(e.report_k, (std::vector<int64_t>{1, 2, 4}));
  ASSERT_EQ(e.checks.size(), 2u);
  EXPECT_EQ(e.checks[1].than_run, "mix_tree");
  // base -> preset -> run.set -> run.presets[p] -> user --set
  EXPECT_EQ(resolve_icl_experiment_run(e, "cpu", e.runs[2]).train.steps, 50);
  EXPECT_EQ(resolve_icl_experiment_run(e, "paper", e.runs[0]).train.steps, 60);
  EXPECT_EQ(resolve_icl_experiment_run(e, "paper", e.runs[2]).train.steps, 70);
  EXPECT_EQ(resolve_icl_experiment_run(e, "paper", e.runs[2], {"train.steps=80"}).train.steps, 80);
  const IclConfig c = resolve_icl_experiment_run(e, "cpu", e.runs[1]);
  EXPECT_EQ(c.task.kind, "mixture");
  EXPECT_EQ(c.eval.kind, "decision_tree");
  EXPECT_EQ(c.eval.boost_rounds, 5);
  EXPECT_EQ(c.task.d, 2);
}

TEST(IclExperiment, MalformedFilesGiveOneLineErrorsNamingFileAndField) {
  EXPECT_EQ(parse_error(kMinimal), "");
  struct Case {
    std::string text, want;
  };
  const std::string m = kMinimal;
  const std::vector<Case> cases = {
      {"{", "not valid JSON"},
      {replace(m, "\"title\"", "\"titel\""), "titel: unknown field"},
      {replace(m, "{\"name\": \"a\"}", "{\"name\": \"a\", \"sett\": {}}"), "runs[0].sett: unknown field"},
      {replace(m, "{\"name\": \"a\"}", "{\"name\": \"a\", \"set\": {\"task.dd\": 3}}"), "unknown config key 'task.dd'"},
      {replace(m, "{\"name\": \"a\"}", "{\"name\": \"a\", \"set\": {\"task.d\": [3]}}"), "JSON scalars"},
      {replace(m, "{\"name\": \"a\"}", "{\"name\": \"a\", \"set\": {\"task.d\": -1}}"), "task.d must be positive"},
      {replace(m, "{\"name\": \"a\"}", "{\"name\": \"A b\"}"), "runs[0].name"},
      {replace(m, "{\"name\": \"a\"}", "{\"name\": \"a\"}, {\"name\": \"a\"}"), "used twice"},
      {replace(m, "{\"cpu\": {}}", "{\"paper\": {}}"), "needs a \"cpu\" preset"},
      {replace(m, "{\"cpu\": {}}", "{\"cpu\": {\"train.stepz\": 3}}"), "presets.cpu"},
      {replace(m, "\"presets\"", "\"report\": {\"kk\": []}, \"presets\""), "report.kk: unknown field"},
      {replace(m, "\"presets\"", "\"report\": {\"checks\": [{\"what\": \"w\", \"run\": \"zz\", \"k\": 1, \"max\": 1}]}, \"presets\""),
       "no run named 'zz'"},
      {replace(m, "\"presets\"", "\"report\": {\"checks\": [{\"what\": \"w\", \"run\": \"a\", \"k\": 1}]}, \"presets\""),
       "exactly one of"},
      {replace(m, "\"presets\"", "\"base\": {\"task\": {\"dd\": 1}}, \"presets\""), "base: "},
      {replace(m, "{\"name\": \"a\"}", "{\"name\": \"a\", \"presets\": {\"gpu\": {}}}"), "runs[0].presets.gpu"},
  };
  for (const Case& c : cases) {
    const std::string err = parse_error(c.text);
    EXPECT_NE(err.find("experiment experiments/bad.json"), std::string::npos) << c.text << "\n" << err;
    EXPECT_NE(err.find(c.want), std::string::npos) << c.text << "\n" << err;
    EXPECT_EQ(err.find('\n'), std::string::npos) << err;
  }
}

TEST(IclExperiment, EmbeddedExperimentsParseAndUnknownNamesListThem) {
  const auto& files = embedded_icl_experiment_files();
  ASSERT_GE(files.size(), 4u);
  for (const EmbeddedExperimentFile& f : files) {
    const IclExperiment e = load_icl_experiment(f.name);  // resolves every run under every preset
    EXPECT_TRUE(e.presets.count("paper")) << f.name;
  }
  try {
    load_icl_experiment("no_such_experiment");
    FAIL();
  } catch (const Error& e) {
    const std::string m = e.what();
    for (const char* n : {"garg2022", "zhang2023", "guo2023", "yadlowsky2023"}) EXPECT_NE(m.find(n), std::string::npos) << m;
  }
  EXPECT_EQ(load_icl_experiment(kFixture).name, "tiny_experiment");
  const IclExperiment e = load_icl_experiment("garg2022");
  try {
    resolve_icl_experiment_run(e, "gpu", e.runs[0]);
    FAIL();
  } catch (const Error& err) {
    EXPECT_NE(std::string(err.what()).find("no preset 'gpu' (known: cpu, paper)"), std::string::npos) << err.what();
  }
}

TEST(IclExperiment, RunsSharesTrainingReusesAndRefusesOtherConfigs) {
  set_num_threads(1);
  std::string tmpl = (fs::temp_directory_path() / "xfmr_icl_experiment_XXXXXX").string();
  const std::string out = mkdtemp(tmpl.data());
  const IclExperiment e = load_icl_experiment(kFixture);
  std::vector<std::string> lines;
  IclExperimentOptions opt;
  opt.out = out;
  opt.command = "test";
  opt.log = [&](const std::string& s) { lines.push_back(s); };
  const nlohmann::json s = run_icl_experiment(e, opt);
  auto logged = [&](const std::string& what) {
    for (const auto& l : lines)
      if (l.find(what) != std::string::npos) return true;
    return false;
  };
  EXPECT_TRUE(logged("[2/3] mix_tree: same training as mix"));
  EXPECT_TRUE(logged("[1/3] mix: step 50/50"));
  for (const char* f : {"results.json", "report.html", "mix/results.json", "mix_tree/report.html", "lsa/config.json"})
    EXPECT_TRUE(fs::exists(out + "/" + f)) << f;
  ASSERT_EQ(s["runs"].size(), 3u);
  EXPECT_EQ(s["runs"][0]["task_kind"], "linear");
  EXPECT_EQ(s["runs"][1]["task_kind"], "decision_tree");
  EXPECT_EQ(s["runs"][1]["train_task_kind"], "mixture");
  EXPECT_TRUE(s["runs"][2]["gap"].contains("zfb_prefix"));
  // "probe": true ran the layer probes on that run: probes.json, and the per-layer summary in its row.
  EXPECT_TRUE(logged("[1/3] mix: probing the layers"));
  EXPECT_TRUE(fs::exists(out + "/mix/probes.json"));
  ASSERT_TRUE(s["runs"][0].contains("probes"));
  EXPECT_FALSE(s["runs"][0]["probes"].empty());
  EXPECT_TRUE(s["runs"][0]["probes"][0].contains("best_newton_iters"));
  EXPECT_FALSE(s["runs"][1].contains("probes"));
  ASSERT_EQ(s["checks"].size(), 2u);
  EXPECT_TRUE(s["checks"][0]["pass"].get<bool>());
  EXPECT_TRUE(s["checks"][1]["pass"].get<bool>());
  std::ifstream html(out + "/report.html");
  std::stringstream hs;
  hs << html.rdbuf();
  EXPECT_NE(hs.str().find("<svg"), std::string::npos);
  EXPECT_NE(hs.str().find("always true"), std::string::npos);

  // Rerun: every run folder is reused, nothing retrained, same curves.
  const auto mtime = fs::last_write_time(out + "/mix/metrics.jsonl");
  lines.clear();
  const nlohmann::json s2 = run_icl_experiment(e, opt);
  EXPECT_TRUE(logged("[1/3] mix: reusing the finished run"));
  EXPECT_TRUE(logged("[3/3] lsa: reusing the finished run"));
  EXPECT_FALSE(logged("step 50/50"));
  EXPECT_FALSE(logged("probing the layers"));  // probes.json is there already
  EXPECT_EQ(fs::last_write_time(out + "/mix/metrics.jsonl"), mtime);
  EXPECT_EQ(s2["runs"][0]["error"], s["runs"][0]["error"]);

  // An unfinished run (results.json removed) is resumed from its checkpoint, not restarted.
  fs::remove(out + "/lsa/results.json");
  lines.clear();
  run_icl_experiment(e, opt);
  EXPECT_TRUE(logged("[3/3] lsa: resuming"));
  EXPECT_TRUE(fs::exists(out + "/lsa/results.json"));

  // --runs: a subset; checks on runs left out are reported as skipped, unknown names listed.
  lines.clear();
  opt.only = {"lsa"};
  const nlohmann::json s3 = run_icl_experiment(e, opt);
  ASSERT_EQ(s3["runs"].size(), 1u);
  EXPECT_TRUE(logged("[1/1] lsa: reusing the finished run"));
  EXPECT_TRUE(s3["checks"][0]["pass"].get<bool>());
  EXPECT_TRUE(s3["checks"][1].contains("skipped"));
  opt.only = {"nope"};
  try {
    run_icl_experiment(e, opt);
    FAIL();
  } catch (const Error& err) {
    EXPECT_NE(std::string(err.what()).find("no run named 'nope' (runs: mix, mix_tree, lsa)"), std::string::npos);
  }
  opt.only.clear();

  // A different config for an existing folder is refused, naming the folder and the key.
  opt.sets = {"train.lr=0.002"};
  try {
    run_icl_experiment(e, opt);
    FAIL();
  } catch (const Error& err) {
    const std::string m = err.what();
    EXPECT_NE(m.find("holds a different config"), std::string::npos) << m;
    EXPECT_NE(m.find("train.lr"), std::string::npos) << m;
  }
  fs::remove_all(out);
}
