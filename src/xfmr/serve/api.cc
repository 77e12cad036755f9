#include "xfmr/serve/api.h"

#include <cmath>
#include <limits>
#include <random>

namespace xfmr::serve {

using nlohmann::json;

namespace {

[[noreturn]] void bad(const std::string& param, const std::string& message) {
  throw ApiError(400, message, "invalid_request_error", param);
}

// The field, or nullptr when absent or null (OpenAI clients send null for "not set").
const json* field(const json& body, const char* name) {
  const auto it = body.find(name);
  return it == body.end() || it->is_null() ? nullptr : &*it;
}

std::string type_name(const json& v) {
  return v.type_name();
}

double number(const json& v, const char* name) {
  if (!v.is_number()) bad(name, std::string("'") + name + "' must be a number, got " + type_name(v));
  const double d = v.get<double>();
  if (!std::isfinite(d)) bad(name, std::string("'") + name + "' must be finite");
  return d;
}

int64_t integer(const json& v, const char* name) {
  if (!v.is_number_integer())
    bad(name, std::string("'") + name + "' must be an integer, got " + type_name(v));
  if (v.is_number_unsigned() &&
      v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    return std::numeric_limits<int64_t>::max();
  return v.get<int64_t>();
}

bool boolean(const json& v, const char* name) {
  if (!v.is_boolean()) bad(name, std::string("'") + name + "' must be a boolean, got " + type_name(v));
  return v.get<bool>();
}

std::vector<std::string> stop_strings(const json& v) {
  std::vector<std::string> out;
  if (v.is_string()) {
    out.push_back(v.get<std::string>());
  } else if (v.is_array()) {
    if (v.size() > 4) bad("stop", "'stop' holds at most 4 strings, got " + std::to_string(v.size()));
    for (const json& s : v) {
      if (!s.is_string()) bad("stop", "'stop' must be a string or an array of strings");
      out.push_back(s.get<std::string>());
    }
  } else {
    bad("stop", "'stop' must be a string or an array of strings, got " + type_name(v));
  }
  std::erase_if(out, [](const std::string& s) { return s.empty(); });
  return out;
}

std::string prompt_text(const json& body) {
  const json* p = field(body, "prompt");
  if (!p) bad("prompt", "'prompt' is required");
  if (p->is_string()) return p->get<std::string>();
  if (p->is_array()) {
    if (p->size() != 1 || !(*p)[0].is_string())
      bad("prompt", "'prompt' must be a string or an array of one string (one completion per request)");
    return (*p)[0].get<std::string>();
  }
  bad("prompt", "'prompt' must be a string, got " + type_name(*p));
}

std::string message_content(const json& m) {
  const json* c = field(m, "content");
  if (!c) return "";
  if (c->is_string()) return c->get<std::string>();
  if (c->is_array()) {
    std::string text;
    for (const json& part : *c) {
      const json* t = part.is_object() ? field(part, "text") : nullptr;
      if (!t || !t->is_string() || part.value("type", std::string()) != "text")
        bad("messages", "message content parts must be {\"type\": \"text\", \"text\": string}");
      text += t->get<std::string>();
    }
    return text;
  }
  bad("messages", "message 'content' must be a string or an array of text parts, got " + type_name(*c));
}

void validate_messages(const json& body) {
  const json* ms = field(body, "messages");
  if (!ms) bad("messages", "'messages' is required");
  if (!ms->is_array() || ms->empty()) bad("messages", "'messages' must be a non-empty array");
  for (const json& m : *ms) {
    if (!m.is_object()) bad("messages", "each message must be an object {role, content}");
    const json* role = field(m, "role");
    if (!role || !role->is_string()) bad("messages", "each message needs a string 'role'");
    const std::string r = role->get<std::string>();
    if (r != "system" && r != "developer" && r != "user" && r != "assistant" && r != "tool")
      bad("messages", "unknown message role '" + r + "'");
    message_content(m);  // type check
  }
}

void parse_sampler(const json& body, infer::SamplerConfig& s) {
  s.temperature = 1.0f;  // OpenAI's defaults: plain sampling from the model's distribution
  s.top_p = 1.0f;
  s.top_k = 0;
  s.min_p = 0.0f;
  s.repeat_penalty = 1.0f;
  if (const json* v = field(body, "temperature")) {
    const double t = number(*v, "temperature");
    if (t < 0) bad("temperature", "'temperature' must be >= 0, got " + v->dump());
    s.temperature = static_cast<float>(t);
  }
  if (const json* v = field(body, "top_p")) {
    const double p = number(*v, "top_p");
    if (!(p > 0 && p <= 1)) bad("top_p", "'top_p' must be in (0, 1], got " + v->dump());
    s.top_p = static_cast<float>(p);
  }
  if (const json* v = field(body, "top_k")) {
    s.top_k = integer(*v, "top_k");
    if (s.top_k < 0) bad("top_k", "'top_k' must be >= 0 (0: off), got " + v->dump());
  }
  if (const json* v = field(body, "min_p")) {
    const double p = number(*v, "min_p");
    if (!(p >= 0 && p <= 1)) bad("min_p", "'min_p' must be in [0, 1], got " + v->dump());
    s.min_p = static_cast<float>(p);
  }
  if (const json* v = field(body, "repeat_penalty")) {
    const double r = number(*v, "repeat_penalty");
    if (!(r > 0)) bad("repeat_penalty", "'repeat_penalty' must be > 0 (1: off), got " + v->dump());
    s.repeat_penalty = static_cast<float>(r);
  }
  for (const char* name : {"frequency_penalty", "presence_penalty"})
    if (const json* v = field(body, name); v && number(*v, name) != 0)
      bad(name, std::string("'") + name + "' is not supported (only 0); use 'repeat_penalty'");
  if (const json* v = field(body, "seed")) {
    s.seed = static_cast<uint64_t>(integer(*v, "seed"));
  } else {
    std::random_device rd;
    s.seed = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  }
}

void parse_unsupported(const json& body) {
  if (const json* v = field(body, "n"); v && integer(*v, "n") != 1)
    bad("n", "'n' must be 1 (one choice per request)");
  if (const json* v = field(body, "echo"); v && boolean(*v, "echo"))
    bad("echo", "'echo' is not supported (only false)");
  if (const json* v = field(body, "logprobs")) {
    const bool off =
        (v->is_boolean() && !v->get<bool>()) || (v->is_number_integer() && v->get<int64_t>() == 0);
    if (!off) bad("logprobs", "'logprobs' is not supported");
  }
  if (const json* v = field(body, "model"); v && !v->is_string())
    bad("model", "'model' must be a string, got " + type_name(*v));
}

}  // namespace

CompletionRequest parse_completion_request(const json& body, bool chat, int64_t max_tokens_cap) {
  if (!body.is_object()) bad("", "the request body must be a JSON object");
  CompletionRequest r;
  r.chat = chat;
  if (chat) {
    validate_messages(body);
    r.prompt = render_chat(body["messages"]);
    r.stop = {"\nuser:", "\nsystem:"};
  } else {
    r.prompt = prompt_text(body);
  }
  r.max_tokens = chat ? max_tokens_cap : std::min<int64_t>(16, max_tokens_cap);
  for (const char* name : {"max_tokens", "max_completion_tokens"}) {
    if (!chat && std::string(name) == "max_completion_tokens") continue;
    if (const json* v = field(body, name)) {
      const int64_t n = integer(*v, name);
      if (n < 0) bad(name, std::string("'") + name + "' must be >= 0, got " + v->dump());
      r.max_tokens = std::min(n, max_tokens_cap);
    }
  }
  parse_sampler(body, r.sampler);
  parse_unsupported(body);
  if (const json* v = field(body, "stop"))
    for (std::string& s : stop_strings(*v)) r.stop.push_back(std::move(s));
  if (const json* v = field(body, "stream")) r.stream = boolean(*v, "stream");
  if (const json* v = field(body, "stream_options")) {
    if (!v->is_object()) bad("stream_options", "'stream_options' must be an object");
    if (const json* u = field(*v, "include_usage"))
      r.include_usage = boolean(*u, "stream_options.include_usage");
  }
  return r;
}

std::string render_chat(const json& messages) {
  std::string out;
  for (const json& m : messages) out += m["role"].get<std::string>() + ": " + message_content(m) + "\n";
  return out + "assistant:";
}

json error_json(const std::string& message, const std::string& type, const std::string& param,
                const std::string& code) {
  return {{"error",
           {{"message", message},
            {"type", type},
            {"param", param.empty() ? json(nullptr) : json(param)},
            {"code", code.empty() ? json(nullptr) : json(code)}}}};
}

std::string finish_reason(const std::string& stop_reason) {
  return stop_reason == "max_tokens" || stop_reason == "context" ? "length" : "stop";
}

size_t complete_utf8_prefix(std::string_view s) {
  const size_t n = s.size();
  for (size_t k = 1; k <= std::min<size_t>(3, n); ++k) {
    const auto c = static_cast<unsigned char>(s[n - k]);
    if ((c & 0xC0) == 0x80) continue;  // a continuation byte: look further back for the lead byte
    const size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    return len > k ? n - k : n;
  }
  return n;
}

json usage_json(int64_t prompt_tokens, int64_t completion_tokens) {
  return {{"prompt_tokens", prompt_tokens},
          {"completion_tokens", completion_tokens},
          {"total_tokens", prompt_tokens + completion_tokens}};
}

namespace {
json head_json(const ResponseHead& h, const char* object) {
  return {{"id", h.id}, {"object", object}, {"created", h.created}, {"model", h.model}};
}
}  // namespace

json completion_json(const ResponseHead& h, const std::string& text, const std::string& finish,
                     int64_t prompt_tokens, int64_t completion_tokens) {
  json j = head_json(h, h.chat ? "chat.completion" : "text_completion");
  json choice = {{"index", 0}, {"finish_reason", finish}};
  if (h.chat) {
    choice["message"] = {{"role", "assistant"}, {"content", text}};
  } else {
    choice["text"] = text;
    choice["logprobs"] = nullptr;
  }
  j["choices"] = json::array({choice});
  j["usage"] = usage_json(prompt_tokens, completion_tokens);
  return j;
}

json chunk_json(const ResponseHead& h, const std::string& text, const std::string& finish, bool role_only) {
  json j = head_json(h, h.chat ? "chat.completion.chunk" : "text_completion");
  json choice = {{"index", 0}, {"finish_reason", finish.empty() ? json(nullptr) : json(finish)}};
  if (h.chat) {
    if (role_only)
      choice["delta"] = {{"role", "assistant"}, {"content", ""}};
    else if (!finish.empty() && text.empty())
      choice["delta"] = json::object();
    else
      choice["delta"] = {{"content", text}};
  } else {
    choice["text"] = text;
    choice["logprobs"] = nullptr;
  }
  j["choices"] = json::array({choice});
  return j;
}

json usage_chunk_json(const ResponseHead& h, int64_t prompt_tokens, int64_t completion_tokens) {
  json j = head_json(h, h.chat ? "chat.completion.chunk" : "text_completion");
  j["choices"] = json::array();
  j["usage"] = usage_json(prompt_tokens, completion_tokens);
  return j;
}

}  // namespace xfmr::serve
