#!/usr/bin/env bash
# How cost grows: a training step vs sequence length and vs width (char GPT, 4 layers x 4 heads, batch 12), and
# decoding vs context length (stories15M shape, f32), one thread, through the `xfmr bench` verbs. Prints the
# markdown tables of docs/BENCHMARKS.md ("Scaling"). CPU times per step, so a busy machine skews them less.
# Usage: bench/scaling.sh [path/to/xfmr]   (default build/release/xfmr, from the repo root)
set -euo pipefail
X="${1:-build/release/xfmr}"
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
for T in 64 128 256 512 1024; do
  echo "block $T $("$X" bench train-char --preset tiny --block "$T" --steps 3 --warmup 1 --threads 1)" >> "$out"
done
for C in 64 128 256 384 512; do
  echo "width $C $("$X" bench train-char --preset tiny --n_embd "$C" --steps 3 --warmup 1 --threads 1)" >> "$out"
done
for P in 32 128 512 1024 2048; do
  echo "context $P $("$X" bench decode --preset stories15M --prompt "$P" --gen 32 --seq $((P + 32)) --threads 1 \
                      --warmup 0)" >> "$out"
done
/usr/bin/python3 - "$out" <<'PY'
import json, sys
rows = {"block": [], "width": [], "context": []}
for line in open(sys.argv[1]):
    kind, value, js = line.split(" ", 2)
    rows[kind].append((int(value), json.loads(js)))
for kind, label in (("block", "block T"), ("width", "width C")):
    print(f"| {label} | CPU ms / step | model GFLOP / step | GFLOP/s | analytic memory need MB | peak RSS MB |")
    print("|---|---|---|---|---|---|")
    for v, d in rows[kind]:
        ms, gf = d["cpu_ms_per_step"], d["model_flops_per_step"] / 1e9
        print(f"| {v} | {ms:.0f} | {gf:.1f} | {gf / (ms / 1e3):.0f} | {d['mem_need_mb']:.0f} | {d['peak_rss_mb']:.0f} |")
    print()
print("| context (prompt P) | prefill CPU ms | prefill ms / token | decode CPU ms / token (context P … P+31) "
      "| KV cache MB | RSS MB after the run | weights + KV MB |")
print("|---|---|---|---|---|---|---|")
for p, d in rows["context"]:
    print(f"| {p} | {d['prefill_cpu_ms']:.1f} | {d['prefill_cpu_ms'] / p:.3f} | {d['decode_cpu_ms_per_token']:.2f} "
          f"| {d['kv_cache_bytes'] / 2**20:.1f} | {d['rss_mb']:.0f} | {d['memory_need_mb']:.0f} |")
PY
