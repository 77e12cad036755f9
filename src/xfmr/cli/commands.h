// One function per verb; each parses its own flags (with --help and examples) and returns the exit code.
#pragma once

namespace xfmr::cli {

int cmd_bench(int argc, char** argv);
int cmd_bench_decode(int argc, char** argv);      // `xfmr bench decode` (cmd_bench_decode.cc)
int cmd_bench_train_char(int argc, char** argv);  // `xfmr bench train-char` (cmd_bench_train_char.cc)
int cmd_convert(int argc, char** argv);
int cmd_demo(int argc, char** argv);
int cmd_generate(int argc, char** argv);
int cmd_icl(int argc, char** argv);
int cmd_icl_probe(int argc, char** argv);  // `xfmr icl probe` (cmd_icl_probe.cc)
int cmd_report(int argc, char** argv);
int cmd_prepare(int argc, char** argv);
int cmd_train(int argc, char** argv);
int cmd_serve(int argc, char** argv);
int cmd_tokenizer(int argc, char** argv);

}  // namespace xfmr::cli
