#!/bin/bash
# Training step side by side (docs/BENCHMARKS.md, "Training step"): for each workload, PyTorch's peer script, then
# xfmr in f32 and in bf16, back to back so they share the machine's load; REPS repetitions of the small workloads.
# One JSON line per run, each preceded by "## <command> | <load average>".
#   T=1 PEERS=../shared/bench scripts/bench_train_vs_torch.sh [XFMR_BINARY]
# At T=1 PyTorch's step_ms is read as CPU time (time.perf_counter replaced by time.process_time, so a busy
# machine's waits for a core do not count against it; xfmr prints cpu_ms_per_step beside step_ms). At T>1 both
# are wall time, and PyTorch runs twice: with libgomp's default wait policy and with OMP_WAIT_POLICY=passive
# (xfmr's own default since session 4), so its spinning threads are not the only figure.
# WORKLOADS picks a subset: "icl-small char-tiny char-shakespeare icl-paper" (the default).
set -euo pipefail
X=${1:-build/release/xfmr}
P=${PEERS:-../shared/bench}
T=${T:-1}
REPS=${REPS:-2}
WORKLOADS=${WORKLOADS:-icl-small char-tiny char-shakespeare icl-paper}
PY=/usr/bin/python3
[ -x "$X" ] || { echo "bench_train_vs_torch: no xfmr binary at '$X'" >&2; exit 2; }
[ -f "$P/torch_icl_linear.py" ] || { echo "bench_train_vs_torch: no PyTorch peer scripts in '$P' (set PEERS)" >&2; exit 2; }
CPU_TIME=$(mktemp /tmp/xfmr_cpu_time.XXXXXX.py)
trap 'rm -f "$CPU_TIME"' EXIT
printf 'import runpy, sys, time\ntime.perf_counter = time.process_time\nsys.argv = sys.argv[1:]\nrunpy.run_path(sys.argv[0], run_name="__main__")\n' >"$CPU_TIME"

run() { echo "## $* | $(uptime | sed 's/.*average: //')"; "$@" 2>/dev/null | tail -1; }
torch() {  # script, args...
  local s=$1; shift
  if [ "$T" = 1 ]; then run "$PY" "$CPU_TIME" "$P/$s" "$@" --threads 1
  else run "$PY" "$P/$s" "$@" --threads "$T"; run env OMP_WAIT_POLICY=passive "$PY" "$P/$s" "$@" --threads "$T"; fi
}
pair() {  # verb, torch script, args...
  local verb=$1 script=$2; shift 2
  torch "$script" "$@"
  run "$X" bench "$verb" "$@" --threads "$T"
  run "$X" bench "$verb" "$@" --threads "$T" --precision bf16
}
for w in $WORKLOADS; do
  case $w in
    icl-small) for _ in $(seq "$REPS"); do pair train-icl torch_icl_linear.py --preset small --steps 100 --warmup 5; done ;;
    char-tiny) for _ in $(seq "$REPS"); do pair train-char torch_char_gpt.py --preset tiny --steps 15 --warmup 2; done ;;
    char-shakespeare) pair train-char torch_char_gpt.py --preset shakespeare --steps 3 --warmup 1 ;;
    icl-paper) pair train-icl torch_icl_linear.py --preset paper --steps 2 --warmup 1 ;;
    *) echo "bench_train_vs_torch: unknown workload '$w'" >&2; exit 2 ;;
  esac
done
echo "## done $(date -u +%T) | $(uptime | sed 's/.*average: //')"
