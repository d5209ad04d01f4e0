"""The fitting loop: overfit a SIREN to one image (encoder only; the decoder never imports this).

Random pixel mini-batches, Adam with a short warm-up and a cosine decay to zero over the
whole run, and snapshots scored on the *quantized* model so that what is written is the best
network after quantization, not the best float one. A wall-clock budget is turned into a
step count after a short timing calibration, so the learning-rate schedule always spans the
whole run; the step count is reported, and ``steps=`` reproduces a run exactly.
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from .metrics import psnr
from .quantize import quantize
from .siren import Siren, SirenConfig, coordinate_grid, render

EFFORT_SECONDS: dict[str, float] = {"fast": 60.0, "normal": 300.0, "best": 1200.0}


@dataclass
class FitProgress:
    """A progress report (every half second or so)."""

    step: int
    total_steps: int
    psnr: float  # of the current mini-batch, float weights: a noisy running estimate
    elapsed: float
    eta: float


@dataclass
class FitOptions:
    """How to fit. ``steps`` fixes the run length; otherwise ``budget_seconds`` sets it."""

    steps: int | None = None
    budget_seconds: float = EFFORT_SECONDS["normal"]
    time_limit: float | None = None  # hard stop in seconds, whatever ``steps`` says
    batch_pixels: int = 16384
    lr: float = 1e-3  # 2e-3 collapsed kodim02 to 20.6 dB at 3000 steps; 1e-3 reached 29.3 (README)
    warmup_steps: int = 100
    eval_bits: int | list[int] = 16  # bit depth the snapshots are scored at (one, or one per tensor)
    seed: int = 0
    device: str = "cpu"
    compile: bool | None = None  # None: compile when the run is long enough to repay it
    on_progress: Callable[[FitProgress], None] | None = field(default=None, repr=False)


@dataclass
class FitResult:
    """The best snapshot's float32 tensors (network order) and how the run went."""

    tensors: list[np.ndarray]
    psnr_quantized: float  # PSNR of the snapshot after quantization at ``eval_bits``
    steps: int
    seconds: float
    best_step: int
    restarts: int = 0  # times the divergence guard rolled back and halved the learning rate


def quantized_copy(tensors: list[torch.Tensor], bits: int | list[int]) -> list[np.ndarray]:
    """What the decoder will see: every tensor quantized to its ``bits`` and back."""
    per_tensor = [bits] * len(tensors) if isinstance(bits, int) else bits
    return [quantize(t.detach().cpu().numpy(), b).dequantize() for t, b in zip(tensors, per_tensor, strict=True)]


def _lr_factor(step: int, total: int, warmup: int) -> float:
    if step < warmup:
        return (step + 1) / warmup
    frac = min(1.0, (step - warmup) / max(1, total - warmup))
    return 0.5 * (1.0 + math.cos(math.pi * frac))


def fit(image: np.ndarray, config: SirenConfig, options: FitOptions = FitOptions()) -> FitResult:
    """Fit ``config`` to an (H, W, C) uint8 image; returns the best quantized-scored snapshot."""
    t_start = time.perf_counter()
    device = torch.device(options.device)
    height, width, channels = image.shape
    gen = torch.Generator().manual_seed(options.seed)
    model = Siren(config, generator=gen).to(device)
    evaluator = Siren(config).to(device)
    coords = coordinate_grid(height, width).to(device)
    target = torch.from_numpy(image.reshape(-1, channels).astype(np.float32) / 255.0).to(device)
    n_pixels = coords.shape[0]
    batch = min(options.batch_pixels, n_pixels)

    total = options.steps
    use_compile = options.compile
    if use_compile is None:
        use_compile = (total or 0) >= 3000 or (total is None and options.budget_seconds >= 120)
    forward = torch.compile(model) if use_compile else model
    opt = torch.optim.Adam(model.parameters(), lr=options.lr)

    best: tuple[float, int, list[np.ndarray]] = (-1.0, 0, [t.detach().cpu().numpy().copy() for t in model.tensors()])

    evaluated: set[int] = set()

    def evaluate(step: int) -> None:
        nonlocal best
        evaluated.add(step)
        values = quantized_copy(model.tensors(), options.eval_bits)
        evaluator.load_tensors(values)
        score = psnr(render(evaluator, height, width), image)
        if score > best[0]:
            best = (score, step, [t.detach().cpu().numpy().copy() for t in model.tensors()])

    # A time budget becomes a step count: time steps 10..40 (after compilation), then
    # re-estimate from the recent step rate until 75% of the run, in case the machine's load
    # changes; the schedule is frozen after that so the decay ends where the budget does.
    budgeted = total is None
    calib_start, calib_steps = 10, 30
    eval_at: set[int] = set()
    step, last_report, t_mark, step_mark = 0, 0.0, 0.0, 0
    running, best_running, lr_scale, restarts, bad_checks = None, float("inf"), 1.0, 0, 0
    snapshot: tuple[dict, dict] | None = None
    while True:
        if budgeted and step == calib_start:
            t_mark, step_mark = time.perf_counter(), step
        if budgeted and step > calib_start and step - step_mark >= max(calib_steps, (total or 0) // 20) \
                and (total is None or step < 0.75 * total):
            now_t = time.perf_counter()
            per_step = (now_t - t_mark) / (step - step_mark)
            remaining = options.budget_seconds * 0.97 - (now_t - t_start)
            total = max(step + 1, step + int(remaining / per_step))
            t_mark, step_mark = now_t, step
            eval_at = set()  # recomputed below for the new step count
        horizon = total if total is not None else 10**9
        if not eval_at and total is not None:
            eval_at = {max(1, int(total * f)) for f in (0.5, 0.75, 0.9, 0.97)} | {total}
        if step >= horizon:
            break
        if options.time_limit is not None and time.perf_counter() - t_start > options.time_limit:
            break
        for g in opt.param_groups:
            g["lr"] = lr_scale * options.lr * _lr_factor(step, horizon, options.warmup_steps)
        idx = torch.randint(n_pixels, (batch,), generator=gen).to(device)
        opt.zero_grad(set_to_none=True)
        loss = torch.mean((forward(coords[idx]) - target[idx]) ** 2)
        loss.backward()
        opt.step()
        step += 1
        value = float(loss.detach())
        running = value if running is None else 0.95 * running + 0.05 * value
        if step % 50 == 0:
            # Divergence guard: SIREN with Adam sometimes collapses into a far worse basin.
            # Keep a snapshot while the loss is near its best; when the smoothed loss stays
            # 3 dB above its best for three checks in a row (or is NaN), go back to it and
            # halve the learning rate. Transient spikes (tiny images, full-batch Adam) pass.
            best_running = min(best_running, running)
            collapsed = running > 2 * best_running or not math.isfinite(running)
            bad_checks = bad_checks + 1 if collapsed else 0
            if running <= 1.25 * best_running:
                snapshot = (copy.deepcopy(model.state_dict()), copy.deepcopy(opt.state_dict()))
            elif (bad_checks >= 3 or not math.isfinite(running)) and snapshot is not None and restarts < 4:
                model.load_state_dict(snapshot[0])
                opt.load_state_dict(snapshot[1])
                lr_scale *= 0.5
                restarts += 1
                running, bad_checks = best_running, 0
        if step in eval_at:
            evaluate(step)
        now = time.perf_counter() - t_start
        if options.on_progress is not None and (now - last_report > 0.5 or step == horizon):
            est = total if total is not None else step + 1
            eta = now / step * (est - step) if step else 0.0
            options.on_progress(FitProgress(step, est, -10 * math.log10(max(running, 1e-12)), now, eta))
            last_report = now
    if step not in evaluated:
        evaluate(step)
    return FitResult(best[2], best[0], step, time.perf_counter() - t_start, best[1], restarts)
