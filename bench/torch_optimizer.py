#!/usr/bin/python3
"""PyTorch CPU peer for bench_optimizer: one flat f32 parameter, time per step (median of repeats).
Usage: /usr/bin/python3 bench/torch_optimizer.py [threads]"""
import sys
import time

import torch


def bench(fn, reps=20):
    fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    ts.sort()
    return ts[len(ts) // 2]


def main():
    torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else torch.get_num_threads())
    for n in (1 << 16, 1 << 20, 1 << 24):
        p = torch.randn(n, requires_grad=True)
        p.grad = torch.randn(n)
        for name, opt, bpe in (
            ("AdamW", torch.optim.AdamW([p], lr=1e-4, betas=(0.9, 0.95), weight_decay=0.1, foreach=False), 28),
            ("AdamW_foreach", torch.optim.AdamW([p], lr=1e-4, betas=(0.9, 0.95), weight_decay=0.1, foreach=True), 28),
            ("SGD_nesterov", torch.optim.SGD([p], lr=1e-4, momentum=0.9, nesterov=True, weight_decay=0.1), 20),
        ):
            t = bench(opt.step)
            print(f"torch {name:14s} n={n:9d}  {t * 1e6:10.1f} us  {n * bpe / t / 1e9:6.2f} GB/s")
        norm = float(torch.nn.utils.clip_grad_norm_([p], 1e30))
        t = bench(lambda: torch.nn.utils.clip_grad_norm_([p], norm * 0.999999))
        print(f"torch {'clip_grad_norm':14s} n={n:9d}  {t * 1e6:10.1f} us  {n * 12 / t / 1e9:6.2f} GB/s")


if __name__ == "__main__":
    main()
