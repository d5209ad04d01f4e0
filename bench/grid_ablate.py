"""Latent-grid recipe ablations on centre crops at a fixed lambda (issue 14): cheap enough to try
many variants, one torch thread each.

Each run encodes the centre 256x384 crop of a few Kodak images with `--method grid`, a fixed
lambda and a fixed step count, then finds the largest JPEG2000 (OpenJPEG, live) file within the
bpp our file reached: `delta` is our PSNR minus JPEG2000's (> 0: we win at that rate). Crops make
JPEG2000 a little weaker than on whole images, so only differences between variants carry over;
winners are then checked on whole images with `bench/grid_study.py`. Results append to a JSONL
(resumable: a run whose key is there is skipped); `report` writes a markdown table.

  python bench/grid_ablate.py run --variants base,lat1 --steps 1000 --lam 0.002
  python bench/grid_ablate.py report
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from grid_study import load, parser, stamp, write_report

# Encoder options over the defaults of the time (every record keeps the defaults it ran with).
VARIANTS: dict[str, dict] = {
    "base": {},
    "t35": {"t_start": 0.35, "t_end": 0.08},
    "hard90": {"hard_from": 0.9},
    "hard65": {"hard_from": 0.65},
    "lr02": {"lr": 0.02},
    "lr1": {"lr": 0.1},
    "lat1": {"lr_latents": 0.1},
    "lat025": {"lr_latents": 0.025},
    "arm1": {"arm_init": -1.0},
    "arm3": {"arm_init": -3.0},
    "fl0": {"first_level": 0, "levels": 7},
    "ctx12": {"context": 12, "arm_width": 12},
    "w24": {"syn_width": 24},
    "bicubic": {"upsampling": 1},
    "l2": {"syn_layers": 2},
    "res1": {"res_convs": 1},
    "c1": {"t_start": 0.35, "t_end": 0.08, "hard_from": 0.9, "lr_latents": 0.1, "lr": 0.02},
    "c1lat2": {"t_start": 0.35, "t_end": 0.08, "hard_from": 0.9, "lr_latents": 0.2, "lr": 0.02},
    "c1fl0": {"t_start": 0.35, "t_end": 0.08, "hard_from": 0.9, "lr_latents": 0.1, "lr": 0.02, "first_level": 0,
              "levels": 7},
    "c1lr01": {"t_start": 0.35, "t_end": 0.08, "hard_from": 0.9, "lr_latents": 0.1, "lr": 0.01},
}
_C1 = VARIANTS["c1"]
VARIANTS |= {"c1res1": _C1 | {"res_convs": 1}, "c1bic": _C1 | {"upsampling": 1},
             "c1res1bic": _C1 | {"res_convs": 1, "upsampling": 1}, "c1res1w24": _C1 | {"res_convs": 1, "syn_width": 24},
             "c1res1arm3": _C1 | {"res_convs": 1, "arm_init": -3.0}}
OUT = Path(__file__).resolve().parent / "results" / "grid-ablate.jsonl"
CROP = (256, 384)


def run(args: argparse.Namespace) -> None:
    import torch

    from inrcodec.baselines import available_codecs, search_quality
    from inrcodec.datasets import kodak
    from inrcodec.encoder import encode
    from inrcodec.images import decode_image_bytes
    from inrcodec.methods import EncodeOptions
    from inrcodec.methods.grid_encode import DEFAULT_LATENT_LR, DEFAULT_LR, DEFAULTS, SCHEDULE
    from inrcodec.metrics import psnr

    torch.set_num_threads(args.threads)
    j2k = available_codecs()[0]["jpeg2000"]
    out = Path(args.out)
    for variant in args.variants.split(","):
        for name in args.images.split(","):
            opts = dict(VARIANTS[variant])
            defaults = {**DEFAULTS, **SCHEDULE, "lr": DEFAULT_LR, "lr_latents": DEFAULT_LATENT_LR}
            key = {"image": name, "variant": variant, "options": opts, "defaults": defaults,
                   "steps": args.steps, "lam": args.lam, "crop": list(CROP), "seed": args.seed}
            if any(all(r.get(k) == v for k, v in key.items()) for r in load(out)):
                continue
            image = decode_image_bytes(kodak(args.data_dir, names=[name])[0].read_bytes(), name)
            h, w = image.shape[:2]
            image = np.ascontiguousarray(image[(h - CROP[0]) // 2:(h + CROP[0]) // 2,
                                               (w - CROP[1]) // 2:(w + CROP[1]) // 2])
            t0 = time.time()
            res = encode(image, EncodeOptions(bpp=None, method="grid", steps=args.steps, seed=args.seed,
                                              method_options={"lam": args.lam, **opts}))
            seconds = time.time() - t0
            j2k_psnr = psnr(search_quality(j2k, image, res.bpp)[2], image)
            record = {**key, "psnr": res.psnr, "bpp": res.bpp, "j2k_psnr": j2k_psnr, "delta": res.psnr - j2k_psnr,
                      "fit_psnr": res.details.get("fit_psnr"), "fit_latent_bpp": res.details.get("fit_latent_bpp"),
                      "seconds": round(seconds, 1), **stamp(args.threads)}
            with out.open("a") as f:
                f.write(json.dumps(record) + "\n")
            print(json.dumps({k: record[k] for k in ("image", "variant", "psnr", "bpp", "delta", "seconds")}),
                  flush=True)


def report(args: argparse.Namespace) -> None:
    rows = load(Path(args.out))
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["variant"], json.dumps(r["options"]), r["steps"], r["lam"], r["seed"]), []).append(r)
    base = {k[2:]: np.mean([r["delta"] for r in rs]) for k, rs in groups.items() if k[0] == "base"}
    lines = ["# Latent-grid recipe ablations on crops (issue 14)", "",
             "Made by `python bench/grid_ablate.py report` from `grid-ablate.jsonl` (each record names its command,",
             "machine and date). Centre 256x384 crops of kodim01, kodim12, kodim23 at a fixed lambda; `delta`: our",
             "PSNR minus live JPEG2000's at the largest file within our bpp, mean over the 3 crops; `vs base`: the",
             "same minus the base row's (same steps, lambda, seed). Seconds: 1 torch thread, the other core busy.", "",
             "| variant | options over the defaults | steps | lambda | mean PSNR | mean bpp | delta dB | vs base | s |",
             "|---|---|---|---|---|---|---|---|---|"]
    for (variant, opts, steps, lam, seed), rs in sorted(groups.items(), key=lambda kv: -np.mean(
            [r["delta"] for r in kv[1]])):
        d = np.mean([r["delta"] for r in rs])
        vs = base.get((steps, lam, seed))
        lines.append(f"| {variant} | `{opts}` | {steps} | {lam} | {np.mean([r['psnr'] for r in rs]):.2f} | "
                     f"{np.mean([r['bpp'] for r in rs]):.4f} | {d:+.3f} | "
                     f"{'' if vs is None else format(d - vs, '+.2f')} | {np.mean([r['seconds'] for r in rs]):.0f} |")
    defaults = sorted({json.dumps(r["defaults"]) for r in rows})
    lines += ["", "Defaults the runs started from: " + "; ".join(f"`{d}`" for d in defaults)]
    write_report(Path(args.out), lines, rows)


def main() -> None:
    ap = parser(__doc__, OUT, 1)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--lam", type=float, default=0.002)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    run(args) if args.part == "run" else report(args)


if __name__ == "__main__":
    main()
