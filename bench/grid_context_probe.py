"""How much a coarser grid's latents would tell the entropy model of a finer one (issue 14).

Reads real grid streams (the latents the encoder chose), and fits, to those fixed integer
latents, the ARM's float model twice: on the causal neighbours alone (as the format codes them
today) and on the neighbours plus the co-located latent of the next coarser grid (what a
coarse-to-fine coding order would offer, as in Cool-chic 5's IFCE). Prints the estimated bits
per pixel of each. Fixed latents make this a lower bound of what joint training would gain.

  python bench/grid_context_probe.py STREAM.inr [...] [--steps 400] [--threads 2]
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


def contexts(grids: list[torch.Tensor], n: int, coarse: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(features, symbols): ``n`` causal neighbours per latent, plus, when ``coarse`` is 1, the
    co-located latent of the next coarser grid (0 for the coarsest)."""
    feats, syms = [], []
    for i, y in enumerate(grids):
        h, w = y.shape
        padded = F.pad(y[None, None], (3, 1, 3, 0))[0, 0]
        rows = [padded[3 + dy:3 + dy + h, 3 + dx:3 + dx + w] for dy, dx in NEIGHBOURS[:n]]
        if coarse:
            up = (grids[i + 1].repeat_interleave(2, 0).repeat_interleave(2, 1)[:h, :w] if i + 1 < len(grids)
                  else torch.zeros_like(y))
            rows.append(up)
        feats.append(torch.stack(rows).reshape(len(rows), -1))
        syms.append(y.reshape(-1))
    return torch.cat(feats, 1), torch.cat(syms)


def fit_bits(feats: torch.Tensor, syms: torch.Tensor, width: int, steps: int, seed: int = 0) -> float:
    """Bits of ``syms`` under an ARM (in -> width -> width -> 2) fitted to them by Adam."""
    gen = torch.Generator().manual_seed(seed)
    sizes = [(width, feats.shape[0]), (width, width), (2, width)]
    ws = [((torch.rand(s, generator=gen) * 2 - 1) / s[1] ** 0.5).requires_grad_() for s in sizes]
    bs = [torch.zeros(s[0], 1, requires_grad=True) for s in sizes]
    opt = torch.optim.Adam(ws + bs, lr=1e-2)

    def bits() -> torch.Tensor:
        a = feats
        for k, (w, b) in enumerate(zip(ws, bs)):
            a = w @ a + b
            if k < 2:
                a = torch.relu(a)
        return laplace_bits_sum(syms, a[0], a[1].clamp(LOG_SCALE_MIN, LOG_SCALE_MAX - 0.01))

    best = float("inf")
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
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"# command: python {' '.join(sys.argv)}\n# machine: {platform.machine()}, {os.cpu_count()} cores, "
          f"{args.threads} torch threads, torch {torch.__version__}\n# date: {datetime.date.today()}")
    gains = []
    for path in args.streams:
        opened, tensors = decode_parameters(Path(path).read_bytes())
        params = opened.params
        grids = [torch.from_numpy(t).float() for t in tensors[len(opened.stream.tensors):]]
        pixels = opened.stream.width * opened.stream.height
        n, width = params["context"], params["arm_width"]
        plain = fit_bits(*contexts(grids, n, 0), width, args.steps) / pixels
        if args.sizes:
            row = {"stream": Path(path).name, f"{n}x{width}": round(plain, 4)}
            for size in args.sizes.split(","):
                c, w = (int(v) for v in size.split("x"))
                row[size] = round(fit_bits(*contexts(grids, c, 0), w, args.steps) / pixels, 4)
            print(json.dumps(row), flush=True)
            continue
        withc = fit_bits(*contexts(grids, n, 1), width, args.steps) / pixels
        gains.append(1 - withc / plain)
        print(json.dumps({"stream": Path(path).name, "bpp_file": round(len(Path(path).read_bytes()) * 8 / pixels, 4),
                          "latent_bpp_spatial": round(plain, 4), "latent_bpp_with_coarse": round(withc, 4),
                          "saving": f"{100 * gains[-1]:.1f}%"}), flush=True)
    if gains:
        print(f"# mean saving of the latents' bits: {100 * sum(gains) / len(gains):.1f}% over {len(gains)} streams")


if __name__ == "__main__":
    main()
