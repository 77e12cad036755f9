#!/usr/bin/python3
"""PyTorch peer of bench_elementwise.cc: the same ops and shapes, forward only, f32.

Usage: /usr/bin/python3 bench/torch_elementwise.py [threads]   (default: 1)
Prints one line per op: name, wall and CPU microseconds per call, elements per CPU second.
"""
import sys
import time

import torch
import torch.nn.functional as F

ROWS, C = 4096, 256


def bench(name, fn, min_time=0.3):
    fn()
    n, t0, c0 = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - t0 < min_time:
        fn()
        n += 1
    us = (time.perf_counter() - t0) / n * 1e6
    cpu_us = (time.process_time() - c0) / n * 1e6
    # CPU time is the fairer number on a loaded machine (same as google-benchmark's CPU column).
    print(f"{name:16s} wall {us:10.1f} us  cpu {cpu_us:10.1f} us  {ROWS * C / cpu_us * 1e-3:8.2f} G/s (cpu)")


def main():
    torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(ROWS, C, generator=g), torch.randn(ROWS, C, generator=g)
    row, col = torch.randn(C, generator=g), torch.randn(ROWS, 1, generator=g)
    yt = torch.randn(C, ROWS, generator=g).t()
    with torch.no_grad():
        bench("add_same", lambda: x + y)
        bench("add_row", lambda: x + row)
        bench("mul_col", lambda: x * col)
        bench("mul_scalar", lambda: x * 0.5)
        bench("add_transposed", lambda: x + yt)
        bench("exp", lambda: torch.exp(x))
        bench("gelu", lambda: F.gelu(x))
        bench("gelu_tanh", lambda: F.gelu(x, approximate="tanh"))
        bench("silu", lambda: F.silu(x))
        bench("sum_last", lambda: x.sum(-1))
        bench("sum_lead", lambda: x.sum(0))
        bench("mean_all", lambda: x.mean())
        bench("max_last", lambda: x.max(-1).values)
        bench("var_last", lambda: x.var(-1))
        a, b = torch.ones(64), torch.ones(64)
        bench("add_tiny", lambda: a + b)


if __name__ == "__main__":
    main()
