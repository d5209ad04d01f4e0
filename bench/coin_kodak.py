"""Replicate COIN on Kodak: every image x rate, cached as one JSON per result, resumable.

Usage (what produced bench/results/coin-kodak/):
    python bench/coin_kodak.py --mode coin16 --rates 0.3 --steps 3000 --jobs 2 \
        --data-dir ../shared/data/kodak
    python bench/coin_kodak.py --summarize

Modes: ``coin16`` = COIN's architecture for the rate, 16-bit weights, entropy coded;
``ec8`` = rate control at the rate's budget with 8-bit weights (larger network, same bpp).
Each finished (mode, steps, image, rate) is written to runs/<mode>-<steps>/<image>-<rate>.json
and skipped on the next run, so an interrupted sweep resumes across sessions.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

OUT = Path(__file__).resolve().parent / "results" / "coin-kodak"
COIN_PUBLISHED = {0.07: (0.0736, 23.205), 0.15: (0.1604, 24.641), 0.3: (0.3074, 26.412),
                  0.6: (0.6109, 28.408), 1.2: (1.209, 30.644)}  # COIN results.json (bpp, PSNR)


def _commit() -> str:
    import subprocess
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              cwd=OUT.parent, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _one(job: tuple[str, str, float, int, str]) -> dict:
    import numpy as np
    import torch
    from PIL import Image

    from inrcodec.encoder import EncodeOptions, encode
    from inrcodec.ratecontrol import COIN_ARCHITECTURES

    mode, path, rate, steps, command = job
    torch.set_num_threads(1)  # one process per core: ~20% more throughput than 2 threads (bench/README)
    img = np.asarray(Image.open(path).convert("RGB"))
    if mode == "coin16":
        opts = EncodeOptions(bpp=None, arch=COIN_ARCHITECTURES[rate], bits=16, steps=steps)
    elif mode == "ec8":
        opts = EncodeOptions(bpp=rate, bits=8, steps=steps)
    else:
        raise ValueError(mode)
    res = encode(img, opts)
    record = res.summary() | {
        "image": Path(path).stem, "rate": rate, "mode": mode, "command": command,
        "machine": f"{platform.machine()} {os.cpu_count()} cores, 1 thread per job",
        "torch": torch.__version__, "date": datetime.date.today().isoformat(), "commit": _commit(),
    }
    target = OUT / "runs" / f"{mode}-{steps}" / f"{Path(path).stem}-{rate}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=1) + "\n")
    tmp.replace(target)
    return record


def summarize() -> str:
    rows = []
    for run_dir in sorted((OUT / "runs").glob("*")):
        records = [json.loads(p.read_text()) for p in sorted(run_dir.glob("*.json"))]
        for rate in sorted({r["rate"] for r in records}):
            rs = [r for r in records if r["rate"] == rate]
            mean = lambda k: sum(r[k] for r in rs) / len(rs)  # noqa: E731
            pub_bpp, pub_psnr = COIN_PUBLISHED[rate]
            rows.append(f"| {run_dir.name} | {rate} | {len(rs)} | {rs[0]['architecture']} | "
                        f"{mean('bits'):.1f} | {mean('bpp'):.4f} | {mean('psnr'):.2f} | {pub_bpp} | {pub_psnr:.2f} | "
                        f"{mean('psnr') - pub_psnr:+.2f} | {mean('seconds'):.0f} |")
    head = ("| run (mode-steps) | rate | images | arch (first image) | bits | bpp (file) | PSNR dB | COIN bpp | "
            "COIN PSNR | diff dB | encode s/image |\n|---|---|---|---|---|---|---|---|---|---|---|")
    return head + "\n" + "\n".join(rows) + "\n"


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mode", default="coin16", choices=["coin16", "ec8"])
    ap.add_argument("--rates", default="0.3")
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--images", default=None, help="comma list like kodim01,kodim05 (default: all 24)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--summarize", action="store_true")
    args = ap.parse_args()
    if args.summarize:
        sys.stdout.write(summarize())
        sys.exit(0)
    from inrcodec.datasets import kodak

    paths = kodak(args.data_dir, names=args.images.split(",") if args.images else None)
    command = "python " + " ".join(sys.argv)
    todo = [(args.mode, str(p), float(r), args.steps, command) for r in args.rates.split(",") for p in paths
            if not (OUT / "runs" / f"{args.mode}-{args.steps}" / f"{p.stem}-{float(r)}.json").exists()]
    print(f"{len(todo)} to run", file=sys.stderr, flush=True)
    with ProcessPoolExecutor(args.jobs) as pool:
        for rec in pool.map(_one, todo):
            print(f"{rec['image']} {rec['rate']}: {rec['bpp']:.4f} bpp {rec['psnr']:.2f} dB {rec['seconds']:.0f} s",
                  file=sys.stderr, flush=True)
