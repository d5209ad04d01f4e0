"""Probe: would the latent-grid ARM code the same latents in fewer bits if it also saw the
coarser grids (Cool-chic 5.0's inter-feature context), not only causal neighbours in the grid?

Holds the latents of existing grid streams fixed and fits float ARMs to them offline, one per
context: ``spatial`` (the stream's causal neighbours, refitted here, the baseline), ``parent``
(plus the co-located latent of the next coarser grid), ``parent9`` (plus its 3x3 neighbourhood
there) and ``coarser`` (plus the co-located latent of every coarser grid, zeros where none).
Every ARM starts from the stream's own (``own``: its bits untrained, in float), the new inputs
with zero weights, and trains with Adam. Prints the bits per pixel of the latents under each,
per grid and in all. Not a bound either way: joint training could move the latents to suit the
richer model, and the probe's float Laplace is not the coder's table (about equal for all rows).

Usage: python bench/arm_context_probe.py STREAM... [--steps 400] [--lr 1e-3] [--threads 2]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from inrcodec.decoder import decode_parameters
from inrcodec.latents import LOG_SCALE_MAX, LOG_SCALE_MIN, NEIGHBOURS
from inrcodec.methods.grid import synthesis_shapes
from inrcodec.methods.grid_model import laplace_bits_sum

CONTEXTS = ("spatial", "parent", "parent9", "coarser")


def latents_of(data: bytes) -> tuple[list[np.ndarray], list[np.ndarray], int, int, int]:
    """The integer grids of a grid stream (finest first), its ARM's six tensors, height, width and
    the number of causal neighbours its ARM reads."""
    opened, tensors = decode_parameters(data)
    n = len(synthesis_shapes(opened.params, opened.stream.channels))
    return ([np.asarray(g) for g in tensors[n + 6:]], [np.asarray(t) for t in tensors[n:n + 6]],
            opened.stream.height, opened.stream.width, opened.params["context"])


def features(grids: list[torch.Tensor], kind: str, spatial: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(inputs, n) contexts and (n,) symbols of every latent of every grid, for ``kind``."""
    cols, syms = [], []
    levels = len(grids)
    for i, y in enumerate(grids):
        h, w = y.shape
        padded = F.pad(y[None, None], (3, 1, 3, 0))[0, 0]
        taps = [padded[3 + dy:3 + dy + h, 3 + dx:3 + dx + w] for dy, dx in NEIGHBOURS[:spatial]]
        if kind in ("parent", "parent9"):
            if i + 1 < levels:
                p = grids[i + 1]
                pp = F.pad(p[None, None], (1, 1, 1, 1))[0, 0]
                offsets = [(0, 0)] if kind == "parent" else [(a, b) for a in (-1, 0, 1) for b in (-1, 0, 1)]
                for dy, dx in offsets:
                    q = pp[1 + dy:1 + dy + p.shape[0], 1 + dx:1 + dx + p.shape[1]]
                    taps.append(q.repeat_interleave(2, 0).repeat_interleave(2, 1)[:h, :w])
            else:
                taps += [torch.zeros_like(y)] * (1 if kind == "parent" else 9)
        elif kind == "coarser":
            for j in range(1, levels):
                if i + j < levels:
                    f = 2 ** j
                    taps.append(grids[i + j].repeat_interleave(f, 0).repeat_interleave(f, 1)[:h, :w])
                else:
                    taps.append(torch.zeros_like(y))
        cols.append(torch.stack(taps).reshape(len(taps), -1))
        syms.append(y.reshape(-1))
    return torch.cat(cols, 1), torch.cat(syms)


def fit(ctx: torch.Tensor, sym: torch.Tensor, start: list[np.ndarray], steps: int, lr: float) -> torch.Tensor:
    """Bits of every symbol under a float ARM (inputs -> width -> width -> 2) fitted to them,
    starting from the stream's own ARM ``start`` (new inputs enter with zero weights)."""
    n_in = ctx.shape[0]
    ps = [torch.from_numpy(t.astype(np.float32)).clone() for t in start]
    extra = n_in - ps[0].shape[1]
    ps[0] = torch.cat([ps[0], torch.zeros(ps[0].shape[0], extra)], 1)
    ps = [p.requires_grad_() for p in ps]
    opt = torch.optim.Adam(ps, lr=lr)

    def bits(per: bool = False):
        w1, b1, w2, b2, w3, b3 = ps
        a = torch.relu(torch.addmm(b1[:, None], w1, ctx))
        a = torch.relu(torch.addmm(b2[:, None], w2, a))
        out = torch.addmm(b3[:, None], w3, a)
        mu, ls = out[0], out[1].clamp(LOG_SCALE_MIN, LOG_SCALE_MAX - 0.01)
        if per:
            from inrcodec.methods.grid_model import laplace_bits
            return laplace_bits(sym, mu, ls)
        return laplace_bits_sum(sym, mu, ls)

    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(1, steps))
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        loss = bits() / sym.numel()
        loss.backward()
        opt.step()
        sched.step()
    with torch.no_grad():
        return bits(per=True)


def own_bits(ctx: torch.Tensor, sym: torch.Tensor, start: list[np.ndarray]) -> torch.Tensor:
    """Bits of every symbol under the stream's own ARM (float, no training)."""
    return fit(ctx, sym, start, 0, 0.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("streams", nargs="+", type=Path)
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--contexts", default=",".join(CONTEXTS))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    for path in args.streams:
        grids_np, arm, h, w, spatial = latents_of(path.read_bytes())
        grids = [torch.from_numpy(g.astype(np.float32)) for g in grids_np]
        sizes = [g.numel() for g in grids]
        file_bpp = 8 * path.stat().st_size / (h * w)
        print(f"# {path} ({h}x{w}, file {file_bpp:.4f} bpp, grids {[tuple(g.shape) for g in grids]})", flush=True)
        base = None
        for kind in ["own"] + args.contexts.split(","):
            t0 = time.perf_counter()
            ctx, sym = features(grids, "spatial" if kind == "own" else kind, spatial)
            per = own_bits(ctx, sym, arm) if kind == "own" else fit(ctx, sym, arm, args.steps, args.lr)
            split = torch.split(per, sizes)
            total = float(per.sum()) / (h * w)
            base = total if base is None else base
            grids_bpp = " ".join(f"{float(s.sum()) / (h * w):.4f}" for s in split)
            print(f"{path.stem} {kind:8s} inputs={ctx.shape[0]:2d} latents {total:.4f} bpp "
                  f"({100 * (total / base - 1):+.1f}%) per grid {grids_bpp} ({time.perf_counter() - t0:.0f} s)",
                  flush=True)


if __name__ == "__main__":
    main()
