"""The generic training loop every method's encoder uses (the decoder never imports this).

What it owns: the learning-rate schedule (warm-up, cosine decay to zero over the whole run,
or along part of the cosine for a run that another phase continues),
turning a wall-clock budget into a step count, the divergence guard, and keeping the best
snapshot by a score the method supplies (for codecs: PSNR of what the decoder will see).
What it does not know: the network, the data, the loss. A method passes a module, its
optimizer, a ``loss_fn(progress)`` returning a scalar tensor, ``score_fn()`` (higher is
better) and ``keep_fn()`` (what to keep of the best snapshot).

Never ship a collapse: snapshots are scored at fixed fractions of the run from 10% on, so the
best one predates any late collapse; the guard rolls back to a recent good state (and halves
the learning rate) when the smoothed loss stays 3 dB above its best; and a run that never rose
above a floor the method gives stops at half-way as stalled, for the method to retry.
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field
from typing import Callable, Generic, TypeVar

import torch

EFFORT_SECONDS: dict[str, float] = {"fast": 60.0, "normal": 300.0, "best": 1200.0}
EVAL_FRACTIONS = (0.1, 0.25, 0.5, 0.75, 0.9, 0.97, 1.0)  # at most 7 scored snapshots per run

T = TypeVar("T")


@dataclass
class Progress:
    """A progress report (every half second or so). ``total_steps`` and ``eta`` are None
    while a time budget is still being converted into a step count."""

    step: int
    total_steps: int | None
    loss_db: float  # -10 log10 of the smoothed loss: for MSE on [0, 1] data, a noisy PSNR estimate
    elapsed: float
    eta: float | None


def phase_progress(report: Callable[[Progress], None] | None, steps_before: int = 0, seconds_before: float = 0.0,
                   steps_after: int | None = 0, seconds_after: float | None = 0.0,
                   cost_after: float = 1.0) -> Callable[[Progress], None] | None:
    """The progress callback of one phase of a run of several, counting steps and seconds from
    the run's start: the total includes the ``steps_after`` of later phases (None: not known
    yet), the ETA their ``seconds_after`` (None: ``steps_after`` at this phase's step time
    times ``cost_after``). The defaults describe the last phase."""
    if report is None:
        return None

    def shifted(p: Progress) -> None:
        total = None if p.total_steps is None or steps_after is None else steps_before + p.total_steps + steps_after
        later = seconds_after
        if later is None and steps_after is not None and p.step:
            later = p.elapsed / p.step * cost_after * steps_after
        eta = None if p.eta is None or later is None else p.eta + later
        report(Progress(steps_before + p.step, total, p.loss_db, seconds_before + p.elapsed, eta))

    return shifted


@dataclass
class LoopOptions:
    """How long and how fast. ``steps`` fixes the run length; otherwise ``budget_seconds`` sets it."""

    steps: int | None = None
    budget_seconds: float = EFFORT_SECONDS["normal"]
    time_limit: float | None = None  # hard stop in seconds, whatever ``steps`` says
    lr: float = 1e-3
    warmup_steps: int = 100
    # The part of the cosine the run follows: 1 decays to zero; 0.5 ends at half the rate (a
    # float fit that quantization-aware training continues: +0.7 dB after QAT on kodim23 at
    # 1250 steps, README "QAT with Fourier features").
    cosine_span: float = 1.0
    cosine_start: float = 0.0  # where on the cosine the run starts (a phase that continues another)
    eval_fractions: tuple[float, ...] = EVAL_FRACTIONS
    # Stop early, as stalled, when the best score is still below this at half the run (and at
    # least ``floor_min_step`` steps): for codecs, a flat image's PSNR plus a margin.
    floor_score: float | None = None
    floor_min_step: int = 300
    score_at_start: bool = False  # also score the starting point (fine-tuning must not ship worse than it)
    # Roll back when the smoothed loss stays 3 dB above its best. Off for a loss whose weights move
    # during the run (the grid's lambda, raised by its rate controller: the rise looked like a
    # collapse, and four roll-backs at ever lower learning rates left kodim14/17 at -b 0.1 over the
    # budget); a non-finite loss rolls back either way.
    guard_rise: bool = True
    on_progress: Callable[[Progress], None] | None = field(default=None, repr=False)


@dataclass
class LoopResult(Generic[T]):
    """The best snapshot (what ``keep_fn`` returned) and how the run went."""

    best: T
    best_score: float
    steps: int
    seconds: float
    best_step: int
    restarts: int  # times the guard rolled back and halved the learning rate
    final_score: float  # score at the last step; far below ``best_score`` means a late collapse
    stalled: bool = False  # stopped at half the run, never above ``floor_score``


def lr_factor(step: int, total: int, warmup: int, span: float = 1.0, start: float = 0.0) -> float:
    """Linear warm-up over ``warmup`` steps, then cosine decay, to zero at ``total`` (or, with
    ``span`` < 1, along the part of the cosine from ``start`` to ``start + span`` only)."""
    if step < warmup:
        return (step + 1) / warmup
    frac = min(1.0, (step - warmup) / max(1, total - warmup))
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, start + frac * span)))


class _Guard:
    """Divergence guard: SIREN-like fits with Adam sometimes jump into a far worse basin.

    Every 50 steps: keep a state snapshot while the smoothed loss is within 1 dB of its best;
    when it stays 3 dB above its best for three checks (or is not finite), restore the snapshot
    and halve the learning rate (at most four times). Transient spikes pass. With ``rise`` off
    (a loss that may rise by design) only a non-finite loss rolls back, to the last finite check.
    """

    def __init__(self, module: torch.nn.Module, optimizer: torch.optim.Optimizer, rise: bool = True):
        self.module, self.optimizer, self.rise = module, optimizer, rise
        self.best, self.bad, self.restarts, self.lr_scale = float("inf"), 0, 0, 1.0
        self.snapshot: tuple[dict, dict] | None = None

    def check(self, running: float) -> bool:
        """Returns True when it rolled back (the caller resets its smoothed loss)."""
        finite = math.isfinite(running)
        if finite:
            self.best = min(self.best, running)
        collapsed = not finite or (self.rise and running > 2 * self.best)
        self.bad = self.bad + 1 if collapsed else 0
        if finite and (not self.rise or running <= 1.25 * self.best):
            self.snapshot = (copy.deepcopy(self.module.state_dict()), copy.deepcopy(self.optimizer.state_dict()))
        elif (self.bad >= 3 or not finite) and self.snapshot is not None and self.restarts < 4:
            self.module.load_state_dict(self.snapshot[0])
            self.optimizer.load_state_dict(self.snapshot[1])
            self.lr_scale *= 0.5
            self.restarts += 1
            self.bad = 0
            return True
        return False


def run(module: torch.nn.Module, optimizer: torch.optim.Optimizer, loss_fn: Callable[[float], torch.Tensor],
        score_fn: Callable[[], float], keep_fn: Callable[[], T], options: LoopOptions) -> LoopResult[T]:
    """Train ``module`` and return the best-scored snapshot. ``loss_fn`` gets the run's progress in [0, 1]."""
    t_start = time.perf_counter()
    base_lrs = [g["lr"] for g in optimizer.param_groups]
    guard = _Guard(module, optimizer, options.guard_rise)
    best_score, best_step, best = -math.inf, 0, keep_fn()
    last_score = -math.inf
    scored: set[int] = set()
    stalled = False

    def evaluate(step: int) -> None:
        nonlocal best_score, best_step, best, last_score
        scored.add(step)
        last_score = score_fn()
        if last_score > best_score:
            best_score, best_step, best = last_score, step, keep_fn()

    if options.score_at_start:
        evaluate(0)

    # A time budget becomes a step count: time steps 10..40 (after any compilation), then
    # re-estimate from the recent step rate until 75% of the run, in case the machine's load
    # changes; the schedule is frozen after that so the decay ends where the budget does.
    total = options.steps
    budgeted = total is None
    calib_start, calib_steps = 10, 30
    eval_at: set[int] = set()
    step, last_report, t_mark, step_mark = 0, 0.0, 0.0, 0
    running: float | None = None
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
            eval_at = set()
        horizon = total if total is not None else 10**9
        if not eval_at and total is not None:
            eval_at = {max(1, int(total * f)) for f in options.eval_fractions} | {total}
        if step >= horizon:
            break
        if options.time_limit is not None and time.perf_counter() - t_start > options.time_limit:
            break
        factor = guard.lr_scale * lr_factor(step, horizon, options.warmup_steps, options.cosine_span,
                                            options.cosine_start)
        for g, lr in zip(optimizer.param_groups, base_lrs):
            g["lr"] = lr * factor
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(step / horizon if total is not None else 0.0)
        loss.backward()
        optimizer.step()
        step += 1
        value = float(loss.detach())
        running = value if running is None or not math.isfinite(running) else 0.95 * running + 0.05 * value
        if step % 50 == 0 and guard.check(running):
            running = guard.best
        if step in eval_at and step not in scored:
            evaluate(step)
            if options.floor_score is not None and step >= max(options.floor_min_step, 0.5 * horizon) \
                    and best_score < options.floor_score:
                stalled = True
                break
        now = time.perf_counter() - t_start
        if options.on_progress is not None and (now - last_report > 0.5 or step in (1, horizon)):
            eta = now / step * (total - step) if total is not None and not (budgeted and step < calib_start + 30) \
                else None
            loss_db = -10 * math.log10(running) if running and running > 0 and math.isfinite(running) else 0.0
            options.on_progress(Progress(step, total if eta is not None else None, loss_db, now, eta))
            last_report = now
    if step not in scored:
        evaluate(step)
    for g, lr in zip(optimizer.param_groups, base_lrs):  # leave the optimizer as it came, for a next phase
        g["lr"] = lr
    return LoopResult(best, best_score, step, time.perf_counter() - t_start, best_step, guard.restarts, last_score,
                      stalled)
