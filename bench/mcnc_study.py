"""Issue 10's MCNC ablations on Kodak: one knob at a time around the codec's defaults, at 0.3 bpp
and a fixed step count, with COIN at the same steps as the reference.

Knobs: the input bound L, the manifold dimension k, the SIREN size per coded number (ratio, so
the chunk d), pairs per chunk m, theta0 (zero or seeded), alpha's bits, the SIREN's depth, and
Adam's learning rate. Each run is the codec's own encoder (``inrcodec.encoder.encode``), and each
PSNR is of the decoded file at its whole-file bpp. ``--crop N`` runs on the centre N x N crops
(a quick probe; its records say so).

Usage: python bench/mcnc_study.py run [--images kodim01,...] [--steps 600] [--crop 0] [--only L,k]
           [--data-dir DIR] [--out bench/results/mcnc-study.jsonl]
       python bench/mcnc_study.py report [--out ...]   (writes mcnc-study.md beside it)
Runs resume: a record already in --out is not recomputed.
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

IMAGES = "kodim01,kodim03,kodim05,kodim12,kodim19,kodim23"  # the QAT study's six
# (knob, options given to the method); the first row of every knob is the default
ABLATIONS: list[tuple[str, dict]] = [
    ("default", {}),
    ("L", {"bound": 0.3}), ("L", {"bound": 3.0}), ("L", {"bound": 20.0}),
    ("k", {"k": 4}), ("k", {"k": 16}),
    ("ratio", {"ratio": 2.0}), ("ratio", {"ratio": 8.0}),
    ("m", {"pairs": 2}),
    ("theta0", {"theta0": 1}),
    ("bits", {"bits": 6}), ("bits", {"bits": 10}),
    ("depth", {"depth": 2}), ("depth", {"depth": 5}),
    ("lr", {"lr": 0.01}), ("lr", {"lr": 0.2}),
]


def stamp() -> dict:
    import torch

    return {"command": "python " + " ".join(sys.argv), "date": datetime.date.today().isoformat(),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads, "
                       f"torch {torch.__version__}"}


def load(out: Path) -> list[dict]:
    return [json.loads(line) for line in out.read_text().splitlines() if line.strip()] if out.exists() else []


def _image(name: str, data_dir: str | None, crop: int) -> np.ndarray:
    from inrcodec.datasets import kodak
    from inrcodec.images import decode_image_bytes

    img = decode_image_bytes(kodak(data_dir, names=[name])[0].read_bytes(), name)
    if crop:
        h, w = img.shape[:2]
        img = img[(h - crop) // 2:(h + crop) // 2, (w - crop) // 2:(w + crop) // 2]
    return np.ascontiguousarray(img)


def run(args: argparse.Namespace) -> None:
    import torch

    from inrcodec.encoder import encode
    from inrcodec.methods import EncodeOptions
    from inrcodec.methods import mcnc_encode as me

    torch.set_num_threads(args.threads or os.cpu_count() or 1)
    out = Path(args.out)
    rows = [("coin", "coin", {})] + [("mcnc", knob, opts) for knob, opts in ABLATIONS
                                     if not args.only or knob in args.only.split(",") + ["default"]]
    for name in args.images.split(","):
        img = _image(name, args.data_dir, args.crop)
        for method, knob, opts in rows:
            defaults = {} if method == "coin" else {"bound": me.DEFAULT_BOUND, "depth": me.DEFAULT_DEPTH, "k": me.DEFAULT_K,
                                                    "ratio": me.DEFAULT_RATIO, "bits": me.DEFAULT_BITS}
            key = {"image": name, "method": method, "knob": knob, "options": opts, "defaults": defaults,
                   "steps": args.steps, "crop": args.crop}
            if any(all(r.get(k) == v for k, v in key.items()) for r in load(out)):
                continue
            t0 = time.time()
            fitted = encode(img, EncodeOptions(bpp=0.3, method=method, steps=args.steps, method_options=dict(opts)))
            record = {**key, "psnr": fitted.psnr, "bpp": fitted.bpp,
                      "float_psnr": fitted.details.get("float_psnr"), "config": fitted.config,
                      "seconds": round(time.time() - t0, 1), **stamp()}
            with out.open("a") as f:
                f.write(json.dumps(record) + "\n")
            print(json.dumps({k: record[k] for k in ("image", "method", "knob", "options", "psnr", "bpp", "seconds")}),
                  flush=True)


def _signature(r: dict) -> tuple:
    return r["method"], r["knob"], json.dumps(r["options"], sort_keys=True), json.dumps(r["defaults"], sort_keys=True)


def report(args: argparse.Namespace) -> None:
    out = Path(args.out)
    records = load(out)
    lines = ["# MCNC ablations (issue 10)", "", "Made by `python bench/mcnc_study.py report` from `mcnc-study.jsonl`; each",
             "record names its command, machine and date. 0.3 bpp budget, whole-file bpp, PSNR of the decoded",
             "file; one knob changed at a time from the defaults (listed after `around`); COIN at the same",
             "steps for reference. Training score: the encoder's PSNR on its evaluation subgrid, alpha",
             "quantized (what it keeps the best snapshot by).", ""]
    for (steps, crop) in sorted({(r["steps"], r["crop"]) for r in records}):
        group = [r for r in records if r["steps"] == steps and r["crop"] == crop]
        images = sorted({r["image"] for r in group})
        lines += [f"## {steps} steps, {'centre ' + str(crop) + 'x' + str(crop) + ' crops' if crop else 'full images'}"
                  f" ({len(images)} images)", "",
                  "| method | knob | options | images | mean PSNR | mean bpp | mean training score | mean seconds |",
                  "|---|---|---|---|---|---|---|---|"]
        seen: list[tuple] = []
        for r in group:
            sig = _signature(r)
            if sig not in seen:
                seen.append(sig)
        for sig in seen:
            rs = [r for r in group if _signature(r) == sig]
            method, knob, opts = sig[0], sig[1], sig[2] + (f" around {sig[3]}" if sig[3] != "{}" else "")
            fl = [r["float_psnr"] for r in rs if r["float_psnr"] is not None]
            lines.append(f"| {method} | {knob} | `{opts}` | {len(rs)} | {np.mean([r['psnr'] for r in rs]):.2f} | "
                         f"{np.mean([r['bpp'] for r in rs]):.3f} | {np.mean(fl):.2f} | "
                         f"{np.mean([r['seconds'] for r in rs]):.0f} |" if fl else
                         f"| {method} | {knob} | `{opts}` | {len(rs)} | {np.mean([r['psnr'] for r in rs]):.2f} | "
                         f"{np.mean([r['bpp'] for r in rs]):.3f} | – | {np.mean([r['seconds'] for r in rs]):.0f} |")
        lines.append("")
    made = sorted({(r["command"], r["machine"], r["date"]) for r in records})
    lines += ["Runs: " + "; ".join(f"`{c}` ({m}, {d})" for c, m, d in made), ""]
    (out.parent / "mcnc-study.md").write_text("\n".join(lines) + "\n")
    print("wrote", out.parent / "mcnc-study.md")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("part", choices=["run", "report"])
    ap.add_argument("--images", default=IMAGES)
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--crop", type=int, default=0)
    ap.add_argument("--only", default="")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: every core); seconds are per this")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "mcnc-study.jsonl"))
    a = ap.parse_args()
    (run if a.part == "run" else report)(a)
