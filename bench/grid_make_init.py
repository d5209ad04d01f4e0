"""Make a learned initialization for the grid encoder (issue 14): one synthesis and ARM trained
on several BSDS500 training photos at once, each with its own latents
(:func:`inrcodec.methods.grid_init.pretrain`), written as the first photo's stream (its networks
are the initialization).

    python bench/grid_make_init.py --images 100075,100080,100098 --bpp 0.3 --steps 3000 \
        --out /tmp/grid-init.inr

A chain instead (each photo's encode starting from the previous one's networks, this script
until 2026-12-02) gained nothing over random networks (bench/results/grid-study-2026-12-02p.log).
Never Kodak: the initialization is judged on Kodak and on photos it has not seen.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from inrcodec.images import decode_image_bytes  # noqa: E402
from inrcodec.methods import grid_init  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", required=True, help="BSDS500 training photos by file stem")
    ap.add_argument("--bpp", type=float, required=True)
    ap.add_argument("--steps", type=int, required=True)
    ap.add_argument("--folder", default="../shared/data/bsds500/train")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    images = []
    for name in args.images.split(","):
        path = next(Path(args.folder).glob(f"{name}.*"), None)
        if path is None:
            raise SystemExit(f"grid_make_init: no {name}.* in {args.folder}")
        images.append(decode_image_bytes(path.read_bytes(), name))
    t0 = time.perf_counter()
    last = [0.0]

    def report(p) -> None:
        if p.elapsed - last[0] > 60:
            last[0] = p.elapsed
            print(json.dumps({"step": p.step, "of": p.total_steps, "loss_db": round(p.loss_db, 2),
                              "seconds": round(p.elapsed)}), flush=True)

    data = grid_init.pretrain(images, args.bpp, args.steps, seed=args.seed, on_progress=report)
    Path(args.out).write_bytes(data)
    h, w = images[0].shape[:2]
    print(json.dumps({"out": args.out, "bytes": len(data), "first_bpp": round(len(data) * 8 / (h * w), 4),
                      "sha256": hashlib.sha256(data).hexdigest(), "seconds": round(time.perf_counter() - t0, 1)}))


if __name__ == "__main__":
    main()
