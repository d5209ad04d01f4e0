"""Fitting a SIREN to an image: pixel mini-batches, the L1 penalty, snapshot scoring, the fit.

Shared by the SIREN methods' encoders (COIN, QAT, MCNC); training code, so the decoder never
imports it. The network itself (and its Fourier inputs) is :mod:`inrcodec.siren`.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from .siren import SirenConfig

if TYPE_CHECKING:
    import torch


def fit(image: np.ndarray, config: SirenConfig, eval_bits: list[int], loop, seed: int = 0, device: str = "cpu",
        compile: bool | None = None, init: list[np.ndarray] | None = None, l1: float = 0.0):
    """Fit ``config`` to an (H, W, C) uint8 image with random pixel mini-batches and Adam
    (from SIREN's initialization, or from the float tensors ``init`` to continue a fit),
    minimizing MSE plus ``l1`` times the sum of absolute parameters.

    ``loop`` is a :class:`inrcodec.train.LoopOptions`. Snapshots are scored by the PSNR of the
    network quantized at ``eval_bits`` (what the decoder sees); returns the loop's result,
    whose ``best`` is the float32 tensors of the best snapshot.
    """
    import torch

    from . import train
    from .quantize import quantize
    from .siren import Siren

    dev = torch.device(device)
    gen = torch.Generator().manual_seed(seed)
    model = Siren(config, generator=gen).to(dev)
    if init is not None:
        model.load_tensors(init)
    evaluator = Siren(config).to(dev)
    batches = pixel_batches(image, dev, gen, config)
    if compile is None:  # compiling costs 5-30 s and pays back over long runs only
        compile = (loop.steps or 0) >= 3000 or (loop.steps is None and loop.budget_seconds >= 120)
    forward = torch.compile(model.body) if compile else model.body
    opt = torch.optim.Adam(model.parameters(), lr=loop.lr)

    def loss_fn(progress: float) -> torch.Tensor:
        coords, target = batches()
        loss = torch.mean((forward(coords) - target) ** 2)
        return loss + l1 * l1_norm(model.tensors()) if l1 else loss

    def score_fn() -> float:
        values = [quantize(t.detach().cpu().numpy(), b).dequantize() for t, b in zip(model.tensors(), eval_bits)]
        evaluator.load_tensors(values)
        return subgrid_psnr(evaluator, image)

    def keep_fn() -> list[np.ndarray]:
        return [t.detach().cpu().numpy().copy() for t in model.tensors()]

    return train.run(model, opt, loss_fn, score_fn, keep_fn, loop)


SCORE_PIXELS = 1 << 18


def cap_for_time(config: SirenConfig, seconds: float, min_steps: int, device: str = "cpu",
                 min_width: int = 1, batch: int = 16384) -> SirenConfig:
    """``config``, narrowed (not below ``min_width``) until ``seconds`` of training buy at least
    ``min_steps`` steps of ``batch`` pixels at the step time measured on this machine now."""
    import dataclasses

    for _ in range(4):
        per_step = step_seconds(config, device, batch)
        if seconds / per_step >= min_steps or config.width <= min_width:
            break
        # a step's time grows slower than the width squared (not all of it is matrix products):
        # the square root undershoots the needed narrowing a little, so aim a bit low
        shrink = math.sqrt(seconds / per_step / min_steps) * 0.97
        config = dataclasses.replace(config, width=max(min_width, min(config.width - 1, int(config.width * shrink))))
    return config


def step_seconds(config: SirenConfig, device: str = "cpu", batch: int = 16384, steps: int = 3) -> float:
    """Wall seconds of one training step (forward, backward, Adam) of ``config`` on a batch of
    ``batch`` random inputs, timed here and now (so on this machine, under its current load)."""
    import time

    import torch

    from .siren import Siren

    model = Siren(config, generator=torch.Generator().manual_seed(0)).to(device)
    inputs = torch.rand(batch, config.inputs, device=device)
    target = torch.rand(batch, config.out_channels, device=device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        torch.mean((model.body(inputs) - target) ** 2).backward()
        opt.step()

    step()  # allocations
    if device != "cpu":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    if device != "cpu":
        torch.cuda.synchronize()
    return (time.perf_counter() - t0) / steps


def l1_norm(tensors) -> "torch.Tensor":
    """Sum of absolute values over ``tensors`` (the penalty that makes weights cheaper to code)."""
    return sum(t.abs().sum() for t in tensors)


def pixel_batches(image: np.ndarray, device, generator, config: SirenConfig | None = None):
    """A function returning random mini-batches of (network inputs, colours in [0, 1]) of
    ``image``, 16384 pixels each (or all of a smaller image), drawn from ``generator``. The
    inputs are what ``Siren(config).body`` reads: the coordinates, or with Fourier features
    those too, precomputed for images of up to 4M pixels (at most 400 MB for 16 frequencies;
    beyond that computed per batch)."""
    import torch

    from .siren import coordinate_grid, fourier_inputs

    height, width, channels = image.shape
    coords = coordinate_grid(height, width).to(device)
    target = torch.from_numpy(image.reshape(-1, channels).astype(np.float32) / 255.0).to(device)
    n_pixels = coords.shape[0]
    batch = min(16384, n_pixels)
    freqs = config.frequencies if config is not None else 0

    def features(c: torch.Tensor) -> torch.Tensor:
        return fourier_inputs(c, freqs, config.freq_scale) if freqs else c

    table = features(coords) if freqs and n_pixels * config.inputs <= 100 << 20 else None

    def draw():
        idx = torch.randint(n_pixels, (batch,), generator=generator).to(device)
        return (table[idx] if table is not None else features(coords[idx])), target[idx]

    return draw


def subgrid_psnr(model, image: np.ndarray) -> float:
    """PSNR of a SIREN on at most ~256k pixels of ``image`` (a regular subgrid of larger images:
    every second row and column of a Kodak image), so scoring a snapshot costs little whatever
    the image size."""
    from .metrics import psnr
    from .siren import render

    height, width, _ = image.shape
    stride = max(1, math.ceil(math.sqrt(height * width / SCORE_PIXELS)))
    return psnr(render(model, height, width, stride=stride), image[::stride, ::stride])
