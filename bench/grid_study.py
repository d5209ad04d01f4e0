"""Latent-grid method (issue 14): variants against JPEG2000 at the same whole-file bpp.

Each run encodes one Kodak image with `--method grid` and one set of options, then finds the
largest JPEG2000 (OpenJPEG, live) file within the bpp our file reached and records both PSNRs:
`delta` > 0 means we beat JPEG2000 at that rate. Results append to a JSONL (resumable: a run
whose key is already there is skipped); `report` writes a markdown table.

  python bench/grid_study.py run --variants base,fl1 --images kodim01,kodim23 --steps 800 --bpp 0.3
  python bench/grid_study.py report
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

VARIANTS: dict[str, dict] = {
    "base": {},  # the defaults of the time (recorded with each run)
    "fl1": {"first_level": 1, "levels": 6},
    "res1": {"res_convs": 1},
    "res2": {"res_convs": 2},  # two 3x3 residual convolutions (Cool-chic's lop has two)
    "w8": {"syn_width": 8},
    "ctx12": {"context": 12, "arm_width": 12},
    "bicubic": {"upsampling": 1},
    "lr02": {"lr": 0.02},
    "lr1": {"lr": 0.1},
    "fl1-lam": {"first_level": 1, "levels": 6, "lam": 0.0023},
    "fl2": {"first_level": 2, "levels": 5},
    "fl1-lat15": {"first_level": 1, "levels": 6, "lr_latents": 0.15, "lr": 0.02},
    "fl1-lat15-n05": {"first_level": 1, "levels": 6, "lr_latents": 0.15},
    "bic": {"upsampling": 1},
    "w24": {"syn_width": 24},
    "w24bic": {"syn_width": 24, "upsampling": 1},
    "coarse25": {"coarse": 0.25},
    "coarse50": {"coarse": 0.5},
    "coarse65": {"coarse": 0.65},
    "fl0-7": {"first_level": 0, "levels": 7},
    "fl0-7c50": {"first_level": 0, "levels": 7, "coarse": 0.5},
    "ctl": {"control_gain": 0.8, "rate_margin": 0.03},
    "gain1": {"prior_gain": 1.0},
    "sub": {"upsampling": 2},
    "sub-r": {"upsampling": 2},  # a rerun of sub under another key (the study skips keys it has)
    "sub-w24": {"upsampling": 2, "syn_width": 24},
    "sub-c50-ctl": {"upsampling": 2, "coarse": 0.5, "control_gain": 0.8, "rate_margin": 0.03},
    "ctl-sub": {"upsampling": 2, "control_gain": 0.8, "rate_margin": 0.03},
    "ctl-c50": {"coarse": 0.5, "control_gain": 0.8, "rate_margin": 0.03},
    "ctl-sub-c50": {"upsampling": 2, "coarse": 0.5, "control_gain": 0.8, "rate_margin": 0.03},
    "ctl-sub-w24": {"upsampling": 2, "syn_width": 24, "control_gain": 0.8, "rate_margin": 0.03},
    "bilinear": {"upsampling": 0},  # over the 2026-12-02 defaults (sub-pixel, controller 0.8 / 3%)
    "w16": {"syn_width": 16},  # the block grid's width until 2026-12-07 (HIGH_RATE has 32 since)
    "w32": {"syn_width": 32},
    "w48": {"syn_width": 48},  # from -b 0.45 these widen the block grid's synthesis (16 hidden channels per 2x2 pixels)
    "l2": {"syn_layers": 2},
    "s2d": {"upsampling": 3, "first_level": 0, "levels": 7},  # full-size grid as 2x2 blocks
    "s2d-6": {"upsampling": 3, "first_level": 0, "levels": 6},
    "lat2": {"lr_latents": 0.2},
    "lat3": {"lr_latents": 0.3},
    "rows50": {"rate_rows": 0.5},  # the largest grid's rate from half its rows each step
    "rows25": {"rate_rows": 0.25},
    "rows12": {"rate_rows": 0.125},
    "base-1204": {},  # the defaults again, under a key the study has not run (2026-12-04)
    "m1": {"rate_margin": 0.01},
    "m0": {"rate_margin": 0.0},
    "cal": {},  # the defaults once the controller measures the file's overhead (2026-12-02, after commit de0c3b3)
    # fixed lambdas (run with a --bpp the files stay under, e.g. 3): RD points of the default and of
    # a full-size grid taken as 2x2 blocks, free of the rate controller's path
    "lam5e-6": {"lam": 5e-6},
    "lam2e-5": {"lam": 2e-5},
    "s2d-lam5e-6": {"upsampling": 3, "first_level": 0, "levels": 7, "lam": 5e-6},
    "s2d-lam2e-5": {"upsampling": 3, "first_level": 0, "levels": 7, "lam": 2e-5},
    "s2d-lam1e-4": {"upsampling": 3, "first_level": 0, "levels": 7, "lam": 1e-4},
    "s2d-lam3e-4": {"upsampling": 3, "first_level": 0, "levels": 7, "lam": 3e-4},
    # s2d under rate control from a lambda start near its own (about 3x the default's at 0.6)
    "s2d-pg": {"upsampling": 3, "first_level": 0, "levels": 7, "prior_gain": 1.4},
    "pg2": {"prior_gain": 2.0},  # the default from 0.45 bpp (block grid) with another lambda start
    "pg1": {"prior_gain": 1.0},
    "h100": {"hard_from": 1.0},  # no straight-through phase: every step soft, the snapshots scored hard
    "h80": {"hard_from": 0.8},  # a straight-through phase twice as long
    "base-evals": {},  # the defaults of 2026-12-04 again, recording every scored snapshot (evals)
    "trend1": {"control_trend": 1.0},  # the controller on the rate extrapolated one tick ahead
    "pi03": {"control_integral": 0.3},  # plus 0.3 x the sum of the log rate errors from half-way on
    "trend2": {"control_trend": 2.0},
    "lead06": {"rate_lead": 0.06},  # aim 6% above the target at the first tick, falling to none at the end
    "lead12": {"rate_lead": 0.12},
    "base-1206": {},  # the defaults again, under a key the study has not run (2026-12-06)
    "base-1207": {},  # the defaults again, under a key the study has not run (2026-12-07)
    "base-1207b": {},  # the defaults after the faster relaxation and padding (2026-12-07, afternoon)
    "lat15": {"lr_latents": 0.15},
    "fixed-time": {"effort_scale_max": 1.0},  # a large image at a 768x512 image's time (the default until 2026-12-07)
    "nolead": {"rate_lead": 0.0},  # the controller without the lead (the default until 2026-12-06)
    "base-1207c": {},  # the defaults after the one-buffer ARM contexts (2026-12-07, evening)
    "res0": {"res_convs": 0},  # no 3x3 residual convolution: a quarter cheaper a step with the block grid
    "lr01": {"lr": 0.01},  # the networks' learning rate (0.02 since 2026-11-23, chosen on crops at 1,000 steps)
    "lr04": {"lr": 0.04},
    "b2-99": {"adam_beta2": 0.99},  # Adam's second-moment memory ~100 steps instead of ~1000 (runs of 2-5k steps)
    "b2-95": {"adam_beta2": 0.95},
    "b2-999": {"adam_beta2": 0.999},  # torch's default, the grid's until 2026-12-07
    "base-1207d": {},  # the defaults with beta2 0.99 (2026-12-07, evening)
    "b2-90": {"adam_beta2": 0.9},  # the second moment as short-memoried as the first
    "b1-80": {"adam_beta1": 0.8},  # Adam's first moment over ~5 steps instead of ~10 (beta2 0.95 default)
    "b1-95": {"adam_beta1": 0.95},
    # "half1": {"half_convs": 1} ran at commit f28e222 (a 3x3 convolution on the half-size output; reverted)
    # the first lambda at the gain the controller ended at on average (geometric mean of final over
    # start lambda x prior_gain) in the 24-image benches of 2026-12-02..04: 0.73 at 0.3, 1.01 at 0.15, 1.40 at 0.1
    "pg073": {"prior_gain": 0.73},
    "pg100": {"prior_gain": 1.0},
    "pg140": {"prior_gain": 1.4},
    # "resize-bicubic" records come from bench/grid_resize_probe.py: the defaults with the coarse grids'
    # interpolation patched from bilinear to bicubic in its process (no format mode)
    "hrs": {"hard_rate_soft": 1.0},  # hard phase: distortion on rounded latents, the rate on the soft relaxation
    "arm12": {"arm_width": 12},  # a wider ARM: on fixed 0.3-bpp latents 8x16 took 4-6% fewer bits than 8x8
    "arm16": {"arm_width": 16},  # (bench/grid_context_probe.py --sizes, 2026-12-03)
    # hlr0/hlr1 (hard_latent_lr 0 / 0.1: the latents' learning rate in the hard phase) ran at
    # commit d45b32f (log grid-study-2026-12-02n.log): no gain, and the option is gone
}
OUT = Path(__file__).resolve().parent / "results" / "grid-study.jsonl"


def stamp(threads: int) -> dict:
    import torch

    return {"command": "python " + " ".join(sys.argv), "date": datetime.date.today().isoformat(),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, {threads} torch threads, "
                       f"torch {torch.__version__}"}


def load(out: Path) -> list[dict]:
    return [json.loads(line) for line in out.read_text().splitlines() if line.strip()] if out.exists() else []


def run(args: argparse.Namespace) -> None:
    import torch

    from inrcodec.baselines import available_codecs, search_quality
    from inrcodec.datasets import kodak
    from inrcodec.encoder import encode
    from inrcodec.images import decode_image_bytes
    from inrcodec.methods import EncodeOptions
    from inrcodec.methods.grid_encode import ADAM_BETAS, DEFAULT_LATENT_LR, DEFAULT_LR, DEFAULTS, SCHEDULE
    from inrcodec.metrics import psnr

    torch.set_num_threads(args.threads)
    j2k = available_codecs()[0]["jpeg2000"]
    out = Path(args.out)
    for name in args.images.split(","):
        if args.folder:  # any photos, by file stem (e.g. BSDS500's test set)
            path = next(Path(args.folder).glob(f"{name}.*"), None)
            if path is None:
                raise SystemExit(f"grid_study: no {name}.* in {args.folder}")
        else:
            path = kodak(args.data_dir, names=[name])[0]
        image = decode_image_bytes(path.read_bytes(), name)
        if args.crop:
            h, w = image.shape[:2]
            image = np.ascontiguousarray(image[(h - args.crop) // 2:(h + args.crop) // 2,
                                               (w - args.crop) // 2:(w + args.crop) // 2])
        for variant in args.variants.split(","):
            opts = dict(VARIANTS[variant])
            defaults = {**DEFAULTS, **SCHEDULE, "lr": DEFAULT_LR, "lr_latents": DEFAULT_LATENT_LR}
            if ADAM_BETAS != (0.9, 0.999):  # in the key since it changed (records before 2026-12-07 lack it)
                defaults["adam_betas"] = list(ADAM_BETAS)
            key = {"image": name, "variant": variant, "options": opts, "defaults": defaults, "steps": args.steps,
                   "effort": args.effort, "bpp_target": args.bpp, "crop": args.crop}
            if args.seed:
                key["seed"] = args.seed  # absent for seed 0, as in the records made before --seed
            if any(all(r.get(k) == v for k, v in key.items()) and r.get("seed", 0) == args.seed for r in load(out)):
                continue
            t0 = time.time()
            res = encode(image, EncodeOptions(bpp=args.bpp, method="grid", steps=args.steps, effort=args.effort,
                                              method_options=opts, seed=args.seed))
            seconds = time.time() - t0
            found = search_quality(j2k, image, res.bpp)
            j2k_psnr = psnr(found[2], image) if found else None
            record = {**key, "psnr": res.psnr, "bpp": res.bpp, "j2k_psnr": j2k_psnr,
                      "delta": None if j2k_psnr is None else res.psnr - j2k_psnr, "steps_run": res.steps,
                      "seconds": round(seconds, 1), "ms_per_step": round(1000 * seconds / max(1, res.steps), 1),
                      "lambda": res.details.get("lambda"), "lambda_start": res.details.get("lambda_start"),
                      "extra_rounds": res.details.get("extra_rounds"), "dead_zone": res.details.get("dead_zone"),
                      "fit_psnr": res.details.get("fit_psnr"), "warnings": res.warnings,
                      "rate_trace": res.details.get("rate_trace"),  # for tuning the rate controller
                      "evals": res.details.get("evals"),  # (step, hard PSNR, estimated file bpp) per snapshot
                      **stamp(args.threads)}
            with out.open("a") as f:
                f.write(json.dumps(record) + "\n")
            print(json.dumps({k: record[k] for k in ("image", "variant", "seed", "psnr", "bpp", "j2k_psnr", "delta",
                                                     "seconds") if k in record}), flush=True)


def report(args: argparse.Namespace) -> None:
    rows = load(Path(args.out))
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        opts = {**r["defaults"], **r["options"]}  # what actually ran
        groups.setdefault((r["variant"], json.dumps(opts), r["steps"], r["effort"], r["bpp_target"],
                           r["crop"]), []).append(r)
    lines = ["# Latent-grid variants against JPEG2000 (issue 14)", "",
             "Made by `python bench/grid_study.py report` from `grid-study.jsonl`; every record there names its",
             "command, machine and date. `delta`: our PSNR minus live JPEG2000's (OpenJPEG 9/7) at the largest",
             "file within our whole-file bpp, mean over the images of the row; `s`: encode seconds (with the",
             "machine's other core busy with another job unless said). Rows that reached different rates are not",
             "directly comparable: so far our gap to JPEG2000 grows with the rate.", "",
             "| variant | options (with the defaults of the time) | steps | effort | target bpp | crop | images | mean PSNR | mean bpp | mean delta dB "
             "| mean s | ms/step |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for (variant, opts, steps, effort, bpp, crop), rs in groups.items():
        deltas = [r["delta"] for r in rs if r["delta"] is not None]
        lines.append(f"| {variant} | `{opts}` | {steps} | {effort} | {bpp} | {crop or 'full'} | {len(rs)} | "
                     f"{np.mean([r['psnr'] for r in rs]):.2f} | {np.mean([r['bpp'] for r in rs]):.4f} | "
                     f"{np.mean(deltas):+.2f} | {np.mean([r['seconds'] for r in rs]):.0f} | "
                     f"{np.mean([r['ms_per_step'] for r in rs]):.0f} |")
    write_report(Path(args.out), lines, rows)


def write_report(out: Path, lines: list[str], rows: list[dict]) -> None:
    """The markdown beside the JSONL ``out``, ending with the machines and dates of ``rows``."""
    lines = lines + ["", "Machines: " + "; ".join(sorted({f"{r['machine']}, {r['date']}" for r in rows})), ""]
    out.with_suffix(".md").write_text("\n".join(lines))
    print("\n".join(lines))


def parser(doc: str, out: Path, threads: int) -> argparse.ArgumentParser:
    """The options every grid study takes (each adds its own)."""
    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    ap.add_argument("part", choices=["run", "report"])
    ap.add_argument("--variants", default="base")
    ap.add_argument("--images", default="kodim01,kodim12,kodim23")
    ap.add_argument("--threads", type=int, default=threads)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--folder", default=None, help="take --images from this folder (by file stem) instead of Kodak")
    ap.add_argument("--out", default=str(out))
    return ap


def main() -> None:
    ap = parser(__doc__, OUT, os.cpu_count() or 1)
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--effort", default="normal")
    ap.add_argument("--bpp", type=float, default=0.3)
    ap.add_argument("--crop", type=int, default=0)
    ap.add_argument("--seed", type=int, default=0, help="the encoder's seed (networks' init, training noise)")
    args = ap.parse_args()
    run(args) if args.part == "run" else report(args)


if __name__ == "__main__":
    main()
