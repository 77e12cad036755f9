#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/, clang + ASan + UBSan) and runs each for a bounded time, starting from a
# seed corpus of the repo's real files (copied to a scratch folder: data/ is never written).
# Usage: scripts/fuzz.sh [seconds per target, default 20]
# The mutation seed is fixed (FUZZ_SEED, default 1) so a CI run explores the same inputs as a longer local run
# with the same seed, and a failure reproduces; FUZZ_SEED=0 lets libFuzzer pick a random one (exploration).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET="${1:-20}"
FUZZ_SEED="${FUZZ_SEED:-1}"
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz --target fuzz_all
# The token-file seeds come from `xfmr prepare`: reuse the test build's binary when there is one.
xfmr_bin=""
for b in build/ci/xfmr build/release/xfmr; do [ -x "$b" ] && { xfmr_bin="$b"; break; }; done
if [ -z "$xfmr_bin" ]; then cmake --build --preset fuzz --target xfmr; xfmr_bin=build/fuzz/xfmr; fi
work="$(mktemp -d "${TMPDIR:-/tmp}/xfmr_fuzz.XXXXXX")"
trap 'rm -rf "$work"' EXIT

seed() {  # seed TARGET FILE...: the target's starting corpus
  local target="$1"; shift
  mkdir -p "$work/$target"
  for f in "$@"; do cp "$f" "$work/$target/"; done
}
seed fuzz_safetensors data/hf-tiny-gpt2/model.safetensors
seed fuzz_sentencepiece data/stories260K/tok512.bin data/tokenizers/llama2/tokenizer.model
seed fuzz_hf_tokenizer
printf '{"model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":["a b"]}}' > "$work/fuzz_hf_tokenizer/min.json"
"$xfmr_bin" prepare --input data/text/SOURCES.md --tokenizer byte --out "$work/prep" >/dev/null
seed fuzz_token_file "$work/prep/train.bin" "$work/prep/val.bin"
seed fuzz_llama_checkpoint data/stories260K/stories260K.bin data/stories260K/stories260K.gguf

status=0
for target in fuzz_safetensors fuzz_sentencepiece fuzz_hf_tokenizer fuzz_token_file fuzz_llama_checkpoint; do
  echo "fuzz: $target for ${SECONDS_PER_TARGET}s"
  # -rss_limit_mb / -malloc_limit_mb: a header that makes a parser allocate beyond what the file can hold is a bug.
  if ! (cd "$work" && "$OLDPWD/build/fuzz/fuzz/$target" -max_total_time="$SECONDS_PER_TARGET" -seed="$FUZZ_SEED" -rss_limit_mb=2048 \
          -malloc_limit_mb=1024 -max_len=65536 -print_final_stats=0 "$work/$target" >"$work/$target.log" 2>&1); then
    echo "fuzz: $target FAILED"; tail -40 "$work/$target.log"; status=1
  else
    grep -E "^#[0-9]+.*DONE|Done [0-9]+ runs" "$work/$target.log" | tail -1 || true
  fi
done
exit $status
