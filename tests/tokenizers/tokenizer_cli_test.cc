// End-to-end: `xfmr tokenizer encode/decode/train` as a user runs them, through stdin and files, and their one-line
// errors.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "tokenizers/tok_test_util.h"

namespace {

namespace fs = std::filesystem;

struct RunResult {
  int code;
  std::string out, err;
};

// Runs the CLI with `input` on stdin; stdout and stderr are captured separately (stdout must be exact).
RunResult run_xfmr(const std::string& args, const std::string& input) {
  const fs::path dir = fs::temp_directory_path();
  const std::string tag = std::to_string(::getpid());
  const fs::path in = dir / ("xfmr_tok_cli_in_" + tag), out = dir / ("xfmr_tok_cli_out_" + tag),
                 err = dir / ("xfmr_tok_cli_err_" + tag);
  { std::ofstream(in, std::ios::binary) << input; }
  const char* env = std::getenv("XFMR_BIN");
  const std::string cmd = std::string(env ? env : XFMR_CLI_PATH) + " " + args + " < " + in.string() + " > " +
                          out.string() + " 2> " + err.string();
  const int status = std::system(cmd.c_str());
  RunResult r{WIFEXITED(status) ? WEXITSTATUS(status) : -1, xfmr::test::slurp(out.string()),
              xfmr::test::slurp(err.string())};
  fs::remove(in), fs::remove(out), fs::remove(err);
  return r;
}

const std::string kGpt2 = xfmr::test::tok_data("gpt2");

TEST(TokenizerCli, EncodeDecodeThroughStdin) {
  RunResult r = run_xfmr("tokenizer encode --tokenizer " + kGpt2, "Hello world");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "[15496,995]\n");
  r = run_xfmr("tokenizer decode --tokenizer " + kGpt2, "[15496, 995]");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "Hello world");
  // Exact bytes both ways, including newlines and invalid UTF-8.
  const std::string text = "line one\n\ttwo \xff\xfe end\n\n";
  r = run_xfmr("tokenizer encode --tokenizer " + kGpt2, text);
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << "one JSON line";
  const RunResult back = run_xfmr("tokenizer decode --tokenizer " + kGpt2, r.out);
  ASSERT_EQ(back.code, 0) << back.err;
  EXPECT_EQ(back.out, text);
  // Llama with --bos.
  r = run_xfmr("tokenizer encode --bos --tokenizer " + xfmr::test::tok_data("llama2/tokenizer.model"),
               "I believe the meaning of life is");
  EXPECT_EQ(r.out, "[1,306,4658,278,6593,310,2834,338]\n");
}

TEST(TokenizerCli, FilesAndTraining) {
  const fs::path dir = fs::temp_directory_path() / "xfmr_tok_cli_train";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string out = (dir / "tok.json").string();
  RunResult r = run_xfmr("tokenizer train --corpus " + xfmr::test::tok_data("bpe-train-reference/corpus.en") +
                             " --vocab-size 500 --out " + out, "");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("243 merges"), std::string::npos) << r.err;
  const auto j = nlohmann::json::parse(xfmr::test::slurp(out));
  EXPECT_EQ(j["model"]["vocab"],
            nlohmann::json::parse(xfmr::test::slurp(xfmr::test::tok_data("bpe-train-reference/train-bpe-reference-vocab.json"))));
  std::ofstream(dir / "text.txt") << "the cat<|endoftext|>";
  r = run_xfmr("tokenizer encode --tokenizer " + out + " --text-file " + (dir / "text.txt").string(), "");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.substr(r.out.size() - 4), ",0]\n");  // <|endoftext|> is id 0
  std::ofstream(dir / "ids.json") << r.out;
  r = run_xfmr("tokenizer decode --tokenizer " + out + " --ids-file " + (dir / "ids.json").string(), "");
  EXPECT_EQ(r.out, "the cat<|endoftext|>");
  fs::remove_all(dir);
}

TEST(TokenizerCli, OneLineErrors) {
  auto expect_err = [](const std::string& args, const std::string& input, const std::string& part) {
    const RunResult r = run_xfmr(args, input);
    EXPECT_NE(r.code, 0) << args;
    EXPECT_NE(r.err.find(part), std::string::npos) << args << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  };
  expect_err("tokenizer decode --tokenizer " + kGpt2, "[1, 99999]", "id 99999");
  expect_err("tokenizer decode --tokenizer " + kGpt2, "[1, \"x\"]", "element 1");
  expect_err("tokenizer decode --tokenizer " + kGpt2, "hello", "not JSON");
  expect_err("tokenizer encode", "x", "--tokenizer PATH is required");
  expect_err("tokenizer encode --tokenizer /nonexistent/tok", "x", "no such tokenizer");
  expect_err("tokenizer frobnicate", "", "unknown subcommand 'frobnicate'");
  expect_err("tokenizer train --corpus /nonexistent.txt --vocab-size 300 --out /tmp/x.json", "", "/nonexistent.txt");
  expect_err("tokenizer train --corpus " + xfmr::test::tok_data("bpe-train-reference/corpus.en") +
                 " --vocab-size 10 --out /tmp/xfmr_never_written.json",
             "", "vocab_size 10 is smaller");
  expect_err("tokenizer train --corpus x --vocab-size ten --out y", "", "--vocab-size expects an integer");
  const RunResult help = run_xfmr("tokenizer encode --help", "");
  EXPECT_EQ(help.code, 0);
  EXPECT_NE(help.out.find("Examples"), std::string::npos);
}

}  // namespace
