#!/usr/bin/python3
"""Summarises scripts/bench_train_vs_torch.sh output: per workload, PyTorch's and xfmr's ms per step and the
speed-up (PyTorch ms / xfmr ms). At 1 thread the CPU-time figures are used (PyTorch's step_ms is CPU time under
that script; xfmr's cpu_ms_per_step), at more threads wall time (step_ms) for both.
usage: scripts/bench_train_summary.py OUTPUT_FILE"""
import json
import statistics
import sys
from collections import defaultdict


def main(path):
    runs = defaultdict(list)  # (workload, threads, who) -> [ms]
    command = ""
    for line in open(path):
        if line.startswith("## "):
            command = line
            continue
        if not line.startswith("{"):
            continue
        r = json.loads(line)
        workload = ("icl " if "icl" in r["bench"] else "char ") + r["preset"]
        t = r["threads"]
        if r["bench"].startswith("torch"):
            who = "pytorch passive" if "OMP_WAIT_POLICY=passive" in command else "pytorch"
            ms = r["step_ms"]
        else:
            who = "xfmr " + r["precision"]
            ms = r["cpu_ms_per_step"] if t == 1 else r["step_ms"]
        runs[(workload, t, who)].append(ms)
    print("| workload | threads | PyTorch ms | xfmr f32 ms | speed-up | xfmr bf16 ms | speed-up |")
    print("|---|---|---|---|---|---|---|")
    for (workload, t) in sorted({(w, t) for (w, t, _) in runs}):
        def cell(who):
            v = runs.get((workload, t, who))
            return (statistics.median(v), ", ".join(f"{x:.1f}" for x in v)) if v else (None, "-")
        torch_ms, torch_txt = cell("pytorch")
        passive_ms, passive_txt = cell("pytorch passive")
        if passive_ms is not None:
            torch_txt += f" (passive: {passive_txt})"
            torch_ms = min(torch_ms, passive_ms)  # the ratio is against PyTorch's better policy
        row = [workload, str(t), torch_txt]
        for who in ("xfmr f32", "xfmr bf16"):
            ms, txt = cell(who)
            row += [txt, f"**{torch_ms / ms:.2f}x**" if ms and torch_ms else "-"]
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
