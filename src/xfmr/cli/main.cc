// xfmr <verb> [options]: the command-line front end. It only parses, calls one library entry point and prints;
// every failure becomes one line on stderr and a non-zero exit.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>

#include "xfmr/cli/commands.h"
#include "xfmr/core/check.h"
#include "xfmr/core/parallel.h"

namespace {

struct Verb {
  const char* name;
  int (*run)(int, char**);
  const char* summary;
};

const Verb kVerbs[] = {
    {"icl", xfmr::cli::cmd_icl, "train a transformer to do linear regression in context, beside the optimal algorithms"},
    {"prepare", xfmr::cli::cmd_prepare, "tokenize a text corpus into train/val token files for xfmr train"},
    {"train", xfmr::cli::cmd_train, "train a GPT-2 or Llama language model on text (nanoGPT's Shakespeare recipes)"},
    {"report", xfmr::cli::cmd_report, "rebuild a run folder's report.html from its results.json"},
    {"bench", xfmr::cli::cmd_bench, "time a workload and print one JSON line (side by side with the PyTorch peers)"},
    {"generate", xfmr::cli::cmd_generate, "run a model (.gguf, llama2.c .bin, GPT-2/Llama folder) on prompts, stream text"},
    {"serve", xfmr::cli::cmd_serve, "serve a model over HTTP with OpenAI's completions and chat API"},
    {"convert", xfmr::cli::cmd_convert, "re-encode a Llama checkpoint (file or folder) as GGUF with f32/f16/q8_0/q4_0"},
    {"tokenizer", xfmr::cli::cmd_tokenizer, "encode/decode text with a tokenizer, or train a byte-level BPE"},
    {"demo", xfmr::cli::cmd_demo, "train a small MLP and print the loss falling"},
};

void print_usage(FILE* out) {
  std::fprintf(out,
               "xfmr: build, train, study, compress and serve transformer-family models on a CPU\n\n"
               "usage: xfmr <verb> [options]     (xfmr <verb> --help for a verb's options and examples)\n\n"
               "verbs:\n");
  for (const auto& v : kVerbs) std::fprintf(out, "  %-10s %s\n", v.name, v.summary);
  std::fprintf(out,
               "\nenvironment: XFMR_THREADS=N sets the thread count (default: all cores); OMP_WAIT_POLICY (default\n"
               "here: passive) how idle OpenMP threads wait\n");
}

// libgomp's threads spin at every barrier unless OMP_WAIT_POLICY=passive, and it reads that variable only when
// it is loaded, before main. Spinning wins ~4% on an idle machine, but with one other busy process on 2 cores
// a 2-thread training step took 1.6-1.9x as long as a 1-thread one (a spinning thread waits for a descheduled
// partner), and passive made it about equal (docs/BENCHMARKS.md, "2 threads"). So unless the user chose a
// policy, xfmr sets passive and re-executes itself once; if the exec fails it carries on with the default.
void prefer_passive_openmp_wait(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr) return;
  if (::setenv("OMP_WAIT_POLICY", "passive", 1) != 0) return;
  ::execv("/proc/self/exe", argv);
}

}  // namespace

int main(int argc, char** argv) {
  prefer_passive_openmp_wait(argv);
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "help")) {
    print_usage(stdout);
    return argc < 2 ? 2 : 0;
  }
  const std::string verb = argv[1];
  try {
    xfmr::init_threads_from_env();
    for (const auto& v : kVerbs)
      if (verb == v.name) return v.run(argc - 2, argv + 2);
    std::string names;
    for (const auto& v : kVerbs) names += (names.empty() ? "" : ", ") + std::string(v.name);
    std::fprintf(stderr, "xfmr: unknown verb '%s' (known: %s)\n", verb.c_str(), names.c_str());
    return 2;
  } catch (const xfmr::Error& e) {
    std::fprintf(stderr, "xfmr %s: error: %s\n", verb.c_str(), e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "xfmr %s: error: %s\n", verb.c_str(), e.what());
    return 1;
  }
}
