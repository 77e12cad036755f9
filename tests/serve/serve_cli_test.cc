// End-to-end: `xfmr serve --port 0` prints the URL it listens on, answers a completion with exactly
// `xfmr generate --temperature 0 --raw`'s continuation, and exits 0 on SIGTERM; bad flags are one-line
// errors.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "infer/stories_data.h"
#include "support/cli_run.h"

extern char** environ;

namespace {

using nlohmann::json;

// `xfmr serve ARGS` as a child process whose stdout+stderr we read through a pipe.
struct ServeProcess {
  pid_t pid = -1;
  FILE* out = nullptr;

  explicit ServeProcess(const std::vector<std::string>& args) {
    int fds[2];
    EXPECT_EQ(pipe(fds), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    const char* env = std::getenv("XFMR_BIN");
    std::vector<std::string> all = {env ? env : XFMR_CLI_PATH, "serve"};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    EXPECT_EQ(posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    out = fdopen(fds[0], "r");
  }
  std::string line() {
    char buf[4096];
    return std::fgets(buf, sizeof buf, out) ? std::string(buf) : std::string();
  }
  std::string rest() {
    std::string s;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, out)) > 0) s.append(buf, n);
    return s;
  }
  int wait_exit() {
    int status = 0;
    waitpid(pid, &status, 0);
    pid = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  ~ServeProcess() {
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
    if (out) std::fclose(out);
  }
};

TEST(ServeCli, ListensAnswersAndStopsOnSigterm) {
  ServeProcess p({"--model", xfmr::test::stories_bin(), "--port", "0", "--max-slots", "2", "--threads", "1"});
  const std::string first = p.line();
  const std::string url = "http://127.0.0.1:";
  const size_t at = first.find(url);
  ASSERT_NE(at, std::string::npos) << first;
  const int port = std::atoi(first.c_str() + at + url.size());
  ASSERT_GT(port, 0);

  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(20, 0);
  const auto health = c.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(json::parse(health->body)["status"], "ok");
  const auto r =
      c.Post("/v1/completions", R"({"prompt": "Once upon a time", "max_tokens": 50, "temperature": 0})",
             "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const std::string served = json::parse(r->body)["choices"][0]["text"];
  const auto gen = xfmr::test::run_xfmr("generate --model " + xfmr::test::stories_bin() +
                                        " --prompt 'Once upon a time' --temperature 0 --max-tokens 50 --raw");
  ASSERT_EQ(gen.code, 0) << gen.out;
  EXPECT_EQ("Once upon a time" + served, gen.out);

  ASSERT_EQ(kill(p.pid, SIGTERM), 0);
  const std::string rest = p.rest();
  EXPECT_EQ(p.wait_exit(), 0) << rest;
  EXPECT_NE(rest.find("shutting down"), std::string::npos) << rest;
}

TEST(ServeCli, HelpAndBadFlags) {
  auto r = xfmr::test::run_xfmr("serve --help");
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("--max-slots"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Examples"), std::string::npos) << r.out;
  r = xfmr::test::run_xfmr("serve --port 0");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("--model"), std::string::npos) << r.out;
  r = xfmr::test::run_xfmr("serve --model " + xfmr::test::stories_bin() + " --max-slots 0");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("--max-slots"), std::string::npos) << r.out;
  EXPECT_EQ(xfmr::test::count_lines(r.out), 1) << r.out;
  r = xfmr::test::run_xfmr("serve --model " + xfmr::test::stories_bin() + " --port 70000");
  EXPECT_EQ(r.code, 1);
  r = xfmr::test::run_xfmr("serve --model /nonexistent.bin --port 0");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("/nonexistent.bin"), std::string::npos) << r.out;
}

}  // namespace
