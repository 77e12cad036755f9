// xfmr serve: an OpenAI-compatible HTTP server over a Llama-architecture checkpoint (serve/server.h).
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <string>

#include <pthread.h>

#include "xfmr/cli/args.h"
#include "xfmr/cli/commands.h"
#include "xfmr/core/check.h"
#include "xfmr/core/parallel.h"
#include "xfmr/infer/load_model.h"
#include "xfmr/infer/model_tokenizer.h"
#include "xfmr/serve/server.h"

namespace xfmr::cli {

int cmd_serve(int argc, char** argv) {
  Args args(
      "serve",
      "usage: xfmr serve --model FILE [--tokenizer FILE] [--host 127.0.0.1] [--port 8080] [options]\n\n"
      "Serves a model (.gguf or llama2.c .bin Llama, or a model folder with config.json + model.safetensors,\n"
      "model_type llama or gpt2, as xfmr generate) over HTTP with OpenAI's API:\n"
      "  GET /health, GET /v1/models, POST /v1/completions, POST /v1/chat/completions (\"stream\": true for\n"
      "  server-sent events). Requests are queued and decoded together by one scheduler thread (continuous\n"
      "  batching over --max-slots KV caches that share the weights). Chat messages are rendered as a plain\n"
      "  \"role: content\" transcript ending in \"assistant:\" (base models have no chat template).\n"
      "Prints the URL it listens on; --port 0 picks a free port. SIGINT/SIGTERM stop it cleanly.\n\n"
      "Examples:\n"
      "  xfmr serve --model data/stories260K/stories260K.bin --port 8080\n"
      "  curl -s localhost:8080/v1/completions -d '{\"prompt\": \"Once upon a time\", \"max_tokens\": 40,\n"
      "       \"temperature\": 0}'\n"
      "  curl -sN localhost:8080/v1/chat/completions -d '{\"messages\": [{\"role\": \"user\", \"content\":\n"
      "       \"Tell me a story\"}], \"stream\": true}'\n"
      "  xfmr serve --model stories15M.q8_0.gguf --port 0 --max-slots 8 --queue-size 64 --threads 4\n",
      {{"model", "checkpoint: .gguf, llama2.c .bin or model folder", ""},
       {"tokenizer", "tokenizer file (default: from the model, as xfmr generate)", ""},
       {"host", "address to listen on", "127.0.0.1"},
       {"port", "TCP port (0: any free port, printed)", "8080"},
       {"threads", "threads for the model (0 = all cores; or XFMR_THREADS)", ""},
       {"max-slots", "sequences decoded concurrently (one KV cache each)", "4"},
       {"queue-size", "requests waiting for a slot before 503", "16"},
       {"ctx", "KV cache positions per slot (0: the model's context)", "0"},
       {"max-prompt-tokens", "longest prompt in tokens, BOS included (0: the context)", "0"},
       {"max-tokens", "cap on a request's max_tokens", "512"},
       {"max-body-bytes", "largest request body (else 413)", "1048576"},
       {"http-threads", "HTTP worker threads (0: max-slots + queue-size + 4)", "0"}});
  if (!args.parse(argc, argv)) return 0;
  if (args.has("threads")) set_num_threads(static_cast<int>(args.get_int("threads")));
  const std::string model_path = args.get("model");
  XF_CHECK(!model_path.empty(), "--model is required (a .gguf, a llama2.c .bin or a model folder)");
  serve::ServerOptions opt;
  opt.host = args.get("host");
  const int64_t port = args.get_int("port");
  XF_CHECK(port >= 0 && port <= 65535, "--port ", port, " must be in [0, 65535]");
  opt.port = static_cast<int>(port);
  opt.max_slots = args.get_int("max-slots");
  XF_CHECK(opt.max_slots >= 1 && opt.max_slots <= 1024, "--max-slots ", opt.max_slots,
           " must be in [1, 1024]");
  opt.queue_size = args.get_int("queue-size");
  XF_CHECK(opt.queue_size >= 0, "--queue-size ", opt.queue_size, " must be >= 0");
  opt.context = args.get_int("ctx");
  XF_CHECK(opt.context >= 0, "--ctx ", opt.context, " must be >= 0");
  opt.max_prompt_tokens = args.get_int("max-prompt-tokens");
  XF_CHECK(opt.max_prompt_tokens >= 0, "--max-prompt-tokens ", opt.max_prompt_tokens, " must be >= 0");
  opt.max_tokens = args.get_int("max-tokens");
  XF_CHECK(opt.max_tokens >= 0, "--max-tokens ", opt.max_tokens, " must be >= 0");
  opt.max_body_bytes = args.get_int("max-body-bytes");
  XF_CHECK(opt.max_body_bytes >= 1, "--max-body-bytes ", opt.max_body_bytes, " must be >= 1");
  const int64_t http_threads = args.get_int("http-threads");
  XF_CHECK(http_threads >= 0 && http_threads <= 1024, "--http-threads ", http_threads,
           " must be in [0, 1024]");
  opt.http_threads = static_cast<int>(http_threads);

  const infer::LoadedModel model = infer::load_model(model_path);
  auto tokenizer = infer::tokenizer_for_model(model_path, args.get("tokenizer"), model.vocab_size());
  std::filesystem::path id_path(model_path);
  if (id_path.filename().empty()) id_path = id_path.parent_path();  // a folder given as "DIR/"
  const std::string model_id = id_path.filename().string();

  // SIGINT/SIGTERM are blocked in every thread (threads inherit the mask) and taken by sigwait below, so the
  // shutdown runs on this thread, outside any signal handler.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  XF_CHECK(pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr) == 0, "serve: cannot block SIGINT/SIGTERM");

  serve::Server server(model, std::move(tokenizer), model_id, opt);
  const int bound = server.start();
  const std::string host = opt.host.find(':') != std::string::npos ? "[" + opt.host + "]" : opt.host;
  std::printf("xfmr serve: %s on http://%s:%d (%lld slots, queue %lld, context %lld, %d thread(s))\n",
              model_id.c_str(), host.c_str(), bound, static_cast<long long>(opt.max_slots),
              static_cast<long long>(opt.queue_size),
              static_cast<long long>(server.scheduler().context_length()), num_threads());
  std::fflush(stdout);

  int sig = 0;
  sigwait(&stop_signals, &sig);
  std::printf("xfmr serve: %s, shutting down\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
  std::fflush(stdout);
  server.stop();
  const serve::SchedulerStats s = server.scheduler().stats();
  std::printf("xfmr serve: stopped after %lld requests, %lld generated tokens\n",
              static_cast<long long>(s.finished), static_cast<long long>(s.tokens));
  return 0;
}

}  // namespace xfmr::cli
