"""Probe: PSNR (after 16-bit quantization) reached by the fitting loop in a fixed budget.

Usage: python bench/probe_fit.py IMAGE --arch 10x28 --budget 60 [--lr 2e-3] [--compile 0|1]
       [--steps N --time-limit S]  (the schedule of an N-step run, stopped after S seconds)
       [--trace]                   (the running mini-batch PSNR every few seconds, on stderr)
Prints one JSON line; used to choose the defaults of COIN's fit (inrcodec/methods/coin.py).
"""
from __future__ import annotations

import argparse
import json
import platform
import sys

import numpy as np
from PIL import Image

from inrcodec.methods.coin import fit
from inrcodec.siren import SirenConfig
from inrcodec.train import LoopOptions

ap = argparse.ArgumentParser()
ap.add_argument("image")
ap.add_argument("--arch", default="10x28")
ap.add_argument("--budget", type=float, default=60)
ap.add_argument("--steps", type=int, default=None)
ap.add_argument("--lr", type=float, default=2e-3)
ap.add_argument("--compile", type=int, default=None)
ap.add_argument("--time-limit", type=float, default=None)
ap.add_argument("--trace", action="store_true")
args = ap.parse_args()
last = [0.0]


def trace(p) -> None:
    if p.elapsed - last[0] >= 5:
        last[0] = p.elapsed
        sys.stderr.write(f"step {p.step}/{p.total_steps or '?'} {p.elapsed:.0f} s running PSNR {p.loss_db:.2f}\n")

img = np.asarray(Image.open(args.image).convert("RGB"))
layers, width = (int(v) for v in args.arch.split("x"))
opts = LoopOptions(steps=args.steps, budget_seconds=args.budget, lr=args.lr, time_limit=args.time_limit,
                   on_progress=trace if args.trace else None)
config = SirenConfig(layers, width)
res = fit(img, config, [16] * len(config.tensor_shapes()), opts,
          compile=None if args.compile is None else bool(args.compile))
print(json.dumps({"image": args.image, "arch": args.arch, "budget": args.budget, "lr": args.lr,
                  "compile": args.compile, "steps": res.steps, "best_step": res.best_step,
                  "restarts": res.restarts, "final_psnr_q16": round(res.final_score, 3),
                  "seconds": round(res.seconds, 1), "psnr_q16": round(res.best_score, 3),
                  "machine": platform.machine(), "cpus": __import__("os").cpu_count()}), flush=True)
