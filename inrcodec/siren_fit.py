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
        compile: bool | None = None, init: list[np.ndarray] | None = None, l1: float = 0.0,
        batch: int | None = None, bf16: bool = False):
    """Fit ``config`` to an (H, W, C) uint8 image with random mini-batches of ``batch`` pixels
    (default ``BATCH_PIXELS``) and Adam (from SIREN's initialization, or from the float tensors
    ``init`` to continue a fit), minimizing MSE plus ``l1`` times the sum of absolute parameters;
    with ``bf16`` the layers after the first multiply in bfloat16 (:func:`inrcodec.siren.linear`).

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
    padded = training_config(config)
    if padded != config:  # the same network, computed at a faster width
        start = pad_tensors([t.detach().cpu().numpy() for t in model.tensors()], padded)
        model = Siren(padded).to(dev)
        model.load_tensors(start)
    evaluator = Siren(config).to(dev)
    batches = pixel_batches(image, dev, gen, config, batch)

    def body(h: torch.Tensor) -> torch.Tensor:
        return model.body(h, bf16)

    forward = torch.compile(body) if worth_compiling(loop, compile) else body
    opt = torch.optim.Adam(model.parameters(), lr=loop.lr)

    def loss_fn(progress: float) -> torch.Tensor:
        coords, target = batches()
        loss = torch.mean((forward(coords) - target) ** 2)
        return loss + l1 * l1_norm(model.tensors()) if l1 else loss

    def values() -> list[np.ndarray]:
        return trim_tensors([t.detach().cpu().numpy() for t in model.tensors()], config)

    def score_fn() -> float:
        evaluator.load_tensors([quantize(v, b).dequantize() for v, b in zip(values(), eval_bits)])
        return subgrid_psnr(evaluator, image)

    def keep_fn() -> list[np.ndarray]:
        return [v.copy() for v in values()]

    return train.run(model, opt, loss_fn, score_fn, keep_fn, loop)


SCORE_PIXELS = 1 << 18
BATCH_PIXELS = 16384  # pixels per training step (a step's time is about proportional to it)
PAD_MULTIPLE = 16  # hidden widths train rounded up to this when it adds at most 1/16 of the units


def training_config(config: SirenConfig) -> SirenConfig:
    """The SIREN that trains for ``config``: the same, or with its width rounded up to a multiple
    of PAD_MULTIPLE when that adds at most width / 16 units. The extra units start at zero in
    every weight and bias, and stay there: a unit with no input weights outputs sin(0) = 0, so
    neither its incoming nor its outgoing weights receive a gradient (Adam and the L1 penalty move
    nothing that has no gradient and is zero), and :func:`trim_tensors` gives back ``config``'s
    network. Why: odd widths hit slow matrix kernels; a 4x63+f16 step took 46 ms, 4x64+f16 26 ms
    on this 2-core machine (one thread, compiled; bench/results/step-time-2026-12-03.log)."""
    import dataclasses

    up = -(-config.width // PAD_MULTIPLE) * PAD_MULTIPLE
    return dataclasses.replace(config, width=up) if 0 < up - config.width <= config.width / 16 else config


def pad_tensors(tensors: list[np.ndarray], padded: SirenConfig) -> list[np.ndarray]:
    """``tensors`` (bitstream order) zero-padded to ``padded``'s shapes (weights in the top left)."""
    out = []
    for t, shape in zip(tensors, padded.tensor_shapes(), strict=True):
        z = np.zeros(shape, dtype=np.float32)
        z[tuple(slice(0, n) for n in t.shape)] = t
        out.append(z)
    return out


def trim_tensors(tensors: list, config: SirenConfig) -> list:
    """The top-left ``config``-shaped part of each of (possibly padded) ``tensors``."""
    return [t[tuple(slice(0, n) for n in shape)] for t, shape in zip(tensors, config.tensor_shapes(), strict=True)]


def native_bf16(device: str = "cpu") -> bool:
    """Whether ``device`` multiplies bfloat16 natively (AMX or AVX512-BF16 CPUs, GPUs that support
    it), where :func:`inrcodec.siren.linear`'s mixed precision trains faster; elsewhere bfloat16
    products are emulated and slower, so training stays float32."""
    import torch

    if torch.device(device).type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    checks = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")  # private: absent means unknown
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


def worth_compiling(loop, compile: bool | None = None) -> bool:
    """``compile`` if given, else whether ``loop`` is long enough for torch.compile to pay back:
    compiling costs 5-30 s; a 4x63+f16 step on 16,384 pixels on one thread took 41-46 ms
    compiled against 57-70 eager (float) and 41 against 74 (straight-through QAT)
    (bench/results/step-time-2026-12-03.log)."""
    if compile is not None:
        return compile
    return (loop.steps or 0) >= 3000 or (loop.steps is None and loop.budget_seconds >= 120)


def cap_for_time(config: SirenConfig, seconds: float, min_steps: int, device: str = "cpu",
                 min_width: int = 1, batch: int | None = None) -> SirenConfig:
    """``config``, narrowed (not below ``min_width``) until ``seconds`` of training buy at least
    ``min_steps`` steps of ``batch`` pixels at the step time measured on this machine now."""
    import dataclasses

    batch = batch or BATCH_PIXELS
    for _ in range(4):
        per_step = step_seconds(config, device, batch)
        if seconds / per_step >= min_steps or config.width <= min_width:
            break
        # a step's time grows slower than the width squared (not all of it is matrix products):
        # the square root undershoots the needed narrowing a little, so aim a bit low
        shrink = math.sqrt(seconds / per_step / min_steps) * 0.97
        config = dataclasses.replace(config, width=max(min_width, min(config.width - 1, int(config.width * shrink))))
    return config


def step_seconds(config: SirenConfig, device: str = "cpu", batch: int | None = None, steps: int = 3) -> float:
    """Wall seconds of one training step (forward, backward, Adam) of ``config`` on a batch of
    ``batch`` random inputs, timed here and now (so on this machine, under its current load)."""
    import time

    import torch

    from .siren import Siren

    batch = batch or BATCH_PIXELS
    config = training_config(config)
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


def pixel_batches(image: np.ndarray, device, generator, config: SirenConfig | None = None,
                  batch: int | None = None):
    """A function returning random mini-batches of (network inputs, colours in [0, 1]) of
    ``image``, ``batch`` pixels each (default BATCH_PIXELS; all of a smaller image), drawn from
    ``generator``. The inputs are what ``Siren(config).body`` reads: the coordinates, or with
    Fourier features those too, precomputed for images of up to 4M pixels (at most 400 MB for 16
    frequencies; beyond that computed per batch)."""
    import torch

    from .siren import coordinate_grid, fourier_inputs

    height, width, channels = image.shape
    coords = coordinate_grid(height, width).to(device)
    target = torch.from_numpy(image.reshape(-1, channels).astype(np.float32) / 255.0).to(device)
    n_pixels = coords.shape[0]
    batch = min(batch or BATCH_PIXELS, n_pixels)
    freqs = config.frequencies if config is not None else 0

    def features(c: torch.Tensor) -> torch.Tensor:
        return fourier_inputs(c, freqs, config.freq_scale) if freqs else c

    table = features(coords) if freqs and n_pixels * config.inputs <= 100 << 20 else None

    def draw():
        idx = torch.randint(n_pixels, (batch,), generator=generator).to(device)
        # index_select: 0.3 ms for 16,384 rows of 66 features, where table[idx] took 4 ms
        return (torch.index_select(table, 0, idx) if table is not None else features(coords[idx])), target[idx]

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
