"""Does a grid fit start better from another image's trained networks? A probe for a learned
initialization (issue 14): the synthesis and ARM of a finished stream (e.g. a bench file of
another image) replace the random ones, the latents start at zero as always, and the usual
budgeted run follows. Compare with ``--init none`` by the same script.

    python bench/grid_init_probe.py --images kodim23,kodim12 --bpp 0.3 \
        --init bench/results/kodak/streams/grid-normal/kodim05-0.3.inr

Prints one JSON line per image: the file's bpp and decoded PSNR, JPEG2000's PSNR at that bpp.
The file is the training's best snapshot coded at the best synthesis depth (no extra rounds:
a file over the budget says so in ``fits``).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from inrcodec.baselines import available_codecs, search_quality  # noqa: E402
from inrcodec.datasets import kodak  # noqa: E402
from inrcodec.decoder import decode  # noqa: E402
from inrcodec.images import decode_image_bytes  # noqa: E402
from inrcodec.methods import EncodeOptions  # noqa: E402
from inrcodec.methods import grid_encode as ge  # noqa: E402
from inrcodec.methods import grid_init  # noqa: E402
from inrcodec.metrics import psnr  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", required=True)
    ap.add_argument("--bpp", type=float, required=True)
    ap.add_argument("--init", default="none", help="a grid stream whose networks start the fit, or none")
    ap.add_argument("--data-dir", default="../shared/data/kodak")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0, help="the encoder's seed (the spread of a random start)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    start = None if args.init == "none" else grid_init.networks_of(Path(args.init).read_bytes())
    j2k = available_codecs()[0]["jpeg2000"]
    for name in args.images.split(","):
        image = decode_image_bytes(kodak(args.data_dir, names=[name])[0].read_bytes(), name)
        h, w, c = image.shape
        options = EncodeOptions(bpp=args.bpp, method="grid", effort="normal", seed=args.seed)
        t0 = time.perf_counter()
        run = ge._trained(image, options, start)
        if start is not None and run.init is None:
            raise SystemExit(f"grid_init_probe: {args.init} has other network shapes")
        fit, result = run.fit, run.result
        data = ge._choose_stream(fit.model, image, fit.lam)
        bpp = len(data) * 8 / (h * w)
        ours = psnr(decode(data), image)
        found = search_quality(j2k, image, bpp)
        ref = psnr(found[2], image) if found else math.nan
        print(json.dumps({"image": name, "init": args.init, "seed": args.seed, "bpp": round(bpp, 4), "psnr": round(ours, 3),
                          "j2k_psnr": round(ref, 3), "delta": round(ours - ref, 3), "fits": bpp <= args.bpp,
                          "steps": result.steps, "best_step": result.best_step,
                          "seconds": round(time.perf_counter() - t0, 1)}), flush=True)


if __name__ == "__main__":
    main()
