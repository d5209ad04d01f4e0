"""Probe for issue 9: does Struempler et al.'s basic architecture beat our QAT SIREN at equal time?

Their basic Kodak recipe (read from their public code, 2026-12-01; no code copied): the raw
coordinates plus sin and cos of (scale^i * pi * c) for i < 16 (scale 1.4), four sine layers
(w0 = 30) of width W and a linear output, coordinates and targets in [-1, 1], an L1 penalty of
1e-5 on every parameter, 8-bit weights for every tensor. This probe fits that network on one
image for a wall-time budget on one thread: float training, then straight-through QAT through
the codec's quantizer (:class:`inrcodec.softquant.SoftQuantizer`) for the last half, and codes
the hard-quantized tensors with the codec's own entropy coder. The size it reports is the
payload plus the header, section and record bytes a stream of that many tensors would have
(the format has no field for the encoding yet, so no stream is written); PSNR is that of the
8-bit image the quantized network renders. Since 2026-12-01 the codec's `qat` method has this
network as its default (`--fourier`, a field of the COIN/QAT section); the probe stays as the
reference it was checked against (`--steps` for equal-step comparisons, `--unit-targets` for
the codec's [0, 1] colours).

Usage: python bench/fourier_probe.py --images kodim01,kodim12,kodim23 [--seconds 300] [--rate 0.3]
       [--l1 1e-5] [--threads 1] [--data-dir DIR] [--out bench/results/fourier-probe.jsonl]
"""
from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import sys
import time

import numpy as np
import torch
from PIL import Image

from inrcodec.bitstream import overhead_bytes
from inrcodec.datasets import kodak
from inrcodec.entropy import Encoder
from inrcodec.softquant import SoftQuantizer

FREQUENCIES, SCALE, W0, LAYERS = 16, 1.4, 30.0, 4
SECTION_BYTES = 8  # about what a method section with the architecture and encoding would take


def features(h: int, w: int) -> torch.Tensor:
    """(H*W, 2 + 4 * FREQUENCIES): (y, x) in [-1, 1] and their sines and cosines."""
    ys, xs = torch.linspace(-1, 1, h), torch.linspace(-1, 1, w)
    c = torch.stack(torch.meshgrid(ys, xs, indexing="ij"), -1).reshape(-1, 2)
    freqs = (SCALE ** torch.arange(FREQUENCIES, dtype=torch.float32)) * math.pi
    arg = (c[:, :, None] * freqs).reshape(len(c), -1)
    return torch.cat([c, torch.sin(arg), torch.cos(arg)], 1)


def shapes(width: int, inputs: int) -> list[tuple[int, ...]]:
    dims = [inputs] + [width] * LAYERS
    out = []
    for i, o in zip(dims[:-1], dims[1:]):
        out += [(o, i), (o,)]
    return out + [(3, width), (3,)]


def init(width: int, inputs: int, gen: torch.Generator) -> list[torch.Tensor]:
    """SIREN initialization: U(+-1/n) in the first layer, U(+-sqrt(6/n)/w0) after; biases U(+-1/sqrt(n))."""
    ts = []
    for k, s in enumerate(shapes(width, inputs)):
        n = s[1] if len(s) == 2 else shapes(width, inputs)[k - 1][1]
        bound = (1 / n if k == 0 else math.sqrt(6 / n) / W0) if len(s) == 2 else 1 / math.sqrt(n)
        ts.append(((torch.rand(s, generator=gen) * 2 - 1) * bound).requires_grad_(True))
    return ts


def forward(ts: list[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    h = x
    for k in range(0, len(ts) - 2, 2):
        h = torch.sin(W0 * torch.nn.functional.linear(h, ts[k], ts[k + 1]))
    return torch.nn.functional.linear(h, ts[-2], ts[-1])


def width_for(rate: float, pixels: int, inputs: int, bits_per_param: float = 7.4) -> int:
    """The widest network whose parameters at ``bits_per_param`` fit the budget with the header
    (8-bit weights after QAT coded at 7.25 bits each on kodim23 in a first try)."""
    budget = rate * pixels - 8 * overhead_bytes(SECTION_BYTES, 2 * (LAYERS + 1))
    width = 8
    while sum(math.prod(s) for s in shapes(width + 1, inputs)) * bits_per_param <= budget:
        width += 1
    return width


def probe(image: np.ndarray, rate: float, seconds: float, l1: float, seed: int = 0, steps: int | None = None,
          unit_targets: bool = False) -> dict:
    h, w, _ = image.shape
    x = features(h, w)
    y = torch.from_numpy(image.reshape(-1, 3).astype(np.float32) / 127.5 - 1)
    if unit_targets:  # the codec's own convention: colours in [0, 1] (an ablation)
        y = (y + 1) / 2
    width = width_for(rate, h * w, x.shape[1])
    ts = init(width, x.shape[1], torch.Generator().manual_seed(seed))
    gen = torch.Generator().manual_seed(seed + 1)
    quant: list[SoftQuantizer] | None = None
    opt = torch.optim.Adam(ts, lr=1e-3)
    t0, step, qat_from = time.time(), 0, None
    while (time.time() - t0 < seconds) if steps is None else step < steps:
        frac = (time.time() - t0) / seconds if steps is None else step / steps
        if quant is None and frac >= 0.5:  # the QAT half: straight-through 8-bit weights
            quant = [SoftQuantizer(t.detach(), 8) for t in ts]
            opt = torch.optim.Adam([{"params": ts}, {"params": [q.log_alpha for q in quant]}], lr=2.5e-4)
            qat_from = step
        lr_scale = 0.5 * (1 + math.cos(math.pi * (frac if quant is None else (frac - 0.5) * 2)))
        for g in opt.param_groups:
            g["lr"] = (1e-3 if quant is None else 2.5e-4) * max(lr_scale, 0.02)
        idx = torch.randint(0, len(x), (16384,), generator=gen)
        net = ts if quant is None else [q(t, None) for q, t in zip(quant, ts)]
        loss = torch.mean((forward(net, x[idx]) - y[idx]) ** 2) + l1 * sum(t.abs().sum() for t in ts)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
    if quant is None:  # a budget too short for the QAT half: quantize after training
        quant = [SoftQuantizer(t.detach(), 8) for t in ts]
    enc = Encoder()
    with torch.no_grad():
        hard = []
        for q, t in zip(quant, ts):
            ints, alpha_bits = q.hard(t)
            enc.add(ints.numpy().reshape(-1), 8)
            hard.append(q.dequantized(t))
        out = torch.cat([forward(hard, x[s:s + 65536]) for s in range(0, len(x), 65536)])
    decoded = np.clip(np.rint((out.numpy() * 2 if unit_targets else out.numpy() + 1) * 127.5), 0, 255).reshape(h, w, 3)
    mse = float(np.mean((decoded - image.astype(np.float64)) ** 2))
    nbytes = len(enc.payload()) + overhead_bytes(SECTION_BYTES, len(ts))
    return {"width": width, "parameters": sum(t.numel() for t in ts), "steps": step, "qat_from": qat_from,
            "bytes": nbytes, "bpp": round(nbytes * 8 / (h * w), 4), "psnr": round(10 * math.log10(255 ** 2 / mse), 3),
            "seconds": round(time.time() - t0, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", default="kodim01,kodim12,kodim23")
    ap.add_argument("--seconds", type=float, default=300)
    ap.add_argument("--rate", type=float, default=0.3)
    ap.add_argument("--l1", type=float, default=1e-5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=None, help="a fixed step count instead of --seconds")
    ap.add_argument("--unit-targets", action="store_true", help="fit colours in [0, 1] (an ablation)")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--out", default="bench/results/fourier-probe.jsonl")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    for path in kodak(args.data_dir, names=args.images.split(",")):
        image = np.asarray(Image.open(path).convert("RGB"))
        rec = {"image": path.stem, "rate": args.rate, "l1": args.l1, "budget_seconds": args.seconds,
               "steps_fixed": args.steps, "unit_targets": args.unit_targets,
               **probe(image, args.rate, args.seconds, args.l1, steps=args.steps, unit_targets=args.unit_targets),
               "command": "python " + " ".join(sys.argv),
               "machine": f"{platform.machine()}, {os.cpu_count()} cores, {args.threads} torch threads, "
                          f"torch {torch.__version__}", "date": datetime.date.today().isoformat()}
        with open(args.out, "a") as f:
            f.write(json.dumps(rec) + "\n")
        print(json.dumps(rec), flush=True)


if __name__ == "__main__":
    main()
