// `xfmr serve`: an OpenAI-compatible HTTP server (cpp-httplib) over one Llama model and its tokenizer.
//   GET  /health               {"status": "ok", "slots_idle", "slots_processing", "queue"}
//   GET  /v1/models            {"object": "list", "data": [{"id": <model file name>, "object": "model",
//   ...}]} POST /v1/completions       prompt -> text (serve/api.h lists the fields), streamed as server-sent
//   events POST /v1/chat/completions  messages -> message, the same options
// HTTP worker threads parse and validate a request, encode its prompt and hand a Job to the one Scheduler
// thread (serve/scheduler.h: continuous batching over max_slots KV-cache slots), then wait for its text.
// Every refused request gets a JSON error {"error": {"message", "type", "param", "code"}}: 400 for a bad body
// (bad JSON, wrong types, missing prompt/messages, out-of-range values, a prompt over the token limit), 404
// for an unknown route, 405 for a wrong method, 413 for a body over max_body_bytes, 503 when the queue is
// full. A streaming client that disconnects cancels its sequence (noticed at the next write); a non-streaming
// one is not noticed, its sequence runs to its end (bounded by max_tokens).
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "xfmr/io/llama_weights.h"
#include "xfmr/serve/scheduler.h"
#include "xfmr/tokenizers/tokenizer.h"

namespace xfmr::serve {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                   // 0: any free port (start() returns it)
  int64_t max_slots = 4;             // sequences decoded concurrently
  int64_t queue_size = 16;           // requests waiting for a slot before 503
  int64_t context = 0;               // KV cache positions per slot (0: the model's seq_len)
  int64_t max_prompt_tokens = 0;     // longest prompt in tokens, BOS included (0: the context)
  int64_t max_tokens = 512;          // cap on a request's max_tokens
  int64_t max_body_bytes = 1 << 20;  // larger request bodies get 413
  int http_threads = 0;              // HTTP workers (0: max_slots + queue_size + 4)
  int64_t iteration_delay_us = 0;    // test hook (SchedulerOptions)
};

class Server {
 public:
  // model_id: the name /v1/models lists and responses carry (the model's file name).
  Server(io::LlamaWeights weights, std::unique_ptr<tok::Tokenizer> tokenizer, std::string model_id,
         ServerOptions opt);
  // Any model infer::load_model opens (Llama or GPT-2).
  Server(const infer::LoadedModel& model, std::unique_ptr<tok::Tokenizer> tokenizer, std::string model_id,
         ServerOptions opt);
  ~Server();  // stop()
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds host:port and serves in a background thread; returns the port (the one picked for port 0).
  // Error naming the address when it cannot bind.
  int start();
  // Ends running and queued requests (an error "the server is shutting down"), stops listening, joins the
  // threads. Idempotent.
  void stop();

  int port() const;
  const Scheduler& scheduler() const;
  const ServerOptions& options() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace xfmr::serve
