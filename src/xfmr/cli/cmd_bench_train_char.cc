#include "xfmr/cli/commands.h"

#include <cstdio>

#include "xfmr/cli/args.h"
#include "xfmr/cli/bench_flags.h"
#include "xfmr/core/check.h"
#include "xfmr/core/parallel.h"
#include "xfmr/run/bench_train_char.h"

namespace xfmr::cli {

namespace {

const char* kUsage =
    "usage: xfmr bench train-char [options]\n\n"
    "Times the training step of a char-level GPT (GPT-2 blocks, biases, exact GELU, tied head) on uniformly\n"
    "random tokens: sampling, forward, cross-entropy, backward, global-norm clip 1.0, AdamW (betas 0.9/0.99,\n"
    "weight decay 0.1 on matrices). Prints one JSON line with the fields of ../shared/bench/torch_char_gpt.py\n"
    "(step_ms, steps_per_s, tokens_per_s, final_loss, ...) plus cpu_ms_per_step, model_flops_per_step,\n"
    "gflops_per_s, peak_rss_mb, mem_need_mb (parameters, gradients, Adam moments and the activations backward\n"
    "reads, from the shapes) and mem_ratio = peak_rss_mb / mem_need_mb.\n\n"
    "Presets: shakespeare (6 layers x 6 heads x 384, block 256, batch 12), tiny (4 x 4 x 128, block 128,\n"
    "batch 12); vocab 65.\n\n"
    "Examples:\n"
    "  xfmr bench train-char --preset tiny --threads 1 --steps 20\n"
    "  xfmr bench train-char --preset shakespeare --threads 2 --steps 3 --warmup 1\n"
    "  xfmr bench train-char --preset tiny --dropout 0.2 --batch 32\n"
    "  xfmr bench train-char --preset tiny --precision bf16\n"
    "  /usr/bin/python3 ../shared/bench/torch_char_gpt.py --preset tiny --threads 1 --steps 20   (the peer)";

}  // namespace

int cmd_bench_train_char(int argc, char** argv) {
  Args args("bench train-char", kUsage,
            {{"preset", "shakespeare | tiny", "shakespeare"},
             {"threads", "threads", "1"},
             {"steps", "timed steps", "20"},
             {"warmup", "untimed warm-up steps", "3"},
             {"seed", "seed of the initialisation, the tokens and the dropout masks", "0"},
             {"lr", "AdamW learning rate", "1e-3"},
             {"precision", "f32 | bf16 (GEMMs in bf16 with f32 accumulation, AVX512-BF16 CPUs)", "f32"},
             {"dropout", "embedding and residual dropout", "0"},
             {"n_layer", "override the preset's layers", ""},
             {"n_head", "override the preset's heads", ""},
             {"n_embd", "override the preset's width", ""},
             {"block", "override the preset's sequence length", ""},
             {"batch", "override the preset's batch", ""},
             {"vocab", "override the vocabulary size (65)", ""}});
  if (!args.parse(argc, argv)) return 0;
  TrainCharBench opt;
  read_train_bench_flags(args, opt);
  opt.dropout = args.get_double("dropout");
  read_shape_override(args, "n_layer", opt.n_layer);
  read_shape_override(args, "n_head", opt.n_head);
  read_shape_override(args, "n_embd", opt.n_embd);
  read_shape_override(args, "block", opt.block);
  read_shape_override(args, "batch", opt.batch);
  read_shape_override(args, "vocab", opt.vocab);
  std::printf("%s\n", bench_train_char(opt).dump().c_str());
  return 0;
}

}  // namespace xfmr::cli
