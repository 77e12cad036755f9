#include "xfmr/serve/server.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <cstdlib>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <random>
#include <thread>

#include "xfmr/core/check.h"
#include "xfmr/serve/api.h"

namespace xfmr::serve {

using nlohmann::json;

namespace {

// Generated text may split a UTF-8 character across tokens, and JSON strings must be valid UTF-8; invalid
// bytes (a model can emit any byte) become U+FFFD rather than an exception.
std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

void send_error(httplib::Response& res, int status, const std::string& message,
                const std::string& type = "invalid_request_error", const std::string& param = "",
                const std::string& code = "") {
  res.status = status;
  res.set_content(dump(error_json(message, type, param, code)), "application/json");
}

// The descriptor of the connection a request came in on: the socket of this process whose local port is the
// server's and whose peer is (remote_addr, remote_port). httplib 0.11 (Debian 12) does not hand the socket to a
// handler, so it is found once per request among /proc/self/fd; the handler runs on the thread that owns the
// connection, so the descriptor stays this connection's until the handler returns. -1 when not found.
int connection_fd(const httplib::Request& req, int local_port) {
  DIR* d = opendir("/proc/self/fd");
  if (!d) return -1;
  int found = -1;
  while (const dirent* e = readdir(d)) {
    char* end = nullptr;
    const long fd = std::strtol(e->d_name, &end, 10);
    if (end == e->d_name || *end != '\0') continue;
    sockaddr_storage local{}, peer{};
    socklen_t ll = sizeof local, pl = sizeof peer;
    if (getsockname(static_cast<int>(fd), reinterpret_cast<sockaddr*>(&local), &ll) != 0) continue;
    if (getpeername(static_cast<int>(fd), reinterpret_cast<sockaddr*>(&peer), &pl) != 0) continue;
    char addr[INET6_ADDRSTRLEN] = {0};
    int lport = -1, pport = -1;
    if (local.ss_family == AF_INET && peer.ss_family == AF_INET) {
      const auto* l4 = reinterpret_cast<const sockaddr_in*>(&local);
      const auto* p4 = reinterpret_cast<const sockaddr_in*>(&peer);
      lport = ntohs(l4->sin_port);
      pport = ntohs(p4->sin_port);
      inet_ntop(AF_INET, &p4->sin_addr, addr, sizeof addr);
    } else if (local.ss_family == AF_INET6 && peer.ss_family == AF_INET6) {
      const auto* l6 = reinterpret_cast<const sockaddr_in6*>(&local);
      const auto* p6 = reinterpret_cast<const sockaddr_in6*>(&peer);
      lport = ntohs(l6->sin6_port);
      pport = ntohs(p6->sin6_port);
      inet_ntop(AF_INET6, &p6->sin6_addr, addr, sizeof addr);
    } else {
      continue;
    }
    if (lport == local_port && pport == req.remote_port && req.remote_addr == addr) {
      found = static_cast<int>(fd);
      break;
    }
  }
  closedir(d);
  return found;
}

// Whether the client has gone: the connection reads end-of-file or an error without blocking. Bytes waiting
// (a pipelined next request) are left in place (MSG_PEEK) and mean the client is still there. A client that
// half-closes its side after sending the request reads as gone too (HTTP clients do not do that).
bool client_gone(int fd) {
  char c;
  const ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n > 0) return false;
  if (n == 0) return true;
  return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
}

std::string status_error_type(int status) {
  return status >= 500 ? "server_error" : "invalid_request_error";
}

}  // namespace

struct Server::Impl {
  Impl(const infer::LoadedModel& w, std::unique_ptr<tok::Tokenizer> t, std::string id, ServerOptions o)
      : opt(std::move(o)),
        model_id(std::move(id)),
        tokenizer(std::move(t)),
        scheduler(w, tokenizer.get(),
                  SchedulerOptions{opt.max_slots, opt.queue_size, opt.context, /*prefill_chunk=*/32,
                                   opt.iteration_delay_us}) {
    XF_CHECK(opt.max_tokens >= 0, "serve: --max-tokens ", opt.max_tokens, " must be >= 0");
    XF_CHECK(opt.max_body_bytes >= 1, "serve: --max-body-bytes ", opt.max_body_bytes, " must be >= 1");
    XF_CHECK(opt.max_prompt_tokens >= 0, "serve: --max-prompt-tokens ", opt.max_prompt_tokens,
             " must be >= 0");
    const int64_t ctx = scheduler.context_length();
    prompt_limit = opt.max_prompt_tokens == 0 ? ctx : std::min(opt.max_prompt_tokens, ctx);
    std::random_device rd;
    id_prefix = std::to_string(rd() % 1000000) + "-";
    routes();
  }

  void routes();
  void completion(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader,
                  bool chat);
  void stream(httplib::Response& res, std::shared_ptr<Job> job, ResponseHead head, bool include_usage);

  ServerOptions opt;
  std::string model_id;
  std::unique_ptr<tok::Tokenizer> tokenizer;
  Scheduler scheduler;
  int64_t prompt_limit = 0;
  std::string id_prefix;
  std::atomic<int64_t> next_id{0};
  httplib::Server http;
  std::thread listener;
  int port = -1;
  bool stopped = false;
};

void Server::Impl::routes() {
  const auto not_allowed = [](std::string allow) {
    return [allow](const httplib::Request& req, httplib::Response& res) {
      res.set_header("Allow", allow);
      send_error(res, 405,
                 "method " + req.method + " is not allowed on " + req.path + " (use " + allow + ")");
    };
  };
  http.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
    const SchedulerStats s = scheduler.stats();
    res.set_content(dump({{"status", "ok"},
                          {"slots_idle", scheduler.max_slots() - s.active},
                          {"slots_processing", s.active},
                          {"queue", s.waiting}}),
                    "application/json");
  });
  http.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
    const json model = {{"id", model_id}, {"object", "model"}, {"created", 0}, {"owned_by", "xfmr"}};
    res.set_content(dump({{"object", "list"}, {"data", json::array({model})}}), "application/json");
  });
  for (const char* path : {"/health", "/v1/models"}) {
    http.Post(path, not_allowed("GET"));
    http.Put(path, not_allowed("GET"));
    http.Patch(path, not_allowed("GET"));
    http.Delete(path, not_allowed("GET"));
    http.Options(path, not_allowed("GET"));
  }
  for (const bool chat : {false, true}) {
    const char* path = chat ? "/v1/chat/completions" : "/v1/completions";
    http.Post(path,
              [this, chat](const httplib::Request& req, httplib::Response& res,
                           const httplib::ContentReader& reader) { completion(req, res, reader, chat); });
    http.Get(path, not_allowed("POST"));
    http.Put(path, not_allowed("POST"));
    http.Patch(path, not_allowed("POST"));
    http.Delete(path, not_allowed("POST"));
    http.Options(path, not_allowed("POST"));
  }
  // Errors httplib produces itself (unknown route, bad request line, 413 on Content-Length) get a JSON body;
  // responses that already have one are left alone.
  http.set_error_handler(
      httplib::Server::HandlerWithResponse([](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty() || res.content_provider_) return httplib::Server::HandlerResponse::Unhandled;
        std::string msg = "HTTP " + std::to_string(res.status);
        if (res.status == 400) msg = "malformed HTTP request";
        if (res.status == 404) msg = "unknown route " + req.method + " " + req.path;
        if (res.status == 413) msg = "the request body is too large";
        send_error(res, res.status, msg, status_error_type(res.status));
        return httplib::Server::HandlerResponse::Handled;
      }));
  http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string msg = "internal error";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      msg = std::string("internal error: ") + e.what();
    } catch (...) {
    }
    send_error(res, 500, msg, "server_error");
  });
  http.set_payload_max_length(static_cast<size_t>(opt.max_body_bytes));
  const int threads = opt.http_threads > 0
                          ? opt.http_threads
                          : static_cast<int>(std::min<int64_t>(opt.max_slots + opt.queue_size + 4, 256));
  http.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
}

void Server::Impl::completion(const httplib::Request& req, httplib::Response& res,
                              const httplib::ContentReader& reader, bool chat) {
  // The body, read here rather than by httplib so that a chunked body is held to the limit too.
  std::string body;
  bool too_large = false;
  if (req.is_multipart_form_data())
    return send_error(res, 400, "multipart bodies are not supported: send a JSON object");
  const bool read = reader([&](const char* data, size_t n) {
    if (body.size() + n > static_cast<size_t>(opt.max_body_bytes)) {
      too_large = true;
      return false;
    }
    body.append(data, n);
    return true;
  });
  if (too_large || res.status == 413)
    return send_error(
        res, 413,
        "the request body is larger than the limit of " + std::to_string(opt.max_body_bytes) + " bytes");
  if (!read) return send_error(res, 400, "could not read the request body");

  CompletionRequest cr;
  std::vector<int32_t> ids;
  try {
    json j;
    try {
      j = json::parse(body);
    } catch (const json::parse_error& e) {
      throw ApiError(400, std::string("the body is not valid JSON: ") + e.what());
    }
    cr = parse_completion_request(j, chat, opt.max_tokens);
    ids = tokenizer->encode(cr.prompt, /*add_bos=*/true);
    if (ids.empty())
      throw ApiError(400, "the prompt encodes to no tokens", "invalid_request_error", "prompt");
    if (static_cast<int64_t>(ids.size()) > prompt_limit)
      throw ApiError(400,
                     "the prompt has " + std::to_string(ids.size()) + " tokens, more than the limit of " +
                         std::to_string(prompt_limit),
                     "invalid_request_error", chat ? "messages" : "prompt", "context_length_exceeded");
  } catch (const ApiError& e) {
    return send_error(res, e.status, e.what(), e.type, e.param, e.code);
  }

  infer::GenerateOptions go;
  go.max_tokens = cr.max_tokens;
  go.sampler = cr.sampler;
  go.stop = cr.stop;
  auto job = std::make_shared<Job>(std::move(ids), std::move(go), cr.stream);
  if (!scheduler.submit(job)) {
    if (scheduler.stopping()) return send_error(res, 503, "the server is shutting down", "server_error");
    res.set_header("Retry-After", "1");
    return send_error(res, 503, "the server is busy: every slot is in use and the queue is full",
                      "server_error", "", "server_busy");
  }
  ResponseHead head{(chat ? "chatcmpl-" : "cmpl-") + id_prefix + std::to_string(next_id++),
                    static_cast<int64_t>(std::time(nullptr)), model_id, chat};
  if (cr.stream) return stream(res, std::move(job), std::move(head), cr.include_usage);

  // Non-streaming: nothing is written until the end, so a client that leaves is noticed by polling its
  // connection every 100 ms; its job is cancelled (the slot freed, or its queue place given up).
  const int fd = connection_fd(req, port);
  std::string text;
  while (!job->take(text, fd >= 0 ? 100 : 60000)) {
    if (fd >= 0 && !job->cancelled() && client_gone(fd)) job->cancel();
  }
  if (job->stop_reason() == "error")
    return send_error(res, 503, "generation failed: " + job->error(), "server_error");
  const int64_t n_prompt = static_cast<int64_t>(job->prompt().size());
  res.set_content(dump(completion_json(head, text, finish_reason(job->stop_reason()), n_prompt,
                                       job->completion_tokens())),
                  "application/json");
}

// Server-sent events: "data: <chunk>\n\n" per text piece, a last chunk with the finish reason, the usage
// chunk when asked for, then "data: [DONE]\n\n". While the job waits for a slot, an SSE comment line every
// second keeps the connection checked (a write to a closed connection fails, which cancels the job).
void Server::Impl::stream(httplib::Response& res, std::shared_ptr<Job> job, ResponseHead head,
                          bool include_usage) {
  struct State {
    bool started = false;
    std::string carry;  // an incomplete UTF-8 character held for the next piece
  };
  auto st = std::make_shared<State>();
  res.set_header("Cache-Control", "no-cache");
  res.set_chunked_content_provider(
      "text/event-stream",
      [job, head, include_usage, st](size_t, httplib::DataSink& sink) {
        const auto event = [&](const json& j) {
          const std::string line = "data: " + dump(j) + "\n\n";
          return sink.write(line.data(), line.size());
        };
        if (!st->started) {
          st->started = true;
          if (head.chat && !event(chunk_json(head, "", "", /*role_only=*/true))) return false;
        }
        std::string piece = std::move(st->carry);
        const bool done = job->take(piece, 1000);
        const size_t whole = done ? piece.size() : complete_utf8_prefix(piece);
        st->carry = piece.substr(whole);
        piece.resize(whole);
        if (!piece.empty()) {
          if (!event(chunk_json(head, piece, ""))) return false;
        } else if (!done) {
          static const char kPing[] = ": ping\n\n";
          if (!sink.write(kPing, sizeof kPing - 1)) return false;
        }
        if (!done) return true;
        if (job->stop_reason() == "error") {
          if (!event(error_json("generation failed: " + job->error(), "server_error"))) return false;
        } else {
          if (!event(chunk_json(head, "", finish_reason(job->stop_reason())))) return false;
          if (include_usage && !event(usage_chunk_json(head, static_cast<int64_t>(job->prompt().size()),
                                                       job->completion_tokens())))
            return false;
        }
        static const char kDone[] = "data: [DONE]\n\n";
        if (!sink.write(kDone, sizeof kDone - 1)) return false;
        sink.done();
        return true;
      },
      // Runs when the response ends, however it ends: a job still running has lost its client.
      [job](bool) { job->cancel(); });
}

Server::Server(io::LlamaWeights weights, std::unique_ptr<tok::Tokenizer> tokenizer, std::string model_id,
               ServerOptions opt)
    : Server(
          [&] {
            infer::LoadedModel m;
            m.kind = "llama";
            m.path = weights.source;
            m.llama = std::move(weights);
            return m;
          }(),
          std::move(tokenizer), std::move(model_id), std::move(opt)) {}

Server::Server(const infer::LoadedModel& model, std::unique_ptr<tok::Tokenizer> tokenizer, std::string model_id,
               ServerOptions opt)
    : impl_(std::make_unique<Impl>(model, std::move(tokenizer), std::move(model_id), std::move(opt))) {}

Server::~Server() {
  stop();
}

int Server::start() {
  Impl& m = *impl_;
  XF_CHECK(m.port < 0 && !m.stopped, "serve: the server was already started");
  const ServerOptions& o = m.opt;
  XF_CHECK(o.port >= 0 && o.port <= 65535, "serve: port ", o.port, " outside [0, 65535]");
  if (o.port == 0) {
    m.port = m.http.bind_to_any_port(o.host);
  } else {
    m.port = m.http.bind_to_port(o.host, o.port) ? o.port : -1;
  }
  XF_CHECK(m.port > 0, "serve: cannot listen on ", o.host, ":", o.port, " (", std::strerror(errno), ")");
  m.listener = std::thread([&m] { m.http.listen_after_bind(); });
  // httplib's stop() only acts once the accept loop runs: wait for it so that stop() never misses it.
  while (!m.http.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return m.port;
}

void Server::stop() {
  Impl& m = *impl_;
  if (m.stopped) return;
  m.stopped = true;
  m.scheduler.stop();  // waiting handlers get their error and return
  m.http.stop();
  if (m.listener.joinable()) m.listener.join();
}

int Server::port() const {
  return impl_->port;
}

const Scheduler& Server::scheduler() const {
  return impl_->scheduler;
}

const ServerOptions& Server::options() const {
  return impl_->opt;
}

}  // namespace xfmr::serve
