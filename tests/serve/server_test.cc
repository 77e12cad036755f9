// serve::Server over real sockets on 127.0.0.1 (port 0), driven by httplib::Client in threads: concurrent
// completions equal infer::generate for every request; streams concatenate to the non-streamed text; chat and
// usage counts; every malformed request gets its 4xx JSON error and the server keeps answering; a full queue
// answers 503 without hanging; a streaming or non-streaming client that leaves cancels its sequence (running or
// queued).
#include <gtest/gtest.h>
#include <httplib.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "serve/serve_util.h"
#include "xfmr/serve/server.h"

namespace {

using nlohmann::json;
using xfmr::serve::Server;
using xfmr::serve::ServerOptions;
namespace test = xfmr::test;

std::unique_ptr<Server> start_server(ServerOptions opt) {
  opt.host = "127.0.0.1";
  opt.port = 0;
  auto s =
      std::make_unique<Server>(test::stories_weights(), test::stories_tokenizer(), "stories260K.bin", opt);
  s->start();
  return s;
}

httplib::Client client(int port) {
  httplib::Client c("127.0.0.1", port);
  c.set_connection_timeout(5, 0);
  c.set_read_timeout(20, 0);  // a bound: a hung server fails the test instead of stalling it
  c.set_write_timeout(5, 0);
  return c;
}

struct Reply {
  int status = -1;  // -1: no response (the error is in raw)
  json body;        // discarded (is_discarded()) when not JSON
  std::string raw;
};

Reply reply(const httplib::Result& r) {
  if (!r) return {-1, json(), "no response: " + httplib::to_string(r.error())};
  return {r->status, json::parse(r->body, nullptr, false), r->body};
}

Reply post(int port, const std::string& path, const std::string& body) {
  auto c = client(port);
  return reply(c.Post(path.c_str(), body, "application/json"));
}

Reply post(int port, const std::string& path, const json& body) {
  return post(port, path, body.dump());
}

// The SSE events' JSON payloads in order; "[DONE]" must close the stream.
struct Stream {
  int status = -1;
  std::vector<json> events;
  bool done = false;
};

Stream post_stream(int port, const std::string& path, const json& body) {
  auto c = client(port);
  std::string raw;
  httplib::Request req;
  req.method = "POST";
  req.path = path;
  req.body = body.dump();
  req.set_header("Content-Type", "application/json");
  req.content_receiver = [&](const char* d, size_t n, uint64_t, uint64_t) {
    raw.append(d, n);
    return true;
  };
  const auto r = c.send(req);
  Stream s;
  if (!r) return s;
  s.status = r->status;
  size_t at = 0;
  for (size_t end; (end = raw.find("\n\n", at)) != std::string::npos; at = end + 2) {
    const std::string ev = raw.substr(at, end - at);
    if (ev.rfind(":", 0) == 0) continue;  // an SSE comment (keep-alive ping)
    EXPECT_EQ(ev.rfind("data: ", 0), 0u) << ev;
    EXPECT_FALSE(s.done) << "event after [DONE]: " << ev;
    if (ev == "data: [DONE]")
      s.done = true;
    else
      s.events.push_back(json::parse(ev.substr(6)));
  }
  EXPECT_EQ(at, raw.size()) << "trailing bytes: " << raw.substr(at);
  return s;
}

json completion_body(const std::string& prompt, int64_t max_tokens) {
  return {{"model", "stories260K.bin"}, {"prompt", prompt}, {"max_tokens", max_tokens}, {"temperature", 0}};
}

void expect_matches(const Reply& r, const test::Expected& want, const std::string& what) {
  ASSERT_EQ(r.status, 200) << what << ": " << r.raw;
  const json& j = r.body;
  EXPECT_EQ(j["object"], "text_completion") << what;
  EXPECT_EQ(j["model"], "stories260K.bin");
  EXPECT_TRUE(j["id"].is_string() && j["created"].is_number_integer()) << r.raw;
  ASSERT_EQ(j["choices"].size(), 1u) << r.raw;
  EXPECT_EQ(j["choices"][0]["index"], 0);
  EXPECT_EQ(j["choices"][0]["text"], want.text) << what;
  EXPECT_EQ(j["choices"][0]["finish_reason"], want.finish) << what;
  EXPECT_EQ(j["usage"]["prompt_tokens"], want.prompt_tokens) << what;
  EXPECT_EQ(j["usage"]["completion_tokens"], want.completion_tokens) << what;
  EXPECT_EQ(j["usage"]["total_tokens"], want.prompt_tokens + want.completion_tokens) << what;
}

bool healthy(int port) {
  auto c = client(port);
  const Reply r = reply(c.Get("/health"));
  return r.status == 200 && r.body.is_object() && r.body["status"] == "ok";
}

// 8 clients at once, greedy and seeded sampling, each text equal to infer::generate's for its request alone.
TEST(ServeServer, ConcurrentCompletionsEqualGenerate) {
  ServerOptions opt;
  opt.max_slots = 4;
  auto server = start_server(opt);
  const int port = server->port();
  const size_t n = test::serve_prompts().size();
  std::vector<Reply> replies(n);
  std::vector<json> bodies(n);
  std::vector<xfmr::infer::GenerateOptions> opts(n);
  for (size_t i = 0; i < n; ++i) {
    const int64_t max_tokens = 30 + 45 * static_cast<int64_t>(i);
    bodies[i] = completion_body(test::serve_prompts()[i], max_tokens);
    opts[i] = test::greedy(max_tokens);
    if (i % 3 == 2) {
      bodies[i]["temperature"] = 0.8;
      bodies[i]["top_p"] = 0.95;
      bodies[i]["seed"] = 77 + i;
      opts[i].sampler.temperature = 0.8f;
      opts[i].sampler.top_p = 0.95f;
      opts[i].sampler.seed = 77 + i;
    }
  }
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (size_t i = 0; i < n; ++i)
    threads.emplace_back([&, i] {
      ++ready;
      while (ready < static_cast<int>(n)) std::this_thread::yield();
      replies[i] = post(port, "/v1/completions", bodies[i]);
    });
  for (auto& t : threads) t.join();
  for (size_t i = 0; i < n; ++i)
    expect_matches(replies[i], test::expected_generation(test::serve_prompts()[i], opts[i]),
                   bodies[i].dump());
  EXPECT_EQ(server->scheduler().stats().finished, static_cast<int64_t>(n));
  EXPECT_TRUE(healthy(port));
}

TEST(ServeServer, StreamEqualsWholeResponseAndChatWorks) {
  auto server = start_server(ServerOptions{});
  const int port = server->port();
  for (const bool chat : {false, true}) {
    json body = chat ? json{{"messages", {{{"role", "user"}, {"content", "Tell me about Lily"}}}}}
                     : json{{"prompt", "Lily and Ben went to the park"}};
    body["max_tokens"] = 120;
    body["temperature"] = 0;
    body["stop"] = {"sad"};
    const std::string path = chat ? "/v1/chat/completions" : "/v1/completions";
    const Reply whole = post(port, path, body);
    ASSERT_EQ(whole.status, 200) << whole.raw;
    const json& choice = whole.body["choices"][0];
    const std::string text =
        chat ? choice["message"]["content"].get<std::string>() : choice["text"].get<std::string>();
    // The oracle: the same prompt text through infer::generate.
    const std::string prompt =
        chat ? "user: Tell me about Lily\nassistant:" : "Lily and Ben went to the park";
    std::vector<std::string> stops = {"sad"};
    if (chat) stops = {"\nuser:", "\nsystem:", "sad"};
    const test::Expected want = test::expected_generation(prompt, test::greedy(120, stops));
    EXPECT_EQ(text, want.text);
    EXPECT_EQ(choice["finish_reason"], want.finish);
    EXPECT_EQ(whole.body["usage"]["prompt_tokens"], want.prompt_tokens);
    EXPECT_EQ(whole.body["usage"]["completion_tokens"], want.completion_tokens);
    if (chat) {
      EXPECT_EQ(whole.body["object"], "chat.completion");
      EXPECT_EQ(choice["message"]["role"], "assistant");
    }

    body["stream"] = true;
    body["stream_options"] = {{"include_usage", true}};
    const Stream s = post_stream(port, path, body);
    ASSERT_EQ(s.status, 200);
    EXPECT_TRUE(s.done);
    ASSERT_GE(s.events.size(), 3u);
    std::string streamed;
    size_t first = 0;
    if (chat) {
      EXPECT_EQ(s.events[0]["choices"][0]["delta"]["role"], "assistant");
      first = 1;
    }
    for (size_t i = first; i + 2 < s.events.size(); ++i) {
      const json& c = s.events[i]["choices"][0];
      EXPECT_TRUE(c["finish_reason"].is_null());
      streamed += chat ? c["delta"]["content"].get<std::string>() : c["text"].get<std::string>();
      EXPECT_EQ(s.events[i]["object"], chat ? "chat.completion.chunk" : "text_completion");
      EXPECT_EQ(s.events[i]["id"], s.events[0]["id"]);
    }
    EXPECT_EQ(streamed, text);
    EXPECT_EQ(s.events[s.events.size() - 2]["choices"][0]["finish_reason"], want.finish);
    const json& usage = s.events.back();
    EXPECT_TRUE(usage["choices"].empty());
    EXPECT_EQ(usage["usage"], whole.body["usage"]);
  }
}

struct Bad {
  std::string method, path, body;
  int status;
};

TEST(ServeServer, MalformedRequestsGetJsonErrors) {
  ServerOptions opt;
  opt.max_prompt_tokens = 32;
  opt.max_body_bytes = 4096;
  auto server = start_server(opt);
  const int port = server->port();
  std::string long_prompt;
  for (int i = 0; i < 40; ++i) long_prompt += "the cat sat. ";
  const std::vector<Bad> cases = {
      {"POST", "/v1/completions", "{not json", 400},
      {"POST", "/v1/completions", "", 400},
      {"POST", "/v1/completions", "[1, 2]", 400},
      {"POST", "/v1/completions", R"({"max_tokens": 5})", 400},
      {"POST", "/v1/completions", R"({"prompt": 12})", 400},
      {"POST", "/v1/completions", R"({"prompt": "a", "max_tokens": -3})", 400},
      {"POST", "/v1/completions", R"({"prompt": "a", "max_tokens": "3"})", 400},
      {"POST", "/v1/completions", R"({"prompt": "a", "temperature": -1})", 400},
      {"POST", "/v1/completions", R"({"prompt": "a", "top_p": 0})", 400},
      {"POST", "/v1/completions", R"({"prompt": "a", "top_p": 1.01})", 400},
      {"POST", "/v1/completions", R"({"prompt": "a", "stop": {"x": 1}})", 400},
      {"POST", "/v1/completions", R"({"prompt": "a", "stream": 1})", 400},
      {"POST", "/v1/completions", json{{"prompt", long_prompt}}.dump(), 400},
      {"POST", "/v1/chat/completions", R"({"prompt": "a"})", 400},
      {"POST", "/v1/chat/completions", R"({"messages": [{"role": "user"}], "temperature": "x"})", 400},
      {"POST", "/v1/chat/completions", R"({"messages": [{"role": 1, "content": "x"}]})", 400},
      {"POST", "/v1/completions", json{{"prompt", std::string(5000, 'a')}}.dump(), 413},
      {"GET", "/v1/completions", "", 405},
      {"GET", "/v1/chat/completions", "", 405},
      {"PUT", "/v1/completions", "{}", 405},
      {"POST", "/health", "{}", 405},
      {"DELETE", "/v1/models", "", 405},
      {"GET", "/v2/nothing", "", 404},
      {"POST", "/v1/embeddings", "{}", 404},
  };
  for (const Bad& b : cases) {
    auto c = client(port);
    httplib::Result r = b.method == "GET"      ? c.Get(b.path.c_str())
                        : b.method == "PUT"    ? c.Put(b.path.c_str(), b.body, "application/json")
                        : b.method == "DELETE" ? c.Delete(b.path.c_str())
                                               : c.Post(b.path.c_str(), b.body, "application/json");
    const Reply rep = reply(r);
    const std::string what = b.method + " " + b.path + " " + b.body.substr(0, 80);
    EXPECT_EQ(rep.status, b.status) << what << ": " << rep.raw;
    ASSERT_TRUE(rep.body.is_object()) << what << ": " << rep.raw;
    EXPECT_TRUE(rep.body["error"]["message"].is_string()) << rep.raw;
    EXPECT_FALSE(rep.body["error"]["message"].get<std::string>().empty());
    EXPECT_EQ(rep.body["error"]["type"], "invalid_request_error") << rep.raw;
    ASSERT_TRUE(healthy(port)) << "after " << what;
  }
  // The prompt limit names the code; unknown OpenAI fields are ignored.
  Reply r = post(port, "/v1/completions", json{{"prompt", long_prompt}});
  EXPECT_EQ(r.body["error"]["code"], "context_length_exceeded") << r.raw;
  r = post(port, "/v1/completions",
           json{{"prompt", "The cat"}, {"max_tokens", 3}, {"user", "me"}, {"logit_bias", json::object()}});
  EXPECT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["usage"]["completion_tokens"], 3);
  auto c = client(port);
  const Reply models = reply(c.Get("/v1/models"));
  ASSERT_EQ(models.status, 200);
  EXPECT_EQ(models.body["object"], "list");
  EXPECT_EQ(models.body["data"][0]["id"], "stories260K.bin");
}

// One slot, one queue place, 8 clients at once: some are told 503 (JSON), the others get the right text, and
// nobody hangs.
TEST(ServeServer, FullQueueAnswers503) {
  ServerOptions opt;
  opt.max_slots = 1;
  opt.queue_size = 1;
  opt.iteration_delay_us = 1000;  // ~1 ms a token: a 60-token request holds the slot ~60 ms
  auto server = start_server(opt);
  const int port = server->port();
  const int n = 8;
  std::vector<Reply> replies(n);
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i)
    threads.emplace_back([&, i] {
      ++ready;
      while (ready < n) std::this_thread::yield();
      replies[i] = post(port, "/v1/completions", completion_body("Once upon a time", 60));
    });
  for (auto& t : threads) t.join();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(secs, 15.0);
  const test::Expected want = test::expected_generation("Once upon a time", test::greedy(60));
  int ok = 0, busy = 0;
  for (const Reply& r : replies) {
    if (r.status == 503) {
      ++busy;
      EXPECT_EQ(r.body["error"]["code"], "server_busy") << r.raw;
    } else {
      ++ok;
      expect_matches(r, want, "queued request");
    }
  }
  EXPECT_GE(busy, 1);
  EXPECT_GE(ok, 2);  // the first in the slot and the one in the queue
  EXPECT_TRUE(healthy(port));
}

// A streaming client that closes its connection after a few chunks: its sequence is cancelled (the slot
// freed long before its 400 tokens), and the server goes on serving.
TEST(ServeServer, StreamingClientDisconnectCancels) {
  ServerOptions opt;
  opt.max_slots = 2;
  opt.iteration_delay_us = 2000;
  auto server = start_server(opt);
  const int port = server->port();
  auto c = client(port);
  httplib::Request req;
  req.method = "POST";
  req.path = "/v1/completions";
  json body = completion_body("Once upon a time", 400);
  body["stream"] = true;
  req.body = body.dump();
  req.set_header("Content-Type", "application/json");
  int chunks = 0;
  req.content_receiver = [&](const char*, size_t, uint64_t, uint64_t) { return ++chunks < 3; };
  const auto r = c.send(req);  // the receiver's false aborts the read and closes the connection
  EXPECT_FALSE(r);
  c.stop();
  const auto t0 = std::chrono::steady_clock::now();
  while (server->scheduler().stats().finished < 1 &&
         std::chrono::steady_clock::now() - t0 < std::chrono::seconds(10))
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const auto st = server->scheduler().stats();
  EXPECT_EQ(st.cancelled, 1);
  EXPECT_EQ(st.active, 0);
  EXPECT_LT(st.tokens, 300);
  EXPECT_TRUE(healthy(port));
  const Reply after = post(port, "/v1/completions", completion_body("The cat", 5));
  EXPECT_EQ(after.status, 200) << after.raw;
}

// A bare TCP client: connects, sends one non-streaming completion request and keeps the socket until close().
struct RawClient {
  int fd = -1;
  RawClient(int port, const json& body) {
    fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      ADD_FAILURE() << "connect failed";
      return;
    }
    const std::string b = body.dump();
    const std::string msg = "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                            "Content-Length: " + std::to_string(b.size()) + "\r\n\r\n" + b;
    EXPECT_EQ(send(fd, msg.data(), msg.size(), 0), static_cast<ssize_t>(msg.size()));
  }
  void close_now() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
  ~RawClient() { close_now(); }
};

template <class Pred>
bool wait_for(Pred pred, int ms) {
  const auto t0 = std::chrono::steady_clock::now();
  while (!pred()) {
    if (std::chrono::steady_clock::now() - t0 > std::chrono::milliseconds(ms)) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

// Non-streaming clients that close their connection before the answer: the running one's sequence is cancelled
// (its slot freed long before its 400 tokens), the queued one gives up its place without running, and the
// server goes on serving.
TEST(ServeServer, NonStreamingClientDisconnectCancels) {
  ServerOptions opt;
  opt.max_slots = 1;
  opt.queue_size = 2;
  opt.iteration_delay_us = 2000;  // ~500 tokens/s: 400 tokens take ~0.8 s or more
  auto server = start_server(opt);
  const int port = server->port();
  const auto t0 = std::chrono::steady_clock::now();
  RawClient running(port, completion_body("Once upon a time", 400));
  ASSERT_TRUE(wait_for([&] { return server->scheduler().stats().active == 1; }, 10000));
  RawClient queued(port, completion_body("The cat", 400));
  ASSERT_TRUE(wait_for([&] { return server->scheduler().stats().waiting == 1; }, 10000));
  queued.close_now();
  ASSERT_TRUE(wait_for([&] { return server->scheduler().stats().cancelled == 1; }, 10000));
  auto st = server->scheduler().stats();
  EXPECT_EQ(st.waiting, 0);
  EXPECT_EQ(st.active, 1);  // the running one is unaffected
  running.close_now();
  ASSERT_TRUE(wait_for([&] { return server->scheduler().stats().finished == 2; }, 10000));
  st = server->scheduler().stats();
  EXPECT_EQ(st.cancelled, 2);
  EXPECT_EQ(st.active, 0);
  EXPECT_LT(st.tokens, 300);  // the queued job never ran; the running one stopped early
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 10.0);
  EXPECT_TRUE(healthy(port));
  const Reply after = post(port, "/v1/completions", completion_body("The cat", 5));
  EXPECT_EQ(after.status, 200) << after.raw;
  EXPECT_EQ(server->scheduler().stats().cancelled, 2);  // a client that stays is answered, not cancelled
}

TEST(ServeServer, StopEndsQueuedAndRunningRequests) {
  ServerOptions opt;
  opt.max_slots = 1;
  opt.queue_size = 4;
  opt.iteration_delay_us = 2000;
  auto server = start_server(opt);
  const int port = server->port();
  std::vector<Reply> replies(3);
  std::vector<std::thread> threads;
  for (int i = 0; i < 3; ++i)
    threads.emplace_back(
        [&, i] { replies[i] = post(port, "/v1/completions", completion_body("Once upon a time", 400)); });
  const auto all_in = [&] {
    const auto st = server->scheduler().stats();
    return st.active == 1 && st.waiting == 2;
  };
  for (int i = 0; i < 5000 && !all_in(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_TRUE(all_in());
  server->stop();
  for (auto& t : threads) t.join();
  EXPECT_EQ(post(port, "/v1/completions", completion_body("Hi", 2)).status, -1);  // no longer listening
  for (const Reply& r : replies) {
    EXPECT_EQ(r.status, 503) << r.raw;
    EXPECT_NE(r.raw.find("shutting down"), std::string::npos) << r.raw;
  }
}

}  // namespace
