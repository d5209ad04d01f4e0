"""The seed study of issue 9: PSNR against weight depth (1, 2, 4, 8, 16 bits), QAT against
post-training quantization (PTQ), weights only against weights and biases.

  (a) COIN's 0.3 bpp network (10x28) at every depth: one float fit per image, then for each
      setting the fit fine-tuned through the quantizer (QAT, straight-through, the codec's
      default) and, as its control, the fit trained on in float for the same number of steps
      and quantized after training (PTQ): both runs see the same step count.
  (b) a fixed 0.3 bpp budget: QAT's rate control sizes the network per depth and setting
      (``qat.plan``), one float fit per network, then PTQ and QAT as in (a); QAT's file is
      coarsened into the budget as the codec does, PTQ's is reported at whatever size it has.

Settings per depth: weights and biases at the depth, weights only (biases at 16 bits), and
weights and biases with the first layer at 14 bits (the codec's default, which the issue asks
to measure rather than assume). Every PSNR is of the decoded file; bpp is the whole file.

Usage: python bench/qat_study.py a|b [--images kodim01,kodim03,...] [--float-steps 400]
           [--qat-steps 400] [--bits 1,2,4,8,16] [--out bench/results/qat-study.jsonl] [--data-dir DIR]
           [--device cuda]
       python bench/qat_study.py report [--out ...]   (writes qat-study.md and qat-study.png beside it)
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
from PIL import Image

IMAGES = "kodim01,kodim03,kodim05,kodim12,kodim19,kodim23"  # textures, smooth, portrait (kodim19)
SETTINGS = [  # (label, biases quantized, first layer at 14 bits)
    ("weights+biases", True, False),
    ("weights only", False, False),
    ("weights+biases, first layer 14", True, True),
]


def key(r: dict) -> tuple:
    return (r["part"], r["image"], r["bits"], r["setting"], r["quantizer"], r["float_steps"], r["qat_steps"])


def run(args: argparse.Namespace) -> None:
    import torch

    from inrcodec import siren_fit, train
    from inrcodec.datasets import kodak
    from inrcodec.decoder import decode
    from inrcodec.methods import coin, qat
    from inrcodec.metrics import psnr
    from inrcodec.siren import SirenConfig

    torch.set_num_threads(os.cpu_count() or 1)
    out = Path(args.out)
    done = {key(json.loads(line)) for line in out.read_text().splitlines() if line.strip()} if out.exists() else set()
    stamp = {"command": "python " + " ".join(sys.argv), "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
             f"torch {torch.__version__}", "date": datetime.date.today().isoformat()}
    bits_list = [int(b) for b in args.bits.split(",")]
    for name in args.images.split(","):
        (path,) = kodak(args.data_dir, names=[name])
        image = np.asarray(Image.open(path).convert("RGB"))
        h, w, c = image.shape
        limit = 0.3 * h * w / 8
        fits: dict[tuple[int, int], tuple] = {}  # (layers, width) -> float fits and their seconds
        qat_loop = train.LoopOptions(steps=args.qat_steps, lr=1e-3 * qat.QAT_LR_SCALE)
        for bits in bits_list:
            for label, quantize_biases, first14 in SETTINGS:
                if first14 and bits >= 14:
                    continue
                first = 14 if first14 else bits
                base = {"part": args.part, "image": name, "bits": bits, "setting": label,
                        "float_steps": args.float_steps, "qat_steps": args.qat_steps}
                if all(key({**base, "quantizer": q}) in done for q in ("ptq", "qat")):
                    continue
                if args.part == "a":
                    config = SirenConfig(10, 28, c)
                else:
                    config, _ = qat.plan(0.3, h, w, c, bits, quantize_biases, first)
                tb = qat.tensor_bits(config, bits, quantize_biases, first)
                arch = (config.hidden_layers, config.width)
                if arch not in fits:
                    t0 = time.time()
                    fit = siren_fit.fit(image, config, [16] * len(tb), train.LoopOptions(steps=args.float_steps, lr=1e-3),
                                   device=args.device)
                    fit_seconds = time.time() - t0
                    # PTQ's control: the same fit trained on in float for as many steps as QAT
                    # fine-tunes, at QAT's learning rate, so both have seen the same step count.
                    t0 = time.time()
                    more = siren_fit.fit(image, config, [16] * len(tb), qat_loop, device=args.device, init=fit.best)
                    fits[arch] = (fit, fit_seconds, more, time.time() - t0)
                fit, fit_seconds, more, more_seconds = fits[arch]
                common = {**base, "arch": f"{arch[0]}x{arch[1]}", "tensor_bits": tb,
                          "float_psnr": round(fit.best_score, 3), "float_seconds": round(fit_seconds, 1), **stamp}
                ptq = coin.build_stream(more.best, config, tb, h, w)
                records = [{**common, "quantizer": "ptq", "bpp": round(len(ptq) * 8 / (h * w), 4),
                            "psnr": round(psnr(decode(ptq), image), 3), "seconds": round(more_seconds, 1),
                            "float_psnr_after": round(more.best_score, 3)}]
                t0 = time.time()
                tuned = qat.fine_tune(image, config, tb, fit.best, qat_loop, device=args.device)
                data, coarsened = qat.code_within(tuned.best, tb, config, h, w,
                                                  limit if args.part == "b" else float("inf"))
                records.append({**common, "quantizer": "qat", "bpp": round(len(data) * 8 / (h * w), 4),
                                "psnr": round(psnr(decode(data), image), 3), "coarsened_by": round(coarsened, 4),
                                "seconds": round(time.time() - t0, 1)})
                with out.open("a") as f:
                    for r in records:
                        if key(r) not in done:
                            f.write(json.dumps(r) + "\n")
                            done.add(key(r))
                print(name, bits, label, common["arch"], *(f"{r['quantizer']} {r['psnr']:.2f} dB "
                                                           f"@{r['bpp']:.3f}" for r in records), flush=True)


def report(args: argparse.Namespace) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(args.out)
    records = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    lines = [f"# QAT seed study: PSNR against weight depth (records: `{out.name}`)", "",
             "Mean over the images each row names; PSNR of the decoded file, bpp of the whole file.",
             f"Made by `python bench/qat_study.py report --out {args.out}` from the records, whose own",
             "`command`, `machine` and `date` fields say how each was measured.", ""]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for ax, part in zip(axes, ("a", "b")):
        rows = [r for r in records if r["part"] == part]
        if not rows:
            ax.set_visible(False)
            continue
        steps = sorted({(r["float_steps"], r["qat_steps"]) for r in rows})
        title = ("(a) COIN's 0.3 bpp network, 10x28" if part == "a" else "(b) a 0.3 bpp budget, network sized per depth")
        lines += [f"## {title}", ""]
        lines += ["| bits | setting | images | arch | QAT PSNR | PTQ PSNR | QAT - PTQ | QAT bpp | PTQ bpp | float, same steps |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for label, _, _ in SETTINGS:
            xs, ys_q, ys_p = [], [], []
            for bits in sorted({r["bits"] for r in rows}):
                sel = {q: [r for r in rows if r["bits"] == bits and r["setting"] == label and r["quantizer"] == q]
                       for q in ("qat", "ptq")}
                images = sorted({r["image"] for r in sel["qat"]} & {r["image"] for r in sel["ptq"]})
                if not images:
                    continue
                mean = {q: {f: float(np.mean([r.get(f, np.nan) for r in sel[q] if r["image"] in images]))
                            for f in ("psnr", "bpp", "float_psnr_after")} for q in sel}
                archs = ", ".join(sorted({r["arch"] for r in sel["qat"] if r["image"] in images}))
                lines.append(f"| {bits} | {label} | {len(images)} | {archs} | {mean['qat']['psnr']:.2f} | "
                             f"{mean['ptq']['psnr']:.2f} | {mean['qat']['psnr'] - mean['ptq']['psnr']:+.2f} | "
                             f"{mean['qat']['bpp']:.3f} | {mean['ptq']['bpp']:.3f} | {mean['ptq']['float_psnr_after']:.2f} |")
                xs.append(bits)
                ys_q.append(mean["qat"]["psnr"])
                ys_p.append(mean["ptq"]["psnr"])
            if xs:
                line = ax.plot(xs, ys_q, marker="o", label=f"QAT, {label}")[0]
                ax.plot(xs, ys_p, marker="x", linestyle="--", color=line.get_color(), label=f"PTQ, {label}")
        lines += ["", f"Steps (float fit, then QAT fine-tuning or, for PTQ, more float training): "
                  f"{', '.join(f'{a} + {b}' for a, b in steps)}. \"float, same steps\" is the unquantized fit "
                  "PTQ quantized (scored on a subgrid of at most 1M pixels, i.e. the whole image here).", ""]
        ax.set_xscale("log", base=2)
        ax.set_xticks([1, 2, 4, 8, 16], ["1", "2", "4", "8", "16"])
        ax.set_xlabel("weight bits")
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("PSNR (dB), mean over images")
    axes[0].legend(fontsize=7)
    made = sorted({(r["command"].split(" --out")[0], r["machine"], r["date"]) for r in records})
    fig.text(0.01, 0.005, "; ".join(f"{c} ({m}, {d})" for c, m, d in made)[:400], fontsize=5)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(out.with_suffix(".png"), dpi=120)
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("wrote", out.with_suffix(".md"), out.with_suffix(".png"))


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("part", choices=["a", "b", "report"])
    ap.add_argument("--images", default=IMAGES)
    ap.add_argument("--bits", default="1,2,4,8,16")
    ap.add_argument("--float-steps", type=int, default=400)
    ap.add_argument("--qat-steps", type=int, default=400)
    ap.add_argument("--out", default="bench/results/qat-study.jsonl")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--device", default="cpu")
    a = ap.parse_args()
    report(a) if a.part == "report" else run(a)
