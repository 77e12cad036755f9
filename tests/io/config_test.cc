#include "xfmr/io/config.h"

#include <gtest/gtest.h>

#include <array>
#include <limits>

#include "io/io_test_util.h"

using namespace xfmr;
using namespace xfmr::config;
using test::ScratchDir;

namespace {

enum class Schedule { constant, cosine, linear };
constexpr std::array<std::string_view, 3> enum_names(Schedule) { return {"constant", "cosine", "linear"}; }

struct OptimConfig {
  double beta1 = 0.9;
  double beta2 = 0.95;
  bool fused = false;
  template <class V>
  void visit(V& v) {
    v("beta1", beta1, "Adam beta1");
    v("beta2", beta2, "Adam beta2");
    v("fused", fused, "use the fused kernel");
  }
  // The validate hook: the owner struct checks its own invariants and names the field.
  void validate() const {
    XF_CHECK(beta1 >= 0 && beta1 < 1, "beta1 must be in [0, 1), got ", beta1);
    XF_CHECK(beta2 >= 0 && beta2 < 1, "beta2 must be in [0, 1), got ", beta2);
  }
};

struct TrainConfig {
  int64_t steps = 1000;
  double lr = 3e-4;
  Schedule schedule = Schedule::cosine;
  std::string run_name = "default";
  OptimConfig optim;
  template <class V>
  void visit(V& v) {
    v("steps", steps, "training steps");
    v("lr", lr, "peak learning rate");
    v("schedule", schedule, "learning-rate schedule");
    v("run_name", run_name, "name of the run folder");
    v("optim", optim, "optimizer");
  }
  void validate() const {
    XF_CHECK(steps > 0, "steps must be > 0, got ", steps);
    XF_CHECK(lr > 0, "lr must be > 0, got ", lr);
  }
};

struct ModelConfig {
  int n_layer = 4;
  int n_head = 4;
  int64_t d_model = 256;
  template <class V>
  void visit(V& v) {
    v("n_layer", n_layer, "transformer blocks");
    v("n_head", n_head, "attention heads");
    v("d_model", d_model, "residual width");
  }
  void validate() const {
    XF_CHECK(n_layer > 0, "n_layer must be > 0, got ", n_layer);
    XF_CHECK(n_head > 0 && d_model % n_head == 0, "d_model (", d_model, ") must be a multiple of n_head (", n_head,
             ")");
  }
};

struct RunConfig {
  TrainConfig train;
  ModelConfig model;
  uint64_t seed = 1234;
  bool deterministic = true;
  std::string out_dir = "runs/x";
  template <class V>
  void visit(V& v) {
    v("train", train, "training");
    v("model", model, "model shape");
    v("seed", seed, "RNG seed");
    v("deterministic", deterministic, "bit-reproducible kernels");
    v("out_dir", out_dir, "output folder");
  }
  void validate() const { XF_CHECK(!out_dir.empty(), "out_dir must not be empty"); }
};

// A struct without validate(): the hook is optional.
struct Plain {
  int x = 1;
  template <class V>
  void visit(V& v) {
    v("x", x);
  }
};

// Expects `fn` to throw an Error whose message contains every needle.
template <class F>
void expect_error(F&& fn, std::initializer_list<std::string> needles) {
  try {
    fn();
    ADD_FAILURE() << "no error; expected " << *needles.begin();
  } catch (const Error& e) {
    const std::string msg = e.what();
    for (const auto& n : needles) EXPECT_NE(msg.find(n), std::string::npos) << "'" << n << "' not in: " << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
}

std::string dump(const RunConfig& c) { return to_json(c).dump(); }

}  // namespace

TEST(Config, ToJsonIsFullyResolvedInFieldOrder) {
  const RunConfig defaults;
  EXPECT_EQ(dump(defaults),
            R"({"train":{"steps":1000,"lr":0.0003,"schedule":"cosine","run_name":"default",)"
            R"("optim":{"beta1":0.9,"beta2":0.95,"fused":false}},"model":{"n_layer":4,"n_head":4,"d_model":256},)"
            R"("seed":1234,"deterministic":true,"out_dir":"runs/x"})");
  EXPECT_EQ(config_keys(defaults),
            (std::vector<std::string>{"train.steps", "train.lr", "train.schedule", "train.run_name",
                                      "train.optim.beta1", "train.optim.beta2", "train.optim.fused", "model.n_layer",
                                      "model.n_head", "model.d_model", "seed", "deterministic", "out_dir"}));
  const std::string help = config_help(defaults);
  EXPECT_NE(help.find("  train.lr = 0.0003  (double)  peak learning rate\n"), std::string::npos) << help;
  EXPECT_NE(help.find("train.schedule = \"cosine\"  (constant|cosine|linear)"), std::string::npos) << help;
  EXPECT_EQ(to_json(Plain{}).dump(), R"({"x":1})");
}

TEST(Config, RoundTripIsExact) {
  RunConfig c;
  c.train.steps = std::numeric_limits<int64_t>::min();
  c.train.lr = 0.1 + 0.2;  // needs 17 significant digits
  c.train.schedule = Schedule::linear;
  c.train.run_name = "ünïcode \"quoted\"\n";
  c.train.optim.beta1 = 1.0 / 3.0;
  c.train.optim.fused = true;
  c.model.n_layer = std::numeric_limits<int>::min();
  c.model.d_model = std::numeric_limits<int64_t>::max();
  c.seed = std::numeric_limits<uint64_t>::max();
  c.deterministic = false;
  c.out_dir = "";
  RunConfig d;
  from_json(d, to_json(c));
  EXPECT_EQ(dump(d), dump(c));
  EXPECT_EQ(d.train.lr, c.train.lr);
  EXPECT_EQ(d.train.optim.beta1, c.train.optim.beta1);
  EXPECT_EQ(d.seed, c.seed);
  EXPECT_EQ(d.train.steps, c.train.steps);
  EXPECT_EQ(d.train.schedule, Schedule::linear);
  EXPECT_EQ(d.train.run_name, c.train.run_name);

  // Through a file (what a checkpoint stores and a resume reads); the file's text parses as plain JSON too.
  ScratchDir dir;
  c.out_dir = "o";
  c.train.steps = 5;
  c.model.n_layer = 2;
  c.model.d_model = 8;
  save_config(c, dir.file("config.json"));
  RunConfig e;
  load_config(e, dir.file("config.json"));
  EXPECT_EQ(dump(e), dump(c));
  EXPECT_EQ(nlohmann::json::parse(test::read_bytes(dir.file("config.json")))["train"]["lr"].get<double>(), 0.1 + 0.2);
}

TEST(Config, FromJsonPartialKeepsDefaults) {
  RunConfig c;
  from_json(c, nlohmann::json::parse(R"({"train": {"optim": {"beta2": 0.99}}, "seed": 7})"));
  EXPECT_EQ(c.train.optim.beta2, 0.99);
  EXPECT_EQ(c.seed, 7u);
  EXPECT_EQ(c.train.steps, 1000);
  EXPECT_EQ(c.train.optim.beta1, 0.9);
  // An integral float is accepted for integer fields (1e5 is common in configs).
  from_json(c, Json::parse(R"({"train": {"steps": 1e5}, "model": {"n_layer": 12.0}, "seed": 2e3})"));
  EXPECT_EQ(c.train.steps, 100000);
  EXPECT_EQ(c.model.n_layer, 12);
  EXPECT_EQ(c.seed, 2000u);
  // Doubles take integers.
  from_json(c, Json::parse(R"({"train": {"lr": 1}})"));
  EXPECT_EQ(c.train.lr, 1.0);
}

TEST(Config, UnknownKeysAtEveryLevel) {
  RunConfig c;
  const std::string before = dump(c);
  expect_error([&] { from_json(c, Json::parse(R"({"sed": 1})")); },
               {"unknown config key 'sed'", "valid keys: train.steps, train.lr", "out_dir", "did you mean 'seed'?"});
  expect_error([&] { from_json(c, Json::parse(R"({"seed": 5, "train": {"lrr": 0.1}})")); },
               {"unknown config key 'train.lrr'",
                "(valid keys: train.steps, train.lr, train.schedule, train.run_name, train.optim.beta1, "
                "train.optim.beta2, train.optim.fused)",
                "did you mean 'train.lr'?"});
  expect_error([&] { from_json(c, Json::parse(R"({"train": {"optim": {"beta3": 0.1}}})")); },
               {"unknown config key 'train.optim.beta3'",
                "(valid keys: train.optim.beta1, train.optim.beta2, train.optim.fused)"});
  expect_error([&] { from_json(c, Json::parse(R"({"zzzzzzzz": 1})")); }, {"unknown config key 'zzzzzzzz'"});
  EXPECT_EQ(dump(c), before) << "a failed from_json must leave the config unchanged";
  // The same through overrides.
  expect_error([&] { apply_override(c, "train.lrr=0.1"); }, {"unknown config key 'train.lrr'", "did you mean 'train.lr'"});
  expect_error([&] { apply_override(c, "train.optim.beta3=0.1"); }, {"unknown config key 'train.optim.beta3'"});
  expect_error([&] { apply_override(c, "sed=1"); }, {"unknown config key 'sed'", "did you mean 'seed'"});
  expect_error([&] { apply_override(c, "train.lr.x=1"); }, {"unknown config key 'train.lr.x'"});
  expect_error([&] { apply_override(c, "train=1"); }, {"'train' is a section", "train.steps"});
  expect_error([&] { apply_override(c, "train.optim=1"); }, {"'train.optim' is a section", "train.optim.beta1"});
  EXPECT_EQ(dump(c), before);
}

TEST(Config, WrongTypesNameKeyTypeAndValue) {
  RunConfig c;
  const std::string before = dump(c);
  auto bad = [&](const char* text, std::initializer_list<std::string> needles) {
    expect_error([&] { from_json(c, Json::parse(text)); }, needles);
  };
  bad(R"({"train": {"steps": "abc"}})", {"config key 'train.steps'", "integer (int64)", "string \"abc\""});
  bad(R"({"train": {"steps": 1.5}})", {"config key 'train.steps'", "integer (int64)", "number 1.5"});
  bad(R"({"train": {"steps": 1e30}})", {"config key 'train.steps'", "integer (int64)"});
  bad(R"({"train": {"steps": 9223372036854775808}})", {"config key 'train.steps'", "int64"});
  bad(R"({"model": {"n_layer": 3000000000}})", {"config key 'model.n_layer'", "int, 32-bit range", "3000000000"});
  bad(R"({"model": {"n_layer": true}})", {"config key 'model.n_layer'", "integer (int)", "boolean true"});
  bad(R"({"seed": -1})", {"config key 'seed'", "non-negative integer (uint64)", "-1"});
  bad(R"({"train": {"lr": "3e-4"}})", {"config key 'train.lr'", "number (double)", "string \"3e-4\""});
  bad(R"({"train": {"lr": null}})", {"config key 'train.lr'", "number (double)", "null"});
  bad(R"({"train": {"optim": {"fused": 1}}})", {"config key 'train.optim.fused'", "boolean", "number 1"});
  bad(R"({"out_dir": 5})", {"config key 'out_dir'", "a string", "number 5"});
  bad(R"({"out_dir": ["a"]})", {"config key 'out_dir'", "a string", "array"});
  bad(R"({"train": {"schedule": "cosin"}})", {"config key 'train.schedule'", "constant|cosine|linear", "'cosin'"});
  bad(R"({"train": {"schedule": 1}})", {"config key 'train.schedule'", "a string", "number 1"});
  bad(R"({"train": 5})", {"config key 'train'", "an object (config section)", "number 5"});
  bad(R"({"train": {"optim": []}})", {"config key 'train.optim'", "object"});
  bad(R"([1, 2])", {"(root)", "an object", "array"});
  EXPECT_EQ(dump(c), before);
}

TEST(Config, OverridesOfEachType) {
  RunConfig c;
  apply_override(c, "train.steps=5000");
  EXPECT_EQ(c.train.steps, 5000);
  apply_override(c, "train.steps=1e5");
  EXPECT_EQ(c.train.steps, 100000);
  apply_override(c, "train.steps=-9223372036854775808");
  EXPECT_EQ(c.train.steps, std::numeric_limits<int64_t>::min());
  apply_override(c, "model.n_layer=+12");
  EXPECT_EQ(c.model.n_layer, 12);
  apply_override(c, "seed=18446744073709551615");
  EXPECT_EQ(c.seed, std::numeric_limits<uint64_t>::max());
  apply_override(c, "train.lr=3e-4");
  EXPECT_EQ(c.train.lr, 3e-4);
  apply_override(c, "train.lr=0.30000000000000004");
  EXPECT_EQ(c.train.lr, 0.1 + 0.2);
  apply_override(c, "train.optim.beta1=1");
  EXPECT_EQ(c.train.optim.beta1, 1.0);
  for (auto [text, value] : {std::pair{"true", true}, {"false", false}, {"1", true}, {"0", false}}) {
    apply_override(c, std::string("train.optim.fused=") + text);
    EXPECT_EQ(c.train.optim.fused, value) << text;
  }
  apply_override(c, "out_dir=a=b c");  // everything after the first '='
  EXPECT_EQ(c.out_dir, "a=b c");
  apply_override(c, "train.run_name=");
  EXPECT_EQ(c.train.run_name, "");
  apply_override(c, "train.schedule=linear");
  EXPECT_EQ(c.train.schedule, Schedule::linear);
  const std::vector<std::string> many = {"seed=3", "deterministic=false"};
  apply_overrides(c, many);
  EXPECT_EQ(c.seed, 3u);
  EXPECT_FALSE(c.deterministic);

  const std::string before = dump(c);
  expect_error([&] { apply_override(c, "train.steps=abc"); }, {"'train.steps'", "int64", "'abc'"});
  expect_error([&] { apply_override(c, "train.steps=1.5"); }, {"'train.steps'", "int64", "'1.5'"});
  expect_error([&] { apply_override(c, "train.steps="); }, {"'train.steps'", "int64"});
  expect_error([&] { apply_override(c, "train.steps=99999999999999999999"); }, {"'train.steps'", "out of range"});
  expect_error([&] { apply_override(c, "model.n_layer=3000000000"); }, {"'model.n_layer'", "int", "out of range"});
  expect_error([&] { apply_override(c, "seed=-1"); }, {"'seed'", "uint64", "'-1'"});
  expect_error([&] { apply_override(c, "train.lr=abc"); }, {"'train.lr'", "double", "'abc'"});
  expect_error([&] { apply_override(c, "train.lr=nan"); }, {"'train.lr'", "finite"});
  expect_error([&] { apply_override(c, "train.lr=inf"); }, {"'train.lr'", "finite"});
  expect_error([&] { apply_override(c, "train.lr=1e-3x"); }, {"'train.lr'", "'1e-3x'"});
  expect_error([&] { apply_override(c, "train.optim.fused=yes"); }, {"'train.optim.fused'", "true|false"});
  expect_error([&] { apply_override(c, "train.schedule=cos"); }, {"'train.schedule'", "constant|cosine|linear"});
  expect_error([&] { apply_override(c, "train.steps"); }, {"'train.steps'", "key=value"});
  expect_error([&] { apply_override(c, "=3"); }, {"key=value"});
  // apply_overrides is all-or-nothing.
  const std::vector<std::string> partly_bad = {"seed=99", "train.lr=oops"};
  expect_error([&] { apply_overrides(c, partly_bad); }, {"'train.lr'"});
  EXPECT_EQ(dump(c), before);
}

TEST(Config, ValidateHooks) {
  RunConfig c;
  validate(c);
  validate(Plain{});
  c.train.steps = 0;
  expect_error([&] { validate(c); }, {"invalid config section 'train': steps must be > 0, got 0"});
  c.train.steps = 1;
  c.train.optim.beta2 = 1.5;
  expect_error([&] { validate(c); }, {"invalid config section 'train.optim': beta2 must be in [0, 1), got 1.5"});
  c.train.optim.beta2 = 0.5;
  c.model.n_head = 3;
  expect_error([&] { validate(c); }, {"section 'model'", "d_model (256) must be a multiple of n_head (3)"});
  c.model.n_head = 4;
  c.out_dir = "";
  expect_error([&] { validate(c); }, {"invalid config: out_dir must not be empty"});
}

TEST(Config, LoadConfigWithOverridesThenValidate) {
  ScratchDir dir;
  const std::string path = dir.file("run.json");
  test::write_bytes(path, R"({
  "train": {"steps": 0, "lr": 1e-3, "schedule": "constant"},
  "model": {"n_layer": 8}
})");
  RunConfig c;
  // The file alone is invalid (steps 0); the override fixes it, because validation runs last.
  const std::vector<std::string> fix = {"train.steps=10", "model.d_model=512"};
  load_config(c, path, fix);
  EXPECT_EQ(c.train.steps, 10);
  EXPECT_EQ(c.train.lr, 1e-3);
  EXPECT_EQ(c.train.schedule, Schedule::constant);
  EXPECT_EQ(c.model.n_layer, 8);
  EXPECT_EQ(c.model.d_model, 512);
  EXPECT_EQ(c.seed, 1234u);

  RunConfig d;
  const std::string before = dump(d);
  expect_error([&] { load_config(d, path); }, {"invalid config section 'train': steps must be > 0"});
  const std::vector<std::string> bad = {"train.steps=10", "train.lr=x"};
  expect_error([&] { load_config(d, path, bad); }, {"'train.lr'"});
  test::write_bytes(path, R"({"train": {"stepz": 3}})");
  expect_error([&] { load_config(d, path); }, {"config file '" + path + "'", "unknown config key 'train.stepz'"});
  test::write_bytes(path, R"({"train": {"steps": "3"}})");
  expect_error([&] { load_config(d, path); }, {"config file '" + path + "'", "'train.steps'", "string \"3\""});
  EXPECT_EQ(dump(d), before);
}

TEST(Config, MalformedAndMissingFiles) {
  ScratchDir dir;
  const std::string path = dir.file("bad.json");
  RunConfig c;
  const std::string before = dump(c);
  test::write_bytes(path, "{\n  \"seed\": 1,\n  // a comment\n  \"deterministic\": true\n}\n");
  expect_error([&] { load_config(c, path); },
               {"config file '" + path + "'", "invalid JSON", "line 3, column", "comments are not allowed"});
  test::write_bytes(path, "{\n  \"seed\": 1,\n}\n");
  expect_error([&] { load_config(c, path); }, {"config file '" + path + "'", "invalid JSON", "line 3, column 1"});
  test::write_bytes(path, "{\"seed\": 1");
  expect_error([&] { load_config(c, path); }, {path, "invalid JSON", "line 1"});
  test::write_bytes(path, "");
  expect_error([&] { load_config(c, path); }, {path, "invalid JSON"});
  test::write_bytes(path, "{\"seed\": 1} {\"seed\": 2}");
  expect_error([&] { load_config(c, path); }, {path, "invalid JSON"});
  test::write_bytes(path, "{\"out_dir\": \"a\nb\"}");  // raw newline inside a string
  expect_error([&] { load_config(c, path); }, {path, "invalid JSON", "control character"});
  expect_error([&] { load_config(c, dir.file("nope.json")); },
               {"config file", dir.file("nope.json"), "No such file or directory"});
  expect_error([&] { load_config(c, dir.path().string()); }, {"config file", dir.path().string()});
  EXPECT_EQ(dump(c), before);
}
