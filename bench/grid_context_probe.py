"""How much a coarser grid's latents would tell the entropy model of a finer one (issue 14).

Reads real grid streams (the latents the encoder chose), and fits, to those fixed integer
latents, the ARM's float model on the causal neighbours alone (as the format codes them today)
and on the neighbours plus what a coarse-to-fine coding order would offer, as in Cool-chic 5's
IFCE (``--contexts``): ``parent``, the co-located latent of the next coarser grid; ``parent9``,
its 3x3 neighbourhood there; ``coarser``, the co-located latent of every coarser grid. Prints
the estimated bits per pixel of each. ``--warm`` starts every fit from the stream's own ARM
(new inputs at zero weight) instead of a random one. Fixed latents make this a lower bound of
what joint training would gain.

  python bench/grid_context_probe.py STREAM.inr [...] [--steps 400] [--threads 2]
  python bench/grid_context_probe.py STREAM.inr [...] --warm --lr 3e-3 --contexts parent,parent9,coarser
  python bench/grid_context_probe.py STREAM.inr [...] --sizes 12x8,8x16,12x16

``--sizes CxW,...`` instead compares ARMs of other context sizes C (the first C of
``latents.NEIGHBOURS``) and hidden widths W against the stream's own, on the same latents.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

from inrcodec.decoder import decode_parameters
from inrcodec.latents import LOG_SCALE_MAX, LOG_SCALE_MIN, NEIGHBOURS
from inrcodec.methods.grid_model import laplace_bits_sum


def _up(g: torch.Tensor, factor: int, h: int, w: int) -> torch.Tensor:
    """``g`` repeated ``factor`` times along both axes, cropped to h x w (nearest upsampling)."""
    return g.repeat_interleave(factor, 0).repeat_interleave(factor, 1)[:h, :w]


def contexts(grids: list[torch.Tensor], n: int, coarse: str = "") -> tuple[torch.Tensor, torch.Tensor]:
    """(features, symbols): ``n`` causal neighbours per latent, plus the ``coarse`` context
    ("parent", "parent9" or "coarser", see the module's doc; zeros where a grid has none)."""
    feats, syms = [], []
    for i, y in enumerate(grids):
        h, w = y.shape
        padded = F.pad(y[None, None], (3, 1, 3, 0))[0, 0]
        rows = [padded[3 + dy:3 + dy + h, 3 + dx:3 + dx + w] for dy, dx in NEIGHBOURS[:n]]
        if coarse in ("parent", "parent9"):
            offsets = [(0, 0)] if coarse == "parent" else [(a, b) for a in (-1, 0, 1) for b in (-1, 0, 1)]
            p = F.pad(grids[i + 1][None, None], (1, 1, 1, 1))[0, 0] if i + 1 < len(grids) else None
            for dy, dx in offsets:
                rows.append(torch.zeros_like(y) if p is None else
                            _up(p[1 + dy:p.shape[0] - 1 + dy, 1 + dx:p.shape[1] - 1 + dx], 2, h, w))
        elif coarse == "coarser":
            rows += [_up(grids[i + j], 2 ** j, h, w) if i + j < len(grids) else torch.zeros_like(y)
                     for j in range(1, len(grids))]
        feats.append(torch.stack(rows).reshape(len(rows), -1))
        syms.append(y.reshape(-1))
    return torch.cat(feats, 1), torch.cat(syms)


def fit_bits(feats: torch.Tensor, syms: torch.Tensor, width: int, steps: int, seed: int = 0,
             start: list[torch.Tensor] | None = None, lr: float = 1e-2) -> float:
    """Bits of ``syms`` under an ARM (in -> width -> width -> 2) fitted to them by Adam, from a
    random start or from ``start`` (a stream's six ARM tensors; extra inputs at zero weight)."""
    gen = torch.Generator().manual_seed(seed)
    sizes = [(width, feats.shape[0]), (width, width), (2, width)]
    if start is None:
        ws = [((torch.rand(s, generator=gen) * 2 - 1) / s[1] ** 0.5).requires_grad_() for s in sizes]
        bs = [torch.zeros(s[0], 1, requires_grad=True) for s in sizes]
    else:
        first = F.pad(start[0].float(), (0, feats.shape[0] - start[0].shape[1]))
        ws = [w.float().clone().requires_grad_() for w in (first, start[2], start[4])]
        bs = [b.float().reshape(-1, 1).clone().requires_grad_() for b in (start[1], start[3], start[5])]
    opt = torch.optim.Adam(ws + bs, lr=lr)

    def bits() -> torch.Tensor:
        a = feats
        for k, (w, b) in enumerate(zip(ws, bs)):
            a = w @ a + b
            if k < 2:
                a = torch.relu(a)
        return laplace_bits_sum(syms, a[0], a[1].clamp(LOG_SCALE_MIN, LOG_SCALE_MAX - 0.01))

    best = float(bits().detach())
    for _ in range(steps):
        opt.zero_grad()
        loss = bits()
        loss.backward()
        opt.step()
        best = min(best, float(loss.detach()))
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("streams", nargs="+")
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--sizes", default="", help="compare ARM sizes CONTEXTxWIDTH,... instead of the coarse input")
    ap.add_argument("--contexts", default="parent", help="coarse contexts to compare: parent, parent9, coarser")
    ap.add_argument("--warm", action="store_true", help="start from the stream's own ARM, not a random one")
    ap.add_argument("--lr", type=float, default=1e-2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"# command: python {' '.join(sys.argv)}\n# machine: {platform.machine()}, {os.cpu_count()} cores, "
          f"{args.threads} torch threads, torch {torch.__version__}\n# date: {datetime.date.today()}")
    gains = []
    for path in args.streams:
        opened, tensors = decode_parameters(Path(path).read_bytes())
        params = opened.params
        n_net = len(opened.stream.tensors)
        grids = [torch.from_numpy(t).float() for t in tensors[n_net:]]
        start = [torch.from_numpy(t) for t in tensors[n_net - 6:n_net]] if args.warm else None
        pixels = opened.stream.width * opened.stream.height
        n, width = params["context"], params["arm_width"]
        spatial = contexts(grids, n)
        plain = fit_bits(*spatial, width, args.steps, start=start, lr=args.lr) / pixels
        if args.sizes:
            row = {"stream": Path(path).name, f"{n}x{width}": round(plain, 4)}
            for size in args.sizes.split(","):
                c, w = (int(v) for v in size.split("x"))
                row[size] = round(fit_bits(*contexts(grids, c), w, args.steps, lr=args.lr) / pixels, 4)
            print(json.dumps(row), flush=True)
            continue
        row = {"stream": Path(path).name, "bpp_file": round(len(Path(path).read_bytes()) * 8 / pixels, 4),
               "latent_bpp_spatial": round(plain, 4)}
        if args.warm:
            row["latent_bpp_own_arm"] = round(fit_bits(*spatial, width, 0, start=start) / pixels, 4)
        for kind in args.contexts.split(","):
            withc = fit_bits(*contexts(grids, n, kind), width, args.steps, start=start, lr=args.lr) / pixels
            gains.append(1 - withc / plain)
            row[f"latent_bpp_{kind}"] = round(withc, 4)
            row[f"saving_{kind}"] = f"{100 * gains[-1]:.1f}%"
        print(json.dumps(row), flush=True)
    if gains:
        print(f"# mean saving of the latents' bits: {100 * sum(gains) / len(gains):.1f}% over {len(gains)} fits")


if __name__ == "__main__":
    main()
