"""Check our live JPEG / JPEG2000 / WebP means against CompressAI's published Kodak numbers.

Usage: python bench/validate_classic.py > bench/results/kodak/validation.md
Compares at 0.3 and 0.6 bpp in two ways: like CompressAI (mean curve of a fixed-quality sweep,
interpolated linearly in log-rate) and with our per-image bpp-target search.
"""
from __future__ import annotations

import json
from pathlib import Path

from inrcodec.metrics import interpolate_psnr
from inrcodec.report import published_curves

out = Path(__file__).resolve().parent / "results" / "kodak"
summary = json.loads((out / "summary.json").read_text())
sweeps = {c["name"]: c for c in summary["all_sweeps"]}
targets = {c["name"]: c for c in summary["targets"]}
pub = {c["name"]: c for c in published_curves()}
pairs = [("jpeg-420", "JPEG (CompressAI run)"), ("jpeg-444", "JPEG (CompressAI run)"),
         ("jpeg2000", "JPEG2000 (CompressAI run)"), ("webp", "WebP (CompressAI run)")]
import datetime, platform, os, PIL  # noqa: E401,E402
print(f"Built by `python bench/validate_classic.py` from bench/results/kodak/summary.json (24 Kodak images); "
      f"machine: {platform.machine()}, {os.cpu_count()} cores, Pillow {PIL.__version__}; "
      f"date: {datetime.date.today().isoformat()}.\n")
print("| ours | CompressAI | rate | ours, sweep curve | ours, per-image target | CompressAI | diff (sweep) | diff (target) |")
print("|---|---|---|---|---|---|---|---|")
for ours, theirs in pairs:
    for rate in (0.3, 0.6):
        s = sweeps[ours]["results"]
        a = interpolate_psnr(s["bpp"], s["psnr-rgb"], rate)
        t = targets[ours]
        b = t["results"]["psnr-rgb"][t["targets"].index(rate)]
        p = interpolate_psnr(pub[theirs]["results"]["bpp"], pub[theirs]["results"]["psnr-rgb"], rate)
        print(f"| {ours} | {theirs} | {rate} | {a:.2f} | {b:.2f} | {p:.2f} | {a - p:+.2f} | {b - p:+.2f} |")
