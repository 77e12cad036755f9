#!/bin/bash
# Decode / prefill side by side: for each GGUF file, xfmr prefill (each binary), llama-bench (pp512 and tg128),
# xfmr decode (each binary), back to back so the load is shared (docs/BENCHMARKS.md, "Decoding and prefill").
# usage: T=1 LLAMA_BENCH=/path/llama-bench scripts/bench_decode_vs_llama.sh "xfmr_before xfmr_after" F.gguf...
# Write the files once with: xfmr bench decode --preset stories110M --dtype q4_0 --write-gguf F.gguf
set -euo pipefail
T=${T:-1}
LB=${LLAMA_BENCH:-llama-bench}
BINS=$1
shift
for F in "$@"; do
  echo "== $F threads $T $(uptime | sed 's/.*load/load/')"
  for b in $BINS; do echo "$b $("$b" bench decode --model "$F" --threads "$T" --prompt 512 --gen 1 --seq 1024 --warmup 1 | tail -1)"; done
  "$LB" -m "$F" -t "$T" -p 512 -n 128 -r 2 -o csv 2>/dev/null
  for b in $BINS; do echo "$b $("$b" bench decode --model "$F" --threads "$T" --prompt 1 --gen 129 --seq 1024 --warmup 1 | tail -1)"; done
  echo "end $(uptime | sed 's/.*load/load/')"
done
