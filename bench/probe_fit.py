"""Probe: PSNR (after 16-bit quantization) reached by the fitting loop in a fixed budget.

Usage: python bench/probe_fit.py IMAGE --arch 10x28 --budget 60 [--lr 2e-3] [--compile 0|1] [--batch 16384]
Prints one JSON line; used to choose the defaults of inrcodec/fit.py.
"""
from __future__ import annotations

import argparse
import json
import platform

import numpy as np
from PIL import Image

from inrcodec.fit import FitOptions, fit
from inrcodec.siren import SirenConfig

ap = argparse.ArgumentParser()
ap.add_argument("image")
ap.add_argument("--arch", default="10x28")
ap.add_argument("--budget", type=float, default=60)
ap.add_argument("--steps", type=int, default=None)
ap.add_argument("--lr", type=float, default=2e-3)
ap.add_argument("--batch", type=int, default=16384)
ap.add_argument("--compile", type=int, default=None)
args = ap.parse_args()
img = np.asarray(Image.open(args.image).convert("RGB"))
layers, width = (int(v) for v in args.arch.split("x"))
opts = FitOptions(steps=args.steps, budget_seconds=args.budget, lr=args.lr, batch_pixels=args.batch,
                  compile=None if args.compile is None else bool(args.compile))
res = fit(img, SirenConfig(layers, width), opts)
print(json.dumps({"image": args.image, "arch": args.arch, "budget": args.budget, "lr": args.lr,
                  "batch": args.batch, "compile": args.compile, "steps": res.steps, "best_step": res.best_step,
                  "seconds": round(res.seconds, 1), "psnr_q16": round(res.psnr_quantized, 3),
                  "machine": platform.machine(), "cpus": __import__("os").cpu_count()}), flush=True)
