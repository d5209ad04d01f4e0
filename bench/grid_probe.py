"""Issue 14 probe: how fast, and how good, is a Cool-chic-style latent-grid fit on this CPU?

A throwaway measurement before the method is designed, not the method: float model, estimated
rate (the Laplace model's -log2 P of the rounded latents; network weights not counted), no
bitstream. It answers two questions: the ms per full-image iteration of a small decoder on 2
cores, and the PSNR / estimated bpp reached after N iterations at a lambda.

  python bench/grid_probe.py IMG.png --iters 1000 --lam 0.002 [--width 16] [--context 8] [--crop 256]

Model: L one-channel grids at 1/1 .. 1/2^(L-1) (zero init), each upsampled bicubically to full
size and concatenated; synthesis 1x1 L->W ReLU -> W->3 then two 3x3 residual convs; an
autoregressive MLP over `context` causal neighbours (shifted slices, one matmul for every grid)
predicting a Laplace mean and log-scale; loss MSE + lambda * bpp with soft rounding plus
uniform noise (temperature annealed 0.3 -> 0.1), then the last 20% of iterations with hard
rounding (straight-through).
"""
from __future__ import annotations

import argparse
import json
import math
import time

import numpy as np
import torch
import torch.nn.functional as F

# causal neighbours (dy, dx) in priority order: left, up, up-left, up-right, 2-left, 2-up, ...
NEIGHBOURS = [(0, -1), (-1, 0), (-1, -1), (-1, 1), (0, -2), (-2, 0), (-2, -1), (-1, -2), (-2, 1), (-1, 2),
              (0, -3), (-3, 0)]


def soft_round(x: torch.Tensor, t: float) -> torch.Tensor:
    """Agustsson and Theis' soft rounding: tends to round(x) as t -> 0."""
    m = torch.floor(x) + 0.5
    return m + torch.tanh((x - m) / t) / (2 * math.tanh(1 / (2 * t)))


def contexts(y: torch.Tensor, n: int) -> torch.Tensor:
    """(H*W, n) causal neighbours of every latent of a (H, W) grid (zeros outside)."""
    h, w = y.shape
    p = 3
    padded = F.pad(y[None, None], (p, p, p, 0))[0, 0]  # no padding below: the context is causal
    cols = [padded[p + dy:p + dy + h, p + dx:p + dx + w] for dy, dx in NEIGHBOURS[:n]]
    return torch.stack(cols, dim=-1).reshape(h * w, n)


class Probe(torch.nn.Module):
    def __init__(self, h: int, w: int, levels: int = 7, width: int = 16, context: int = 8, arm_hidden: int = 16):
        super().__init__()
        self.h, self.w, self.context = h, w, context
        self.grids = torch.nn.ParameterList(
            [torch.nn.Parameter(torch.zeros(math.ceil(h / 2 ** i), math.ceil(w / 2 ** i))) for i in range(levels)])
        self.syn1 = torch.nn.Conv2d(levels, width, 1)
        self.syn2 = torch.nn.Conv2d(width, 3, 1)
        self.res1 = torch.nn.Conv2d(3, 3, 3, padding=1, padding_mode="replicate")
        self.res2 = torch.nn.Conv2d(3, 3, 3, padding=1, padding_mode="replicate")
        for conv in (self.res1, self.res2):
            torch.nn.init.zeros_(conv.weight)
            torch.nn.init.zeros_(conv.bias)
        self.arm = torch.nn.Sequential(torch.nn.Linear(context, arm_hidden), torch.nn.ReLU(),
                                       torch.nn.Linear(arm_hidden, arm_hidden), torch.nn.ReLU(),
                                       torch.nn.Linear(arm_hidden, 2))

    def quantized(self, mode: str, t: float) -> list[torch.Tensor]:
        out = []
        for g in self.grids:
            if mode == "noise":
                out.append(soft_round(soft_round(g, t) + torch.rand_like(g) - 0.5, t))
            else:  # hard rounding, straight-through gradient
                out.append(g + (torch.round(g) - g).detach())
        return out

    def forward(self, mode: str = "noise", t: float = 0.3) -> tuple[torch.Tensor, torch.Tensor]:
        ys = self.quantized(mode, t)
        feats = torch.cat([F.interpolate(y[None, None], size=(self.h, self.w), mode="bicubic", align_corners=False)
                           if y.shape != (self.h, self.w) else y[None, None] for y in ys], dim=1)
        x = self.syn2(torch.relu(self.syn1(feats)))
        x = x + self.res1(x)
        x = x + self.res2(torch.relu(x))
        ctx = torch.cat([contexts(y, self.context) for y in ys])
        sym = torch.cat([y.reshape(-1) for y in ys])
        out = self.arm(ctx)
        mu, scale = out[:, 0], torch.exp(torch.clamp(out[:, 1] - 2, -6, 6))
        lap = torch.distributions.Laplace(mu, scale)
        p = lap.cdf(sym + 0.5) - lap.cdf(sym - 0.5)
        bits = -torch.log2(p.clamp_min(2 ** -16)).sum()
        return x[0], bits


def main() -> None:
    from inrcodec.images import decode_image_bytes

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("image")
    ap.add_argument("--iters", type=int, default=1000)
    ap.add_argument("--lam", type=float, default=0.002)
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--context", type=int, default=8)
    ap.add_argument("--crop", type=int, default=0)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    img = decode_image_bytes(open(a.image, "rb").read(), a.image)
    if a.crop:
        img = img[:a.crop, :a.crop]
    target = torch.from_numpy(img.astype(np.float32) / 255).permute(2, 0, 1)
    h, w = target.shape[1:]
    model = Probe(h, w, width=a.width, context=a.context)
    opt = torch.optim.Adam([{"params": model.grids.parameters(), "lr": a.lr},
                            {"params": [p for n, p in model.named_parameters() if not n.startswith("grids")],
                             "lr": a.lr}])
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, a.iters, eta_min=a.lr * 1e-2)
    hard_from = int(0.8 * a.iters)
    t0 = time.time()
    best = (-1.0, 0.0, 0)
    for it in range(a.iters):
        frac = min(1.0, it / max(1, hard_from))
        mode = "noise" if it < hard_from else "hard"
        x, bits = model(mode, 0.3 - 0.2 * frac)
        loss = F.mse_loss(x, target) + a.lam * bits / (h * w)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p for n, p in model.named_parameters() if not n.startswith("grids")], 1.0)
        opt.step()
        sched.step()
        if (it + 1) % max(1, a.iters // 10) == 0 or it == a.iters - 1:
            with torch.no_grad():
                xh, bh = model("hard")
                psnr = -10 * math.log10(F.mse_loss((xh.clamp(0, 1) * 255).round() / 255, target).item())
                bpp = bh.item() / (h * w)
            best = max(best, (psnr - 0 * bpp, bpp, it + 1))
            print(json.dumps({"iter": it + 1, "psnr": round(psnr, 2), "bpp_latents": round(bpp, 4),
                              "ms_per_iter": round(1000 * (time.time() - t0) / (it + 1), 1)}), flush=True)
    print(json.dumps({"image": a.image, "size": [h, w], "iters": a.iters, "lam": a.lam, "width": a.width,
                      "context": a.context, "seconds": round(time.time() - t0, 1), "final_psnr": round(psnr, 2),
                      "final_bpp_latents": round(bpp, 4)}))


if __name__ == "__main__":
    main()
