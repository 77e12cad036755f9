// The OpenAI-compatible request and response JSON of `xfmr serve` (POST /v1/completions and
// /v1/chat/completions), separate from the HTTP plumbing so it can be tested without sockets.
//
// Request fields understood (others, such as "user" or "logit_bias" absent, are ignored as OpenAI clients
// send many; a known field of the wrong type is an error; null means absent):
//   prompt (completions): a string, or an array holding one string
//   messages (chat): [{role: system|developer|user|assistant|tool, content: string | [{type: "text", text}]}]
//   model: string (ignored: the server holds one model)
//   max_tokens (chat also max_completion_tokens): integer >= 0, clamped to the server's cap; default 16 for
//     completions (as OpenAI), the cap for chat
//   temperature: number >= 0 (0: greedy; default 1)    top_p: number in (0, 1] (default 1)
//   top_k: integer >= 0 (0: off)    min_p: number in [0, 1]    repeat_penalty: number > 0 (1: off)
//   frequency_penalty, presence_penalty: only 0 (not implemented: use repeat_penalty)
//   n: only 1    echo: only false    logprobs: only null/false/0
//   seed: integer (default: a fresh random seed per request)
//   stop: a string or an array of at most 4 strings (empty ones are ignored); never part of the text
//   stream: bool; stream_options: {include_usage: bool}
//
// Chat template: these base models have none, so messages are rendered as a plain transcript, one
// "role: content\n" line per message, then "assistant:" for the model to continue; generation also stops at
// "\nuser:" and "\nsystem:" so the model does not write the next turn.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "xfmr/infer/sampler.h"

namespace xfmr::serve {

// A request the server refuses: the HTTP status and OpenAI's error fields.
class ApiError : public std::runtime_error {
 public:
  ApiError(int status, const std::string& message, std::string type = "invalid_request_error",
           std::string param = "", std::string code = "")
      : std::runtime_error(message),
        status(status),
        type(std::move(type)),
        param(std::move(param)),
        code(std::move(code)) {}
  int status;
  std::string type, param, code;
};

struct CompletionRequest {
  bool chat = false;
  std::string prompt;  // the text to encode (chat: the rendered transcript)
  int64_t max_tokens = 0;
  infer::SamplerConfig sampler;
  std::vector<std::string> stop;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage: a last chunk with the usage
};

// Parses and validates a request body. max_tokens_cap: the server's --max-tokens. Throws ApiError (400).
CompletionRequest parse_completion_request(const nlohmann::json& body, bool chat, int64_t max_tokens_cap);

// The transcript of the chat template above, from a validated "messages" array.
std::string render_chat(const nlohmann::json& messages);

// {"error": {"message", "type", "param", "code"}} (param and code null when empty).
nlohmann::json error_json(const std::string& message, const std::string& type = "invalid_request_error",
                          const std::string& param = "", const std::string& code = "");

// "stop" (EOS, a stop string) or "length" (the token budget or the context) from infer's stop reasons.
std::string finish_reason(const std::string& stop_reason);

// The longest prefix of s that does not end inside a UTF-8 sequence: a stream sends whole characters only
// (a token can end mid-character; JSON needs valid UTF-8), holding the rest for the next piece.
size_t complete_utf8_prefix(std::string_view s);

// What every response and chunk of one request shares.
struct ResponseHead {
  std::string id;     // "cmpl-..." or "chatcmpl-..."
  int64_t created;    // Unix seconds
  std::string model;  // the model id
  bool chat;
};

nlohmann::json usage_json(int64_t prompt_tokens, int64_t completion_tokens);
// The whole (non-streamed) response.
nlohmann::json completion_json(const ResponseHead& h, const std::string& text, const std::string& finish,
                               int64_t prompt_tokens, int64_t completion_tokens);
// One streamed chunk: a text piece (finish empty: finish_reason null), or the last one (text empty, finish
// set). Chat chunks carry delta {content}; the first one (role_only) delta {role: "assistant", content: ""}.
nlohmann::json chunk_json(const ResponseHead& h, const std::string& text, const std::string& finish,
                          bool role_only = false);
// The usage chunk of stream_options.include_usage: choices [] and usage.
nlohmann::json usage_chunk_json(const ResponseHead& h, int64_t prompt_tokens, int64_t completion_tokens);

}  // namespace xfmr::serve
