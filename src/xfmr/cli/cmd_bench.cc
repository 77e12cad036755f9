// xfmr bench <workload>: one JSON line of steady-state speed, with the same presets, flags and fields as the
// PyTorch peer scripts in ../shared/bench, for side-by-side ratios.
#include <cstdio>
#include <cstring>
#include <string>

#include "xfmr/cli/args.h"
#include "xfmr/cli/bench_flags.h"
#include "xfmr/cli/commands.h"
#include "xfmr/core/check.h"
#include "xfmr/core/parallel.h"
#include "xfmr/run/bench.h"

namespace xfmr::cli {


namespace {

const char* kUsage =
    "usage: xfmr bench <workload> [options]\n\n"
    "Times a workload after untimed warm-up steps and prints one JSON line (steps_per_s, tokens_per_s,\n"
    "step_ms, median_ms, cpu_ms_per_step, peak_rss_mb, ...), with the fields of the PyTorch peer scripts in\n"
    "../shared/bench, so the two can be compared as ratios in one run on the same machine.\n\n"
    "Workloads:\n"
    "  train-icl   one training step (forward, backward, clip, AdamW) of the in-context regression model;\n"
    "              peer: torch_icl_linear.py. Presets: small (d 5, 11 points, 4 layers x 2 heads x 64 dims,\n"
    "              batch 64), paper (d 20, 41 points, 12 x 8 x 256, batch 64)\n"
    "  train-char  one training step of a char GPT on random tokens; peer: torch_char_gpt.py. Presets: tiny\n"
    "              (4 x 4 x 128, block 128, batch 12), shakespeare (6 x 6 x 384, block 256, batch 12)\n"
    "              (xfmr bench train-char --help for its options)\n"
    "  decode      prefill + greedy decoding of a Llama model (random stories15M / stories110M shapes or a\n"
    "              file); peer: torch_decode.py and llama.cpp's llama-bench (xfmr bench decode --help)\n\n"
    "Examples:\n"
    "  xfmr bench train-icl --preset small --threads 1 --steps 200\n"
    "  xfmr bench train-icl --preset paper --threads 2 --steps 5 --warmup 1\n"
    "  xfmr bench train-icl --n_layer 2 --batch 128\n"
    "  xfmr bench train-char --preset tiny --threads 1 --steps 20\n"
    "  xfmr bench decode --preset stories15M --dtype q8_0 --threads 1\n"
    "  /usr/bin/python3 ../shared/bench/torch_icl_linear.py --preset small --threads 1 --steps 200   (the peer)";

int bench_train_icl_cmd(int argc, char** argv) {
  Args args("bench train-icl", kUsage,
            {{"preset", "small | paper", "small"},
             {"threads", "threads", "1"},
             {"steps", "timed steps", "50"},
             {"warmup", "untimed warm-up steps", "5"},
             {"seed", "seed of the initialisation and the prompts", "0"},
             {"lr", "AdamW learning rate", "1e-4"},
             {"precision", "f32 | bf16 (GEMMs in bf16 with f32 accumulation, AVX512-BF16 CPUs)", "f32"},
             {"gelu", "tanh | exact: the MLPs' GELU (tanh: GPT-2's approximation, as the peer uses)", "tanh"},
             {"d", "override the preset's input dimension", ""},
             {"n_points", "override the preset's points per prompt", ""},
             {"n_layer", "override the preset's layers", ""},
             {"n_head", "override the preset's heads", ""},
             {"n_embd", "override the preset's width", ""},
             {"batch", "override the preset's batch", ""}});
  if (!args.parse(argc, argv)) return 0;
  TrainIclBench opt;
  read_train_bench_flags(args, opt);
  read_shape_override(args, "d", opt.d);
  read_shape_override(args, "n_points", opt.n_points);
  read_shape_override(args, "n_layer", opt.n_layer);
  read_shape_override(args, "n_head", opt.n_head);
  read_shape_override(args, "n_embd", opt.n_embd);
  read_shape_override(args, "batch", opt.batch);
  opt.gelu = args.get("gelu");
  if (opt.gelu != "tanh" && opt.gelu != "exact")
    throw Error("bench train-icl: --gelu must be tanh or exact, got '" + opt.gelu + "'");
  std::printf("%s\n", bench_train_icl(opt).dump().c_str());
  return 0;
}

}  // namespace

int cmd_bench(int argc, char** argv) {
  if (argc < 1 || !std::strcmp(argv[0], "--help") || !std::strcmp(argv[0], "-h")) {
    std::puts(kUsage);
    return argc < 1 ? 2 : 0;
  }
  const std::string what = argv[0];
  if (what == "train-icl") return bench_train_icl_cmd(argc - 1, argv + 1);
  if (what == "train-char") return cmd_bench_train_char(argc - 1, argv + 1);
  if (what == "decode") return cmd_bench_decode(argc - 1, argv + 1);
  throw Error("bench: unknown workload '" + what + "' (known: train-icl, train-char, decode)");
}

}  // namespace xfmr::cli
