// xfmr tokenizer encode|decode|train: text <-> token ids with any supported tokenizer, and byte-level BPE training.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

#include "xfmr/cli/args.h"
#include "xfmr/cli/commands.h"
#include "xfmr/core/check.h"
#include "xfmr/io/file_util.h"
#include "xfmr/tokenizers/bpe_train.h"
#include "xfmr/tokenizers/tokenizer.h"

namespace xfmr::cli {

namespace {

constexpr const char* kUsage =
    "usage: xfmr tokenizer <encode|decode|train> [options]\n\n"
    "  encode  text (stdin or --text-file) -> one JSON array of token ids on stdout\n"
    "  decode  a JSON array of ids (stdin or --ids-file) -> the exact text bytes on stdout\n"
    "  train   byte-level BPE on a corpus -> a Hugging Face tokenizer.json\n\n"
    "Tokenizers (--tokenizer PATH, format detected from the content): a folder with tokenizer.json or\n"
    "vocab.json + merges.txt (GPT-2 BPE), tokenizer.json, tokenizer.model (SentencePiece), tokenizer.bin\n"
    "(llama2.c), a char vocabulary JSON {\"kind\": \"char\", ...}.\n\n"
    "Examples:\n"
    "  echo -n 'Hello world' | xfmr tokenizer encode --tokenizer data/tokenizers/gpt2\n"
    "  xfmr tokenizer encode --tokenizer data/tokenizers/llama2/tokenizer.model --bos --text-file story.txt\n"
    "  echo '[15496, 995]' | xfmr tokenizer decode --tokenizer data/tokenizers/gpt2\n"
    "  xfmr tokenizer train --corpus input.txt --vocab-size 1000 --out tok/tokenizer.json\n\n"
    "Run xfmr tokenizer <subcommand> --help for its options.";

std::string read_stream(FILE* f, const char* what) {
  std::string s;
  char buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
  XF_CHECK(!std::ferror(f), "tokenizer: cannot read ", what);
  return s;
}

std::string input_text(const Args& args, const char* flag) {
  return args.has(flag) ? io::read_file(args.get(flag)) : read_stream(stdin, "stdin");
}

void write_stdout(const std::string& s) {
  XF_CHECK(std::fwrite(s.data(), 1, s.size(), stdout) == s.size() && std::fflush(stdout) == 0,
           "tokenizer: cannot write to stdout");
}

int encode(int argc, char** argv) {
  Args args("tokenizer encode",
            "usage: xfmr tokenizer encode --tokenizer PATH [--bos] [--text-file F]\n\n"
            "Reads text (stdin unless --text-file) and prints its token ids as one JSON array line.\n\n"
            "Examples:\n"
            "  echo -n 'Hello world' | xfmr tokenizer encode --tokenizer data/tokenizers/gpt2\n"
            "  xfmr tokenizer encode --tokenizer data/tokenizers/llama2/tokenizer.bin --bos --text-file in.txt",
            {{"tokenizer", "tokenizer file or folder", ""},
             {"text-file", "read the text from this file instead of stdin", ""},
             {"bos", "prepend the BOS token (when the tokenizer has one)", "", true}});
  if (!args.parse(argc, argv)) return 0;
  XF_CHECK(args.has("tokenizer"), "tokenizer encode: --tokenizer PATH is required");
  const auto tok = tok::load_tokenizer(args.get("tokenizer"));
  const auto ids = tok->encode(input_text(args, "text-file"), args.get_bool("bos"));
  write_stdout(nlohmann::json(ids).dump() + "\n");
  return 0;
}

int decode(int argc, char** argv) {
  Args args("tokenizer decode",
            "usage: xfmr tokenizer decode --tokenizer PATH [--ids-file F]\n\n"
            "Reads a JSON array of token ids (stdin unless --ids-file) and writes the decoded bytes exactly\n"
            "(no newline added).\n\n"
            "Examples:\n"
            "  echo '[15496, 995]' | xfmr tokenizer decode --tokenizer data/tokenizers/gpt2\n"
            "  xfmr tokenizer decode --tokenizer tok.json --ids-file ids.json > out.txt",
            {{"tokenizer", "tokenizer file or folder", ""}, {"ids-file", "read the ids from this file", ""}});
  if (!args.parse(argc, argv)) return 0;
  XF_CHECK(args.has("tokenizer"), "tokenizer decode: --tokenizer PATH is required");
  const auto tok = tok::load_tokenizer(args.get("tokenizer"));
  const std::string text = input_text(args, "ids-file");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception&) {
    throw Error("tokenizer decode: the input is not JSON (expected an array of token ids such as [15496, 995])");
  }
  XF_CHECK(j.is_array(), "tokenizer decode: expected a JSON array of token ids, got ", j.type_name());
  std::vector<int32_t> ids;
  ids.reserve(j.size());
  for (size_t i = 0; i < j.size(); ++i) {
    XF_CHECK(j[i].is_number_integer() && j[i].get<int64_t>() >= INT32_MIN && j[i].get<int64_t>() <= INT32_MAX,
             "tokenizer decode: element ", i, " (", j[i].dump(), ") is not an integer token id");
    ids.push_back(j[i].get<int32_t>());
  }
  write_stdout(tok->decode(ids));
  return 0;
}

int train(int argc, char** argv) {
  Args args("tokenizer train",
            "usage: xfmr tokenizer train --corpus FILE --vocab-size N --out tokenizer.json [--special TOKEN]...\n\n"
            "Trains a byte-level BPE tokenizer (GPT-2 pre-tokenizer; ties on pair count go to the lexicographically\n"
            "greater pair of byte strings) and writes it as a Hugging Face tokenizer.json. The vocabulary is the\n"
            "special tokens, the 256 bytes, then one token per merge.\n\n"
            "Examples:\n"
            "  xfmr tokenizer train --corpus input.txt --vocab-size 1000 --out tok/tokenizer.json\n"
            "  xfmr tokenizer train --corpus c.txt --vocab-size 500 --special '<|endoftext|>' --special '<pad>' "
            "--out t.json\n"
            "  xfmr tokenizer train --corpus c.txt --vocab-size 300 --no-special --out t.json",
            {{"corpus", "training text file", ""},
             {"vocab-size", "final vocabulary size, special tokens and 256 bytes included", ""},
             {"out", "output tokenizer.json (written atomically)", ""},
             {"special", "special token, repeatable", "<|endoftext|>"},
             {"no-special", "no special tokens", "", true}});
  if (!args.parse(argc, argv)) return 0;
  for (const char* f : {"corpus", "vocab-size", "out"})
    XF_CHECK(args.has(f), "tokenizer train: --", f, " is required (see xfmr tokenizer train --help)");
  std::vector<std::string> specials = args.get_all("special");
  if (specials.empty() && !args.get_bool("no-special")) specials = {"<|endoftext|>"};
  XF_CHECK(!(args.get_bool("no-special") && args.has("special")), "tokenizer train: --special and --no-special conflict");
  const int64_t vocab_size = args.get_int("vocab-size");
  XF_CHECK(vocab_size > 0 && vocab_size < (1 << 24), "tokenizer train: --vocab-size ", vocab_size, " is out of range");
  const std::string corpus = io::read_file(args.get("corpus"));
  const auto t0 = std::chrono::steady_clock::now();
  const auto r = tok::train_byte_bpe(corpus, static_cast<int>(vocab_size), specials);
  io::write_file_atomic(args.get("out"), tok::bpe_to_hf_tokenizer_json(r));
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::fprintf(stderr,
               "trained %zu merges, vocabulary %zu, on %.2f MB (%zu distinct pre-tokens) in %.2f s "
               "(pre-tokenize %.2f s, merges %.2f s; %.1f MB/min) -> %s\n",
               r.merges.size(), r.vocab.size(), static_cast<double>(r.corpus_bytes) / 1e6, r.distinct_pretokens, secs,
               r.pretokenize_seconds, r.merge_seconds, static_cast<double>(r.corpus_bytes) / 1e6 / secs * 60.0,
               args.get("out").c_str());
  return 0;
}

}  // namespace

int cmd_tokenizer(int argc, char** argv) {
  if (argc < 1 || !std::strcmp(argv[0], "--help") || !std::strcmp(argv[0], "-h")) {
    std::puts(kUsage);
    return argc < 1 ? 2 : 0;
  }
  const std::string sub = argv[0];
  if (sub == "encode") return encode(argc - 1, argv + 1);
  if (sub == "decode") return decode(argc - 1, argv + 1);
  if (sub == "train") return train(argc - 1, argv + 1);
  throw Error("tokenizer: unknown subcommand '" + sub + "' (encode, decode, train; see xfmr tokenizer --help)");
}

}  // namespace xfmr::cli
