// `xfmr bench train-char`: parses its options and prints run/bench_train_char.h's JSON record.
#pragma once

namespace xfmr::cli {

// argv holds the options after "train-char".
int cmd_bench_train_char(int argc, char** argv);

}  // namespace xfmr::cli
