#!/usr/bin/python3
"""PyTorch CPU peer for bench_attention: the same causal forward + backward (B=1, H=4, D=64, f32) written as
explicit math (torch 1.13 has no fused CPU attention), timed with the same thread count.

    /usr/bin/python3 bench/bench_attention_torch.py [--threads N] [--lengths 256 1024 4096]
"""
import argparse
import os
import time

import torch


def step(q, k, v, up, causal_mask):
    scores = (q @ k.transpose(-1, -2)) * (q.shape[-1] ** -0.5)
    scores = scores.masked_fill(causal_mask, float("-inf"))
    out = torch.softmax(scores, dim=-1) @ v
    out.backward(up)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--lengths", type=int, nargs="+", default=[256, 1024, 4096])
    ap.add_argument("--min-time", type=float, default=0.1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} threads")
    for t in args.lengths:
        g = torch.Generator().manual_seed(1)
        q, k, v, up = (torch.randn(1, 4, t, 64, generator=g) for _ in range(4))
        for x in (q, k, v):
            x.requires_grad_(True)
        mask = torch.ones(t, t, dtype=torch.bool).triu(1)
        step(q, k, v, up, mask)  # warm-up
        n, start = 0, time.perf_counter()
        while True:
            step(q, k, v, up, mask)
            n += 1
            if time.perf_counter() - start >= args.min_time:
                break
        ms = (time.perf_counter() - start) / n * 1e3
        gflops = 7.0 * 4 * t * t * 64 / (ms * 1e-3) / 1e9
        print(f"torch_math_causal/{t}: {ms:9.1f} ms  ({n} iterations)  GFLOP/s={gflops:.2f}")


if __name__ == "__main__":
    main()
