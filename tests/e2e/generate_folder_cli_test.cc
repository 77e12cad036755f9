// End-to-end: `xfmr generate` on the model folders `xfmr train` writes (a GQA Llama and a GPT-2, char
// tokenizer.json beside them): greedy --raw text equals the autograd model's argmax loop decoded; several
// prompts equal single runs with seeds seed + i; --prompt-file; `xfmr convert` of a Llama folder generates
// the same text; the HF tiny GPT-2 generates with a given tokenizer; bad folders are one-line errors.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "support/cli_run.h"
#include "xfmr/core/autograd.h"
#include "xfmr/infer/sampler.h"
#include "xfmr/io/file_util.h"
#include "xfmr/models/pretrained.h"
#include "xfmr/tokenizers/tokenizer.h"

namespace fs = std::filesystem;

namespace {

using xfmr::test::CliResult;
using xfmr::test::expect_one_line_error;
using xfmr::test::run_xfmr;

// Trains the smoke preset (60 steps of a 2-layer model on a tiny Shakespeare slice) once per model type and
// returns RUN/model.
std::string trained_folder(const std::string& type) {
  static std::map<std::string, std::string> done;
  if (done.count(type)) return done[type];
  const std::string base = xfmr::test::temp_dir("genfolder_" + type);
  const std::string text =
      xfmr::io::read_file(std::string(XFMR_SOURCE_DIR) + "/data/text/tinyshakespeare.txt").substr(0, 50000);
  xfmr::io::write_file_atomic(base + "/s.txt", text);
  std::string model = "--set model.type=" + type;
  if (type == "llama") model += " --set model.n_head=4 --set model.n_kv_head=2";  // grouped-query attention
  const CliResult r = run_xfmr("train --preset smoke --threads 1 --set data.path=" + base + "/s.txt " +
                               model + " --out " + base + "/run");
  EXPECT_EQ(r.code, 0) << r.out;
  return done[type] = base + "/run/model";
}

// The autograd model's greedy continuation of `prompt`, decoded: the oracle for the CLI's --temperature 0.
std::string greedy_text(const std::string& folder, const std::string& prompt, int n) {
  const auto m = xfmr::models::load_pretrained(folder);
  const auto tok = xfmr::tok::load_tokenizer(folder + "/tokenizer.json");
  std::vector<int32_t> seq = tok->encode(prompt, true);
  std::string out = prompt;
  xfmr::NoGradGuard ng;
  for (int i = 0; i < n; ++i) {
    const std::vector<int64_t> ids(seq.begin(), seq.end());
    const xfmr::Tensor lg = m->forward(xfmr::Tensor::from_vector(ids, {1, static_cast<int64_t>(ids.size())}));
    const std::vector<double> v = lg.to_vector();
    const int64_t V = m->vocab_size();
    std::vector<float> last(v.end() - V, v.end());
    const int32_t next = xfmr::infer::Sampler::argmax(last.data(), V);
    out += tok->decode_token(seq.back(), next);
    seq.push_back(next);
  }
  return out;
}

std::vector<std::string> json_lines(const std::string& out) {
  std::vector<std::string> lines;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) lines.push_back(nlohmann::json::parse(line).get<std::string>());
  return lines;
}

class FolderCli : public ::testing::TestWithParam<std::string> {};

TEST_P(FolderCli, GreedyRawTextIsTheAutogradModelsArgmaxLoop) {
  const std::string folder = trained_folder(GetParam());
  const CliResult r = run_xfmr(
      "generate --model " + folder + " --prompt 'ROMEO:' --temperature 0 --max-tokens 20 --raw --threads 1",
      /*merge_stderr=*/false);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.out, greedy_text(folder, "ROMEO:", 20));
  // Without --raw: the same text, a newline, and the stats line on stderr.
  const CliResult s =
      run_xfmr("generate --model " + folder + " --prompt 'ROMEO:' --temperature 0 --max-tokens 20");
  ASSERT_EQ(s.code, 0) << s.out;
  EXPECT_EQ(s.out.rfind(r.out + "\n", 0), 0u) << s.out;
  EXPECT_NE(s.out.find("tok/s"), std::string::npos) << s.out;
}

TEST_P(FolderCli, SeveralPromptsEqualSingleRunsWithSeedPlusIndex) {
  const std::string folder = trained_folder(GetParam());
  const std::string common = "generate --model " + folder + " --max-tokens 15 --temperature 0.9 --raw";
  const CliResult both = run_xfmr(common + " --seed 4 --prompt 'ROMEO:' --prompt 'First Citizen'", false);
  ASSERT_EQ(both.code, 0) << both.out;
  const std::vector<std::string> lines = json_lines(both.out);
  ASSERT_EQ(lines.size(), 2u) << both.out;
  EXPECT_EQ(lines[0], run_xfmr(common + " --seed 4 --prompt 'ROMEO:'", false).out);
  EXPECT_EQ(lines[1], run_xfmr(common + " --seed 5 --prompt 'First Citizen'", false).out);
  // --prompt-file: one prompt per non-empty line, after any --prompt.
  const std::string file = xfmr::test::temp_dir("prompts") + "/p.txt";
  xfmr::io::write_file_atomic(file, "First Citizen\n\nROMEO:\n");
  const CliResult f = run_xfmr(common + " --seed 3 --prompt 'ROMEO:' --prompt-file " + file, false);
  ASSERT_EQ(f.code, 0) << f.out;
  const std::vector<std::string> fl = json_lines(f.out);
  ASSERT_EQ(fl.size(), 3u) << f.out;
  EXPECT_EQ(fl[0], run_xfmr(common + " --seed 3 --prompt 'ROMEO:'", false).out);
  EXPECT_EQ(fl[1], run_xfmr(common + " --seed 4 --prompt 'First Citizen'", false).out);
  EXPECT_EQ(fl[2], run_xfmr(common + " --seed 5 --prompt 'ROMEO:'", false).out);
  // Without --raw: each text, then a blank line; stats lines name the prompt.
  const CliResult plain = run_xfmr("generate --model " + folder +
                                   " --max-tokens 5 --temperature 0 --prompt 'ROMEO:' --prompt 'ROMEO:'");
  ASSERT_EQ(plain.code, 0) << plain.out;
  EXPECT_NE(plain.out.find("[prompt 2/2]"), std::string::npos) << plain.out;
}

INSTANTIATE_TEST_SUITE_P(Types, FolderCli, ::testing::Values("llama", "gpt2"));

TEST(FolderCli, ConvertedLlamaFolderGeneratesTheSameText) {
  const std::string folder = trained_folder("llama");
  const std::string out = xfmr::test::temp_dir("conv") + "/m.gguf";
  const CliResult c = run_xfmr("convert --in " + folder + " --out " + out + " --type f32");
  ASSERT_EQ(c.code, 0) << c.out;
  const std::string args = " --prompt 'ROMEO:' --temperature 0 --max-tokens 20 --raw";
  const CliResult a = run_xfmr("generate --model " + folder + args, false);
  const CliResult b =
      run_xfmr("generate --model " + out + " --tokenizer " + folder + "/tokenizer.json" + args, false);
  ASSERT_EQ(b.code, 0) << b.out;
  EXPECT_EQ(a.out, b.out);
}

TEST(FolderCli, HfTinyGpt2GeneratesWithAGivenTokenizer) {
  // data/hf-tiny-gpt2 has no tokenizer (vocabulary 21): a 21-character vocabulary stands in.
  const std::string dir = xfmr::test::temp_dir("tiny");
  xfmr::io::write_file_atomic(dir + "/tok.json",
                              R"({"kind": "char", "chars": ["a","b","c","d","e","f","g","h","i","j",
      "k","l","m","n","o","p","q","r","s","t","u"]})");
  const CliResult r =
      run_xfmr("generate --model " + std::string(XFMR_SOURCE_DIR) + "/data/hf-tiny-gpt2 --tokenizer " + dir +
                   "/tok.json --prompt abc --temperature 0 --max-tokens 8 --raw",
               false);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.out.rfind("abc", 0), 0u) << r.out;
  EXPECT_LE(r.out.size(),
            3u + 8u);  // stops early at id 20 ('u', config.json's eos_token_id) if greedy picks it
  // Without --tokenizer: a one-line error naming the folder.
  expect_one_line_error(
      "generate --model " + std::string(XFMR_SOURCE_DIR) + "/data/hf-tiny-gpt2 --prompt abc",
      "no tokenizer for model folder");
}

TEST(FolderCli, BadFoldersAreOneLineErrors) {
  const std::string folder = trained_folder("llama");
  const std::string base = xfmr::test::temp_dir("badfolder");
  const auto copy = [&](const std::string& tag) {
    const std::string d = base + "/" + tag;
    fs::copy(folder, d, fs::copy_options::recursive);
    return d;
  };
  const std::string nocfg = copy("nocfg"), nost = copy("nost"), bert = copy("bert"), notok = copy("notok");
  fs::remove(nocfg + "/config.json");
  fs::remove(nost + "/model.safetensors");
  fs::remove(notok + "/tokenizer.json");
  std::string cfg = xfmr::io::read_file(bert + "/config.json");
  cfg.replace(cfg.find("\"llama\""), 7, "\"bert\"");
  xfmr::io::write_file_atomic(bert + "/config.json", cfg);
  const std::string g = " --prompt 'ROMEO:' --max-tokens 3";
  expect_one_line_error("generate --model " + nocfg + g, "no config.json");
  expect_one_line_error("generate --model " + nost + g, "no model.safetensors");
  expect_one_line_error("generate --model " + bert + g, "model_type 'bert' is not supported");
  expect_one_line_error("generate --model " + notok + g, "no tokenizer for model folder");
  expect_one_line_error("generate --model " + folder + " --max-tokens 3",
                        "--prompt or --prompt-file is required");
  expect_one_line_error("generate --model " + folder + " --prompt-file " + base + "/none.txt",
                        "--prompt-file");
  expect_one_line_error("convert --in " + nost + " --out " + base + "/x.gguf", "no model.safetensors");
}

}  // namespace
