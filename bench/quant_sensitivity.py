"""Which tensors of a fitted SIREN suffer from post-training quantization, and what mixed precision buys.

Fits one network (float scoring), then measures
  1. the PSNR lost when a single tensor is quantized to ``--bits`` (all others float), and
  2. PSNR and coded bytes with every tensor at b bits against the first layer at 12..16 bits
     and the rest at b.
Usage (what produced bench/results/quant-sensitivity.md):
    python bench/quant_sensitivity.py --image kodim23 --arch 10x40 --steps 2000 --data-dir ../shared/data/kodak
"""
from __future__ import annotations

import argparse
import datetime
import platform
from pathlib import Path

import numpy as np
import torch

from inrcodec.datasets import kodak
from inrcodec.methods.coin import build_stream, fit
from inrcodec.train import LoopOptions
from inrcodec.images import decode_image_bytes
from inrcodec.metrics import psnr
from inrcodec.quantize import quantize
from inrcodec.siren import Siren, SirenConfig, render

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--image", default="kodim23")
    ap.add_argument("--arch", default="10x40")
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--bits", type=int, default=8)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--out", default="quant-sensitivity.md", help="file name under bench/results")
    args = ap.parse_args()
    torch.set_num_threads(1)
    (path,) = kodak(args.data_dir, names=[args.image])
    image = decode_image_bytes(path.read_bytes(), path.name)
    h, w, c = image.shape
    config = SirenConfig(*(int(v) for v in args.arch.split("x")), c)
    result = fit(image, config, [16] * len(config.tensor_shapes()), LoopOptions(steps=args.steps))
    tensors = result.best
    model = Siren(config)

    def score(values: list[np.ndarray]) -> float:
        model.load_tensors(values)
        return psnr(render(model, h, w), image)

    float_psnr = score(tensors)
    names = [f"layer {i // 2} {'weight' if i % 2 == 0 else 'bias'} {tuple(s)}"
             for i, s in enumerate(config.tensor_shapes())]
    out = [f"Command: `python bench/quant_sensitivity.py --image {args.image} --arch {args.arch} --steps {args.steps} "
           f"--bits {args.bits} --out {args.out}`; machine: {platform.machine()}, 1 thread, torch {torch.__version__}; "
           f"date: {datetime.date.today().isoformat()}.", "",
           f"{args.arch} fitted to {args.image} for {args.steps} steps: {float_psnr:.2f} dB with float weights.", "",
           f"PSNR lost when only one tensor is quantized to {args.bits} bits:", "",
           "| tensor | dB lost |", "|---|---|"]
    for i, name in enumerate(names):
        values = list(tensors)
        values[i] = quantize(tensors[i], args.bits).dequantize()
        out.append(f"| {name} | {float_psnr - score(values):.3f} |")
    out += ["", "Whole streams (every byte of the file, header included):", "",
            "| first layer bits | other tensors bits | PSNR dB | bytes |", "|---|---|---|---|"]
    for rest in (6, 7, 8, 9, 10, 12):
        for first in sorted({rest, 12, 14, 16} - set(range(rest))):
            bits = [first, first] + [rest] * (len(tensors) - 2)
            values = [quantize(t, b).dequantize() for t, b in zip(tensors, bits)]
            size = len(build_stream(tensors, config, bits, h, w))
            out.append(f"| {first} | {rest} | {score(values):.2f} | {size} |")
    text = "\n".join(out) + "\n"
    (RESULTS / args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
