"""The generic training loop: schedule, budgets, divergence guard, best snapshot over the whole run."""
from __future__ import annotations

import math

import numpy as np
import torch

from inrcodec import siren_fit, train
from inrcodec.methods import coin
from inrcodec.siren import SirenConfig


def _quadratic(perturb_at: int | None = None):
    """A one-parameter problem whose loss can be made to jump (a simulated collapse)."""
    module = torch.nn.Linear(1, 1, bias=False)
    torch.nn.init.constant_(module.weight, 3.0)
    opt = torch.optim.Adam(module.parameters(), lr=0.05)
    calls = [0]

    def loss_fn(progress: float) -> torch.Tensor:
        calls[0] += 1
        if calls[0] == perturb_at:
            with torch.no_grad():
                module.weight += 1000.0
        return (module.weight ** 2).sum()

    return module, opt, loss_fn


def test_lr_schedule_warms_up_then_decays_to_zero():
    assert train.lr_factor(0, 1000, 100) == 0.01
    assert train.lr_factor(99, 1000, 100) == 1.0
    assert train.lr_factor(100, 1000, 100) == 1.0
    assert math.isclose(train.lr_factor(1000, 1000, 100), 0.0, abs_tol=1e-12)
    # half the cosine: a phase that another continues ends at half the rate
    assert math.isclose(train.lr_factor(1000, 1000, 100, span=0.5), 0.5) and train.lr_factor(0, 10, 0, 0.5) == 1.0
    # a second phase starting where the first ended continues the same cosine to zero
    assert math.isclose(train.lr_factor(0, 10, 0, span=0.5, start=0.5), 0.5)
    assert math.isclose(train.lr_factor(10, 10, 0, span=0.5, start=0.5), 0.0, abs_tol=1e-12)


def test_guard_rolls_back_a_collapse():
    module, opt, loss_fn = _quadratic(perturb_at=400)
    res = train.run(module, opt, loss_fn, lambda: -float(module.weight.detach().abs()),
                    lambda: float(module.weight.detach()), train.LoopOptions(steps=1200, lr=0.05, warmup_steps=10))
    assert res.restarts >= 1
    assert abs(float(module.weight.detach())) < 1.0  # back in the good basin, not 1000 away


def test_best_snapshot_is_kept_from_early_in_the_run():
    module, opt, loss_fn = _quadratic()
    step = [0]

    def loss(progress: float) -> torch.Tensor:
        step[0] += 1
        return loss_fn(progress)

    # A score that peaks at 25% of the run and then falls, as a late collapse would.
    res = train.run(module, opt, loss, lambda: -abs(step[0] - 250), lambda: step[0],
                    train.LoopOptions(steps=1000, warmup_steps=10))
    assert res.best == res.best_step == 250
    assert res.final_score < res.best_score


def test_progress_has_no_total_until_the_budget_is_calibrated():
    module, opt, loss_fn = _quadratic()
    seen: list[train.Progress] = []
    train.run(module, opt, loss_fn, lambda: 0.0, lambda: None,
              train.LoopOptions(budget_seconds=1.0, on_progress=seen.append))
    assert seen and seen[0].total_steps is None and seen[0].eta is None
    assert seen[-1].total_steps is not None and seen[-1].step == seen[-1].total_steps


def test_two_phases_report_one_run():
    module, opt, loss_fn = _quadratic()
    seen: list[train.Progress] = []
    first = train.run(module, opt, loss_fn, lambda: 0.0, lambda: None,
                      train.LoopOptions(steps=30, on_progress=train.phase_progress(seen.append, steps_after=20)))
    train.run(module, opt, loss_fn, lambda: 0.0, lambda: None,
              train.LoopOptions(steps=20, on_progress=train.phase_progress(seen.append, first.steps, first.seconds)))
    steps = [p.step for p in seen]
    assert steps == sorted(steps) and steps[-1] == 50 and {p.total_steps for p in seen} == {50}
    assert all(p.eta is not None and p.eta >= 0 for p in seen)
    assert train.phase_progress(None) is None


def test_siren_fit_improves_and_is_reproducible(small_image):
    cfg = SirenConfig(3, 24)
    bits = coin.tensor_bits(cfg, 16)
    short = siren_fit.fit(small_image, cfg, bits, train.LoopOptions(steps=5), compile=False)
    longer = siren_fit.fit(small_image, cfg, bits, train.LoopOptions(steps=300), compile=False)
    again = siren_fit.fit(small_image, cfg, bits, train.LoopOptions(steps=300), compile=False)
    assert longer.best_score > short.best_score + 3 and longer.steps == 300
    for a, b in zip(longer.best, again.best):
        assert np.array_equal(a, b)


def test_time_budget_sets_a_step_count_and_time_limit_stops(small_image):
    res = siren_fit.fit(small_image, SirenConfig(2, 8), [16] * 6, train.LoopOptions(budget_seconds=2.0), compile=False)
    assert res.steps > 40
    res = siren_fit.fit(small_image, SirenConfig(2, 8), [16] * 6, train.LoopOptions(steps=10**7, time_limit=1.0),
                   compile=False)
    assert res.steps < 10**7


def test_a_run_below_the_floor_stops_at_half_way_as_stalled():
    module, opt, loss_fn = _quadratic()
    res = train.run(module, opt, loss_fn, lambda: 0.0, lambda: None,
                    train.LoopOptions(steps=1000, floor_score=1.0, floor_min_step=300))
    assert res.stalled and res.steps == 500
    res = train.run(module, opt, loss_fn, lambda: 2.0, lambda: None,
                    train.LoopOptions(steps=1000, floor_score=1.0, floor_min_step=300))
    assert not res.stalled and res.steps == 1000


def test_the_starting_point_can_be_scored():
    module, opt, loss_fn = _quadratic()
    calls = [0]

    def score() -> float:
        calls[0] += 1
        return 5.0 if calls[0] == 1 else 0.0  # the start is the best

    res = train.run(module, opt, loss_fn, score, lambda: calls[0],
                    train.LoopOptions(steps=100, score_at_start=True, warmup_steps=10))
    assert res.best_step == 0 and res.best == 1


def _rising(nan_at: int | None = None):
    """A loss that rises tenfold over the run by design (a penalty weight that a controller raises)."""
    module, opt, _ = _quadratic()
    calls = [0]

    def loss_fn(progress: float) -> torch.Tensor:
        calls[0] += 1
        loss = (module.weight ** 2 + 1.0).sum() * (1.0 + 9.0 * progress)
        return loss * float("nan") if calls[0] == nan_at else loss

    return module, opt, loss_fn


def test_a_loss_that_rises_by_design_is_not_rolled_back_without_guard_rise():
    score = lambda: 0.0  # noqa: E731
    module, opt, loss_fn = _rising()
    on = train.run(module, opt, loss_fn, score, lambda: None, train.LoopOptions(steps=1000, warmup_steps=10))
    assert on.restarts >= 1  # the default guard takes the rise for a collapse
    module, opt, loss_fn = _rising()
    off = train.run(module, opt, loss_fn, score, lambda: None,
                    train.LoopOptions(steps=1000, warmup_steps=10, guard_rise=False))
    assert off.restarts == 0 and abs(float(module.weight.detach())) < 0.1


def test_a_non_finite_loss_still_rolls_back_without_guard_rise():
    module, opt, loss_fn = _rising(nan_at=400)
    res = train.run(module, opt, loss_fn, lambda: 0.0, lambda: None,
                    train.LoopOptions(steps=1000, warmup_steps=10, guard_rise=False))
    assert res.restarts == 1 and math.isfinite(float(module.weight.detach()))
