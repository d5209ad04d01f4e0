"""Where a training step of the latent-grid method spends its time on this CPU (issue 14).

Times one forward+backward (and the Adam step) of `inrcodec.methods.grid_model.GridModel` on an
image of the given size, and of its parts: latent relaxation, upsampling + synthesis, the ARM
with its rate. Options are the method's (JSON), e.g. '{"upsampling": 1}'; of the schedule's,
``rate_rows`` (the rate from a sample of the largest grid's rows) applies to the step and the ARM
rows since 2026-12-07 (earlier logs timed the whole rate whatever their options said).

  python bench/grid_speed.py [--threads 2] [--size 512x768] [--options '{}'] [--compile]

``--compile`` adds the ARM + rate under ``torch.compile`` and its compile time (the method does
not compile: the whole step does not compile yet, see bench/results/grid-speed-2026-12-04.log).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time

import torch

from inrcodec.methods.grid import synthesis_layers, synthesize
from inrcodec.methods.grid_encode import DEFAULTS, SCHEDULE
from inrcodec.methods.grid_model import GridModel, laplace_bits, laplace_bits_sum, mse, replicate_pad1, upsample_fast


def ms(step, n: int = 5) -> float:
    """Mean wall milliseconds of ``step()`` after two warm-up calls."""
    step()
    step()
    t0 = time.perf_counter()
    for _ in range(n):
        step()
    return round((time.perf_counter() - t0) / n * 1000, 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--size", default="512x768", help="HxW")
    ap.add_argument("--options", default="{}")
    ap.add_argument("--compile", action="store_true", help="also time the ARM + rate under torch.compile")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    h, w = (int(v) for v in a.size.split("x"))
    options = json.loads(a.options)
    params = {**DEFAULTS, **{k: v for k, v in options.items() if k in DEFAULTS}}
    # the schedule's rate sampling, as the encoder trains (rows 1: the whole rate)
    rate_rows = options.get("rate_rows", 1.0)
    model = GridModel(params, h, w, 3, 0, "cpu", SCHEDULE["arm_init"])
    with torch.no_grad():
        for g in model.grids:
            g.normal_(0, 2)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    target = torch.rand(3, h, w)

    def full(mode: str):
        def step():
            x, bits = model(mode, 0.2, rate_rows=rate_rows)
            loss = mse(x, target) + 1e-3 * bits / (h * w)  # as the encoder's loss
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        return step

    def relax():
        sum(y.sum() for y in model.quantized("noise", 0.2)).backward()

    ys = [y.detach().requires_grad_(True) for y in model.quantized("hard", 0.2)]

    def synthesis():  # the decoder's path (F.interpolate)
        synthesize(ys, list(model.syn), params, h, w).sum().backward()

    def synthesis_training():  # the encoder's (separable gathers)
        synthesis_layers(upsample_fast(ys, params, h, w), list(model.syn), params, h, w, replicate_pad1).sum().backward()

    def rate():
        model.rate(ys, rate_rows).backward()

    n = sum(y.numel() for y in ys)  # the Laplace part of the rate alone, autograd's backward against ours
    gen = torch.Generator().manual_seed(0)
    lap = [(torch.randn(n, generator=gen) * s).requires_grad_() for s in (3.0, 1.0)]
    lap.append((torch.rand(n, generator=gen) * 4 - 3).requires_grad_())

    def laplace_autograd():
        laplace_bits(*lap).sum().backward()

    def laplace_fused():
        laplace_bits_sum(*lap).backward()

    rows = {"step, noise phase": ms(full("noise")), "step, hard phase": ms(full("hard")),
            "latent relaxation (soft round + noise)": ms(relax),
            "upsampling + synthesis (decoder's upsampling)": ms(synthesis),
            "upsampling + synthesis (encoder's upsampling)": ms(synthesis_training), "ARM + rate": ms(rate),
            "Laplace bits, autograd backward": ms(laplace_autograd, 40),
            "Laplace bits, hand-written backward": ms(laplace_fused, 40)}
    if a.compile:
        compiled = torch.compile(model.rate)
        t0 = time.perf_counter()
        compiled(ys).backward()
        rows["ARM + rate, torch.compile: compile seconds"] = round(time.perf_counter() - t0, 1)
        rows["ARM + rate, torch.compile"] = ms(lambda: compiled(ys).backward())
    print(json.dumps({"size": a.size, "options": params | {"rate_rows": rate_rows}, "threads": a.threads, "ms": rows,
                      "machine": f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}"}))


if __name__ == "__main__":
    main()
