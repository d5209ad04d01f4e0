"""Issue 14 probe: where a latent-grid training step spends its time on this CPU.

Times one forward+backward of `grid_probe.Probe` on a 768x512 image and of its parts (upsampling,
synthesis, the autoregressive entropy model with its rate), with alternatives for each.

  python bench/grid_speed.py [--threads 2]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from grid_probe import Probe, contexts  # noqa: E402

H, W = 512, 768


def ms(step, n: int = 5) -> float:
    """Mean wall milliseconds of ``step()`` after two warm-up calls."""
    step()
    step()
    t0 = time.time()
    for _ in range(n):
        step()
    return round((time.time() - t0) / n * 1000, 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    torch.set_num_threads(ap.parse_args().threads)
    torch.manual_seed(0)
    model = Probe(H, W)
    for g in model.grids:
        g.data.normal_(0, 2)
    ys = [g.detach().requires_grad_(True) for g in model.grids]

    def full():
        x, bits = model("noise", 0.3)
        (x.mean() + bits * 1e-6).backward()

    def upsample(mode):
        def step():
            feats = torch.cat([F.interpolate(y[None, None], size=(H, W), mode=mode, align_corners=False)
                               if y.shape != (H, W) else y[None, None] for y in ys], 1)
            feats.sum().backward()
        return step

    feats = torch.randn(1, 7, H, W, requires_grad=True)

    def synthesis():
        x = model.syn2(torch.relu(model.syn1(feats)))
        x = x + model.res1(x)
        (x + model.res2(torch.relu(x))).sum().backward()

    flat = torch.randn(H * W, 7, requires_grad=True)

    def pointwise_as_matmul():
        F.linear(torch.relu(F.linear(flat, model.syn1.weight[:, :, 0, 0], model.syn1.bias)),
                 model.syn2.weight[:, :, 0, 0], model.syn2.bias).sum().backward()

    def arm():
        ctx = torch.cat([contexts(y, model.context) for y in ys])
        sym = torch.cat([y.reshape(-1) for y in ys])
        out = model.arm(ctx)
        lap = torch.distributions.Laplace(out[:, 0], torch.exp(torch.clamp(out[:, 1] - 2, -6, 6)))
        (-torch.log2((lap.cdf(sym + 0.5) - lap.cdf(sym - 0.5)).clamp_min(2 ** -16)).sum()).backward()

    def context_gather():
        torch.cat([contexts(y, model.context) for y in ys]).sum().backward()

    rows = {"full step": ms(full), "upsampling, bicubic": ms(upsample("bicubic")),
            "upsampling, bilinear": ms(upsample("bilinear")), "synthesis (1x1 and 3x3 convs)": ms(synthesis),
            "its 1x1 layers as one matmul chain": ms(pointwise_as_matmul),
            "entropy model and rate (8 neighbours, 16, 16, 2)": ms(arm), "context gather alone": ms(context_gather)}
    for name, value in rows.items():
        print(f"{name}: {value} ms")


if __name__ == "__main__":
    main()
