"""Time and PSNR of each --effort preset, through the real CLI, at one rate.

Usage: python bench/effort_presets.py --images kodim23 --rate 0.3 --efforts fast,normal \
           [--method qat] --data-dir ../shared/data/kodak
Appends one JSON line per (image, effort) to bench/results/effort-presets.jsonl, with the
library's decode time of the stream (best of three).
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from inrcodec.datasets import kodak
from inrcodec.decoder import decode

ap = argparse.ArgumentParser()
ap.add_argument("--images", default="kodim23")
ap.add_argument("--rate", type=float, default=0.3)
ap.add_argument("--efforts", default="fast,normal")
ap.add_argument("--data-dir", default=None)
ap.add_argument("--method", default="coin")
args = ap.parse_args()
out = Path(__file__).resolve().parent / "results" / "effort-presets.jsonl"
out.parent.mkdir(parents=True, exist_ok=True)
for path in kodak(args.data_dir, names=args.images.split(",")):
    for effort in args.efforts.split(","):
        with tempfile.TemporaryDirectory() as d:
            cmd = [sys.executable, "-m", "inrcodec.cli", "encode", str(path), "-b", str(args.rate), "--effort",
                   effort, "--method", args.method, "--json", "-q", "-o", str(Path(d) / "x.inr")]
            res = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
            data = (Path(d) / "x.inr").read_bytes()
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            decode(data)
            times.append(time.perf_counter() - t0)
        rec = {k: res[k] for k in ("bpp", "psnr", "architecture", "bits", "steps", "seconds")} | {
            "image": path.stem, "effort": effort, "method": args.method, "rate": args.rate,
            "decode_s": round(min(times), 3), "command": "python " + " ".join(sys.argv),
            "machine": f"{platform.machine()} {os.cpu_count()} cores", "date": datetime.date.today().isoformat()}
        with out.open("a") as f:
            f.write(json.dumps(rec) + "\n")
        print(json.dumps(rec), flush=True)
