// xfmr convert: re-encode a Llama-architecture checkpoint as a GGUF with f32 / f16 / q8_0 / q4_0 weights.
#include <cstdio>
#include <filesystem>
#include <string>

#include "xfmr/cli/args.h"
#include "xfmr/cli/commands.h"
#include "xfmr/core/check.h"
#include "xfmr/core/parallel.h"
#include "xfmr/io/llama2c.h"
#include "xfmr/io/llama_gguf.h"

namespace fs = std::filesystem;

namespace xfmr::cli {

int cmd_convert(int argc, char** argv) {
  Args args(
      "convert",
      "usage: xfmr convert --in FILE --out FILE.gguf [--type q8_0] [--tokenizer FILE]\n\n"
      "Converts a Llama-architecture checkpoint (.gguf, llama2.c .bin, or a Llama model folder with\n"
      "config.json + model.safetensors, e.g. `xfmr train`'s RUN/model) to a llama GGUF that xfmr and\n"
      "llama.cpp read, with every weight matrix stored as --type (f32, f16, q8_0 or q4_0; a matrix whose\n"
      "rows are not a multiple of 32 is stored as f16 for the block types). Norms stay f32. The vocabulary\n"
      "is carried over from a .gguf, or for a .bin taken from --tokenizer / a tok<vocab>.bin or\n"
      "tokenizer.bin beside it (llama2.c format). A folder's vocabulary is not carried over: generate from\n"
      "the GGUF with --tokenizer FOLDER/tokenizer.json.\n\n"
      "Examples:\n"
      "  xfmr convert --in data/stories260K/stories260K.bin --out /tmp/s260k.q8_0.gguf --type q8_0\n"
      "  xfmr convert --in model.f32.gguf --out model.q4_0.gguf --type q4_0\n"
      "  xfmr convert --in runs/llama/model --out llama.f16.gguf --type f16\n",
      {{"in", "input checkpoint (.gguf, llama2.c .bin or Llama model folder)", ""},
       {"out", "output .gguf", ""},
       {"type", "weight type: f32, f16, q8_0, q4_0", "q8_0"},
       {"tokenizer", "llama2.c tokenizer.bin for a .bin input", ""},
       {"name", "general.name to record", ""},
       {"threads", "threads (0 = all cores; or XFMR_THREADS)", ""}});
  if (!args.parse(argc, argv)) return 0;
  if (args.has("threads")) set_num_threads(static_cast<int>(args.get_int("threads")));
  const std::string in = args.get("in"), out = args.get("out");
  XF_CHECK(!in.empty() && !out.empty(), "--in and --out are required");
  kernels::QType type;
  XF_CHECK(kernels::qtype_from_name(args.get("type"), &type), "--type '", args.get("type"),
           "' is not one of f32, f16, q8_0, q4_0");
  const io::LlamaWeights w = io::load_llama_weights(in);
  io::GgufMetadata extra;
  std::string vocab_from;
  if (io::GgufFile::is_gguf(in) && args.get("tokenizer").empty()) {
    extra = io::gguf_tokenizer_metadata(io::GgufFile(in));
    if (!extra.empty()) vocab_from = in;
  } else {
    std::string tok = args.get("tokenizer");
    std::error_code ec;
    if (tok.empty() && !fs::is_directory(in, ec))
      for (const std::string& name :
           {"tok" + std::to_string(w.cfg.vocab_size) + ".bin", std::string("tokenizer.bin")})
        if (fs::exists(fs::path(in).parent_path() / name)) {
          tok = (fs::path(in).parent_path() / name).string();
          break;
        }
    if (!tok.empty()) {
      extra = io::gguf_tokenizer_metadata(io::read_llama2c_vocab(tok, w.cfg.vocab_size), w.cfg.bos_id,
                                          w.cfg.eos_id);
      vocab_from = tok;
    }
  }
  if (extra.empty() && fs::is_directory(in)) {
    // A folder's BOS / EOS ids (from its config.json; -1 when it names none, as xfmr train's char models)
    // travel as the GGUF keys, -1 stored as 0xFFFFFFFF (read back as -1), so the GGUF stops where the folder
    // does instead of at llama2.c's default ids 1 / 2.
    for (auto [key, id] : {std::pair{"tokenizer.ggml.bos_token_id", w.cfg.bos_id},
                           {"tokenizer.ggml.eos_token_id", w.cfg.eos_id}})
      extra.emplace_back(key, io::GgufValue::u32(static_cast<uint32_t>(id)));
  }
  io::write_llama_gguf(w, out, type, extra, args.get("name"));
  std::printf("wrote %s (%s weights, %lld bytes, vocabulary: %s)\n", out.c_str(), kernels::qtype_name(type),
              static_cast<long long>(fs::file_size(out)), vocab_from.empty() ? "none" : vocab_from.c_str());
  return 0;
}

}  // namespace xfmr::cli
