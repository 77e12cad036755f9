// serve/api.h without sockets: request parsing (defaults, clamping, every refused field naming itself), the
// chat transcript, and the response shapes.
#include <gtest/gtest.h>

#include "xfmr/serve/api.h"

namespace {

using nlohmann::json;
using xfmr::serve::ApiError;
using xfmr::serve::parse_completion_request;

TEST(ServeApi, CompletionDefaultsAndFields) {
  auto r = parse_completion_request(json{{"prompt", "hi"}}, false, 100);
  EXPECT_EQ(r.prompt, "hi");
  EXPECT_EQ(r.max_tokens, 16);  // OpenAI's default for completions
  EXPECT_EQ(r.sampler.temperature, 1.0f);
  EXPECT_EQ(r.sampler.top_p, 1.0f);
  EXPECT_FALSE(r.stream);
  EXPECT_TRUE(r.stop.empty());

  r = parse_completion_request(json::parse(R"({"prompt": ["one"], "max_tokens": 1000, "temperature": 0,
      "top_p": 0.5, "top_k": 7, "min_p": 0.1, "repeat_penalty": 1.3, "seed": 42, "stop": ["a", "", "bc"],
      "stream": true, "stream_options": {"include_usage": true}, "user": "x", "logit_bias": null,
      "frequency_penalty": 0, "n": 1, "echo": false, "model": "whatever", "suffix": null})"),
                               false, 100);
  EXPECT_EQ(r.prompt, "one");
  EXPECT_EQ(r.max_tokens, 100);  // clamped to the cap
  EXPECT_EQ(r.sampler.temperature, 0.0f);
  EXPECT_FLOAT_EQ(r.sampler.top_p, 0.5f);
  EXPECT_EQ(r.sampler.top_k, 7);
  EXPECT_FLOAT_EQ(r.sampler.min_p, 0.1f);
  EXPECT_FLOAT_EQ(r.sampler.repeat_penalty, 1.3f);
  EXPECT_EQ(r.sampler.seed, 42u);
  EXPECT_EQ(r.stop, (std::vector<std::string>{"a", "bc"}));
  EXPECT_TRUE(r.stream);
  EXPECT_TRUE(r.include_usage);
  r = parse_completion_request(json{{"prompt", "hi"}, {"stop", "x"}, {"max_tokens", nullptr}}, false, 8);
  EXPECT_EQ(r.stop, std::vector<std::string>{"x"});
  EXPECT_EQ(r.max_tokens, 8);
}

TEST(ServeApi, ChatTranscript) {
  const json body = json::parse(R"({"messages": [{"role": "system", "content": "Be brief."},
      {"role": "user", "content": [{"type": "text", "text": "Hi "}, {"type": "text", "text": "there"}]},
      {"role": "assistant", "content": "Hello."}, {"role": "user", "content": "Story?"}],
      "max_completion_tokens": 5, "stop": "!"})");
  const auto r = parse_completion_request(body, true, 64);
  EXPECT_EQ(r.prompt, "system: Be brief.\nuser: Hi there\nassistant: Hello.\nuser: Story?\nassistant:");
  EXPECT_EQ(r.max_tokens, 5);
  EXPECT_EQ(r.stop, (std::vector<std::string>{"\nuser:", "\nsystem:", "!"}));
  EXPECT_EQ(
      parse_completion_request(json::parse(R"({"messages": [{"role": "user", "content": "x"}]})"), true, 64)
          .max_tokens,
      64);  // chat: up to the cap
}

// Every refused body throws a 400 that names the offending field.
TEST(ServeApi, RefusedBodiesNameTheField) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({})", "prompt"},
      {R"({"prompt": 3})", "prompt"},
      {R"({"prompt": ["a", "b"]})", "prompt"},
      {R"({"prompt": [1]})", "prompt"},
      {R"({"prompt": "a", "max_tokens": -1})", "max_tokens"},
      {R"({"prompt": "a", "max_tokens": "5"})", "max_tokens"},
      {R"({"prompt": "a", "max_tokens": 2.5})", "max_tokens"},
      {R"({"prompt": "a", "temperature": -0.1})", "temperature"},
      {R"({"prompt": "a", "temperature": "hot"})", "temperature"},
      {R"({"prompt": "a", "top_p": 0})", "top_p"},
      {R"({"prompt": "a", "top_p": 1.5})", "top_p"},
      {R"({"prompt": "a", "top_k": -2})", "top_k"},
      {R"({"prompt": "a", "min_p": 2})", "min_p"},
      {R"({"prompt": "a", "repeat_penalty": 0})", "repeat_penalty"},
      {R"({"prompt": "a", "frequency_penalty": 0.5})", "frequency_penalty"},
      {R"({"prompt": "a", "presence_penalty": "x"})", "presence_penalty"},
      {R"({"prompt": "a", "n": 2})", "n"},
      {R"({"prompt": "a", "echo": true})", "echo"},
      {R"({"prompt": "a", "logprobs": 5})", "logprobs"},
      {R"({"prompt": "a", "seed": "x"})", "seed"},
      {R"({"prompt": "a", "stop": 5})", "stop"},
      {R"({"prompt": "a", "stop": [1]})", "stop"},
      {R"({"prompt": "a", "stop": ["a", "b", "c", "d", "e"]})", "stop"},
      {R"({"prompt": "a", "stream": "yes"})", "stream"},
      {R"({"prompt": "a", "stream_options": 1})", "stream_options"},
      {R"({"prompt": "a", "model": 7})", "model"},
  };
  for (const auto& [body, param] : cases) {
    try {
      parse_completion_request(json::parse(body), false, 100);
      ADD_FAILURE() << "accepted " << body;
    } catch (const ApiError& e) {
      EXPECT_EQ(e.status, 400) << body;
      EXPECT_EQ(e.param, param) << body << ": " << e.what();
      EXPECT_EQ(e.type, "invalid_request_error");
    }
  }
  const std::vector<std::string> chat_cases = {
      R"({"prompt": "a"})",
      R"({"messages": []})",
      R"({"messages": "hi"})",
      R"({"messages": [{"content": "x"}]})",
      R"({"messages": [{"role": "wizard", "content": "x"}]})",
      R"({"messages": [{"role": "user", "content": 5}]})",
      R"({"messages": [{"role": "user", "content": [{"type": "image_url"}]}]})",
      R"({"messages": [3]})",
  };
  for (const auto& body : chat_cases) {
    try {
      parse_completion_request(json::parse(body), true, 100);
      ADD_FAILURE() << "accepted " << body;
    } catch (const ApiError& e) {
      EXPECT_EQ(e.param, "messages") << body;
    }
  }
  EXPECT_THROW(parse_completion_request(json::array({1}), false, 100), ApiError);
}

TEST(ServeApi, ResponseShapes) {
  const xfmr::serve::ResponseHead c{"cmpl-1", 123, "m.bin", false}, ch{"chatcmpl-2", 123, "m.bin", true};
  json j = xfmr::serve::completion_json(c, "abc", "length", 4, 3);
  EXPECT_EQ(j["object"], "text_completion");
  EXPECT_EQ(j["choices"][0]["text"], "abc");
  EXPECT_EQ(j["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(j["usage"], json::parse(R"({"prompt_tokens": 4, "completion_tokens": 3, "total_tokens": 7})"));
  j = xfmr::serve::completion_json(ch, "abc", "stop", 4, 3);
  EXPECT_EQ(j["object"], "chat.completion");
  EXPECT_EQ(j["choices"][0]["message"], json::parse(R"({"role": "assistant", "content": "abc"})"));
  j = xfmr::serve::chunk_json(ch, "", "", true);
  EXPECT_EQ(j["object"], "chat.completion.chunk");
  EXPECT_EQ(j["choices"][0]["delta"]["role"], "assistant");
  EXPECT_TRUE(j["choices"][0]["finish_reason"].is_null());
  j = xfmr::serve::chunk_json(ch, "", "stop");
  EXPECT_TRUE(j["choices"][0]["delta"].empty());
  EXPECT_EQ(xfmr::serve::chunk_json(c, "x", "")["choices"][0]["text"], "x");
  EXPECT_EQ(xfmr::serve::usage_chunk_json(c, 1, 2)["usage"]["total_tokens"], 3);
  EXPECT_EQ(xfmr::serve::finish_reason("eos"), "stop");
  EXPECT_EQ(xfmr::serve::finish_reason("context"), "length");
  const json e = xfmr::serve::error_json("bad", "invalid_request_error", "top_p");
  EXPECT_EQ(e["error"]["param"], "top_p");
  EXPECT_TRUE(e["error"]["code"].is_null());
}

TEST(ServeApi, Utf8HoldBack) {
  using xfmr::serve::complete_utf8_prefix;
  const std::string euro = "\xE2\x82\xAC", emoji = "\xF0\x9F\x98\x80", e_acute = "\xC3\xA9";
  EXPECT_EQ(complete_utf8_prefix(""), 0u);
  EXPECT_EQ(complete_utf8_prefix("abc"), 3u);
  EXPECT_EQ(complete_utf8_prefix("a" + euro), 4u);
  EXPECT_EQ(complete_utf8_prefix("a" + euro.substr(0, 1)), 1u);
  EXPECT_EQ(complete_utf8_prefix("a" + euro.substr(0, 2)), 1u);
  EXPECT_EQ(complete_utf8_prefix("ab" + emoji.substr(0, 3)), 2u);
  EXPECT_EQ(complete_utf8_prefix(emoji), 4u);
  EXPECT_EQ(complete_utf8_prefix("x" + e_acute.substr(0, 1)), 1u);
  EXPECT_EQ(complete_utf8_prefix("x" + e_acute), 3u);
  // Split anywhere, the whole characters sent plus the held bytes rebuild the text.
  const std::string text = "a" + euro + "b" + emoji + e_acute + "c";
  for (size_t cut = 0; cut <= text.size(); ++cut) {
    const size_t whole = complete_utf8_prefix(text.substr(0, cut));
    EXPECT_LE(cut - whole, 3u);
    EXPECT_EQ(complete_utf8_prefix(text.substr(0, whole)), whole);
  }
}

}  // namespace
