"""Decode time per Kodak-sized image for COIN's five networks and the ones rate control picks
at the same rates (library call and CLI process).

Usage: python bench/decode_time.py [--repeat 5] > bench/results/decode-time.md
Decoding does not depend on how well the network was trained, so each stream comes from a
2-step encode of kodim23 (768x512); what is timed is entropy decoding + dequantization +
rendering every pixel, best of --repeat runs, and separately a whole `inrcodec decode` process
(Python start-up and the torch import included).
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from inrcodec.decoder import decode
from inrcodec.encoder import encode
from inrcodec.methods import EncodeOptions
from inrcodec.methods.coin import COIN_ARCHITECTURES, DEFAULT_BITS, plan_architecture

ap = argparse.ArgumentParser()
ap.add_argument("--repeat", type=int, default=5)
args = ap.parse_args()
root = Path(__file__).resolve().parent.parent
img = np.asarray(Image.open(root / "samples" / "kodim23.png").convert("RGB"))
print(f"Command: `python bench/decode_time.py --repeat {args.repeat}`; machine: {platform.machine()}, "
      f"{os.cpu_count()} cores, torch {torch.__version__} ({torch.get_num_threads()} threads); "
      f"date: {datetime.date.today().isoformat()}\n")
print("| arch | bytes | decode (library, best of N) s | `inrcodec decode` process s |\n|---|---|---|---|")
runs = [(f"COIN {rate} bpp", arch, 16) for rate, arch in COIN_ARCHITECTURES.items()]
for rate in COIN_ARCHITECTURES:
    cfg, _ = plan_architecture(rate, img.shape[0], img.shape[1], 3, DEFAULT_BITS)
    runs.append((f"`-b {rate}`", (cfg.hidden_layers, cfg.width), DEFAULT_BITS))
for label, arch, bits in runs:
    data = encode(img, EncodeOptions(bpp=None, method_options={"arch": arch, "bits": bits}, steps=2)).data
    best = min((lambda t0: (decode(data), time.perf_counter() - t0)[1])(time.perf_counter())
               for _ in range(args.repeat))
    with tempfile.TemporaryDirectory() as d:
        src = Path(d) / "x.inr"
        src.write_bytes(data)
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "inrcodec.cli", "decode", str(src), "-o", str(Path(d) / "x.png")],
                       check=True)
        proc = time.perf_counter() - t0
    print(f"| {arch[0]}x{arch[1]} at {bits} bits ({label}) | {len(data)} | {best:.3f} | {proc:.2f} |", flush=True)
