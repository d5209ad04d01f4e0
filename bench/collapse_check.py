"""Does a fit that falls into the flat basin ship collapsed? (issue: "never ship a collapsed result")

kodim02 with COIN's 10x28 at 16 bits and a learning rate of 1e-2 falls into the basin of a
flat image (20.64 dB) during warm-up and never leaves it; the divergence guard sees no fall.
Usage: python bench/collapse_check.py [--data-dir DIR] [--steps 1500] [--lr 1e-2]
Appends one JSON line to bench/results/collapse-check.jsonl (command, machine, date included).
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from inrcodec.datasets import kodak
from inrcodec.encoder import encode
from inrcodec.methods import EncodeOptions

ap = argparse.ArgumentParser()
ap.add_argument("--data-dir", default=None)
ap.add_argument("--image", default="kodim02")
ap.add_argument("--steps", type=int, default=1500)
ap.add_argument("--lr", type=float, default=1e-2)
args = ap.parse_args()
(path,) = kodak(args.data_dir, names=[args.image])
image = np.asarray(Image.open(path).convert("RGB"))
res = encode(image, EncodeOptions(bpp=None, steps=args.steps, method_options={
    "arch": (10, 28), "bits": 16, "uniform_bits": True, "lr": args.lr, "compile": False}))
rec = {"image": args.image, "steps": res.steps, "lr_requested": args.lr, "lr_used": res.details["lr"],
       "psnr": round(res.psnr, 3), "bpp": round(res.bpp, 4), "seconds": round(res.seconds, 1),
       "warnings": res.warnings, "command": "python " + " ".join(sys.argv),
       "machine": f"{platform.machine()}, {os.cpu_count()} cores", "date": datetime.date.today().isoformat()}
out = Path(__file__).resolve().parent / "results" / "collapse-check.jsonl"
with out.open("a") as f:
    f.write(json.dumps(rec) + "\n")
print(json.dumps(rec))
