"""Probe: seconds per SIREN training step on this machine, by batch size, compile, threads.

Usage: python bench/probe_step_time.py [--arch 10x28] [--steps 60]
Prints one line per configuration; used to choose the fitting defaults of COIN (inrcodec/methods/coin.py).
"""
from __future__ import annotations

import argparse
import time

import torch

from inrcodec.siren import Siren, SirenConfig


def probe(arch: str, batch: int, compiled: bool, threads: int, steps: int) -> float:
    torch.set_num_threads(threads)
    layers, width = (int(v) for v in arch.split("x"))
    model = Siren(SirenConfig(layers, width), torch.Generator().manual_seed(0))
    fwd = torch.compile(model) if compiled else model
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.rand(batch, 2) * 2 - 1
    y = torch.rand(batch, 3)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        loss = torch.mean((fwd(x) - y) ** 2)
        loss.backward()
        opt.step()

    t0 = time.perf_counter()
    for _ in range(3):
        step()
    warm = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    dt = (time.perf_counter() - t0) / steps
    print(f"arch={arch} batch={batch} compiled={compiled} threads={threads} "
          f"s/step={dt:.4f} us/pixel={dt / batch * 1e6:.3f} warmup_s={warm:.1f}", flush=True)
    return dt


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", default="10x28")
    ap.add_argument("--steps", type=int, default=60)
    args = ap.parse_args()
    for compiled in (False, True):
        for batch in (8192, 16384, 32768):
            probe(args.arch, batch, compiled, 2, args.steps)
    probe(args.arch, 16384, False, 1, args.steps)
    probe(args.arch, 16384, True, 1, args.steps)
