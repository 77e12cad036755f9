// xfmr bench decode: prefill + decoding speed of a Llama model, one JSON line (peer: torch_decode.py).
#include <cstdio>

#include "xfmr/cli/args.h"
#include "xfmr/cli/commands.h"
#include "xfmr/core/check.h"
#include "xfmr/core/parallel.h"
#include "xfmr/run/bench_decode.h"

namespace xfmr::cli {

int cmd_bench_decode(int argc, char** argv) {
  Args args(
      "bench decode",
      "usage: xfmr bench decode [--preset stories15M|stories110M [--dtype T] | --model FILE] [options]\n\n"
      "Prefills a random prompt of --prompt tokens (one batched pass), then decodes greedily until --gen tokens\n"
      "are out (the first comes from the prefill), after --warmup untimed runs; prints one JSON line with the\n"
      "fields of ../shared/bench/torch_decode.py (prefill_ms, prefill_tokens_per_s, decode_ms_per_token,\n"
      "decode_tokens_per_s, params, ...) plus weight_bytes, kv_cache_bytes, memory_need_mb (their sum),\n"
      "peak_rss_mb, rss_mb (resident after the run), rss_over_need, peak_rss_over_need, baseline_rss_mb (the\n"
      "process before the weights existed) and peak_rss_over_need_above_baseline ((peak - baseline) / need).\n"
      "Presets are random weights of llama2.c shapes: stories15M (dim 288, 6 layers, 6 heads, hidden 768,\n"
      "vocab 32000, seq 256), stories110M (dim 768, 12 layers, 12 heads, hidden 2048, seq 1024).\n"
      "--write-gguf FILE also writes the weights (with a synthetic vocabulary) so llama.cpp runs the same file.\n\n"
      "Examples:\n"
      "  xfmr bench decode --preset stories15M --dtype q4_0 --threads 1 --prompt 512 --seq 1024 --gen 128\n"
      "  xfmr bench decode --preset stories110M --dtype q8_0 --write-gguf /tmp/s110.q8_0.gguf --threads 2\n"
      "  xfmr bench decode --model data/stories260K/stories260K.bin --prompt 64 --gen 128\n"
      "  llama-bench -m /tmp/s110.q8_0.gguf -t 2 -p 512 -n 128          (the llama.cpp peer)\n"
      "  /usr/bin/python3 ../shared/bench/torch_decode.py --preset stories15M --threads 1   (the torch peer)",
      {{"preset", "stories15M | stories110M", "stories15M"},
       {"model", "a .gguf / llama2.c .bin, a Llama model folder, or a folder with a file (not a preset)", ""},
       {"dtype", "f32 | f16 | q8_0 | q4_0 (a file keeps its types unless given)", ""},
       {"threads", "threads", "1"},
       {"prompt", "prefill length in tokens", "1"},
       {"gen", "tokens to generate (default: fill the context to seq)", ""},
       {"warmup", "untimed full runs", "1"},
       {"seed", "seed of the random weights and prompt", "0"},
       {"write-gguf", "also write the weights to this GGUF file", ""},
       {"dim", "override the preset's width", ""},
       {"n_layer", "override the preset's layers", ""},
       {"n_head", "override the preset's heads", ""},
       {"hidden", "override the preset's SwiGLU width", ""},
       {"vocab", "override the preset's vocabulary", ""},
       {"seq", "override the context (KV cache positions; also for --model)", ""}});
  if (!args.parse(argc, argv)) return 0;
  const int64_t threads = args.get_int("threads");
  XF_CHECK(threads >= 1, "bench decode: --threads must be >= 1, got ", threads);
  set_num_threads(static_cast<int>(threads));
  DecodeBench opt;
  opt.preset = args.get("preset");
  opt.model = args.get("model");
  opt.dtype = args.get("dtype");
  opt.prompt = args.get_int("prompt");
  if (args.has("gen")) opt.gen = args.get_int("gen");
  opt.warmup = args.get_int("warmup");
  opt.seed = static_cast<uint64_t>(args.get_int("seed"));
  opt.write_gguf = args.get("write-gguf");
  for (auto [name, field] : {std::pair{"dim", &opt.dim}, {"n_layer", &opt.n_layer}, {"n_head", &opt.n_head},
                             {"hidden", &opt.hidden}, {"vocab", &opt.vocab}, {"seq", &opt.seq}})
    if (args.has(name)) {
      *field = args.get_int(name);
      XF_CHECK(*field > 0, "bench decode: --", name, " must be positive, got ", *field);
    }
  std::printf("%s\n", bench_decode(opt).dump().c_str());
  return 0;
}

}  // namespace xfmr::cli
