"""Probe: one QAT encode of a Kodak image at a budget, with the QAT phase's learning-rate scale.

Usage: python bench/qat_probe.py BITS LR_SCALE [soft|ste] [--image kodim23] [--rate 0.3] [--steps 2000]
       [--data-dir DIR]
Prints one JSON line (PSNR of the file, of the float fit and of the best QAT snapshot), with
command, machine and date. Used for the README's QAT diagnosis.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time

import numpy as np
from PIL import Image

from inrcodec.datasets import kodak
from inrcodec.encoder import encode
from inrcodec.methods import EncodeOptions

ap = argparse.ArgumentParser()
ap.add_argument("bits", type=int)
ap.add_argument("lr_scale", type=float)
ap.add_argument("quantizer", nargs="?", default="soft")
ap.add_argument("--image", default="kodim23")
ap.add_argument("--rate", type=float, default=0.3)
ap.add_argument("--steps", type=int, default=2000)
ap.add_argument("--data-dir", default=None)
args = ap.parse_args()
(path,) = kodak(args.data_dir, names=[args.image])
img = np.asarray(Image.open(path).convert("RGB"))
t0 = time.time()
r = encode(img, EncodeOptions(bpp=args.rate, method="qat", steps=args.steps, method_options={
    "bits": args.bits, "qat_lr_scale": args.lr_scale, "quantizer": args.quantizer}))
print(json.dumps({"image": args.image, "bits": args.bits, "lr_scale": args.lr_scale, "quantizer": args.quantizer,
                  "bpp": round(r.bpp, 4), "psnr": round(r.psnr, 2), "float_psnr": round(r.details["float_psnr"], 2),
                  "qat_psnr": round(r.details["qat_psnr"], 2), "config": r.config, "seconds": round(time.time() - t0),
                  "command": "python " + " ".join(sys.argv), "machine": f"{platform.machine()}, {os.cpu_count()} cores",
                  "date": datetime.date.today().isoformat()}), flush=True)
