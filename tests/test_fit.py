"""The fitting loop: it learns, it is reproducible, and it keeps the best quantized snapshot."""
from __future__ import annotations

import numpy as np

from inrcodec.fit import FitOptions, fit
from inrcodec.siren import SirenConfig


def test_fitting_improves_and_is_reproducible(small_image):
    cfg = SirenConfig(3, 24)
    short = fit(small_image, cfg, FitOptions(steps=5, compile=False))
    longer = fit(small_image, cfg, FitOptions(steps=300, compile=False))
    again = fit(small_image, cfg, FitOptions(steps=300, compile=False))
    assert longer.psnr_quantized > short.psnr_quantized + 3
    assert longer.steps == 300
    for a, b in zip(longer.tensors, again.tensors):
        assert np.array_equal(a, b)


def test_time_budget_sets_a_step_count(small_image):
    res = fit(small_image, SirenConfig(2, 8), FitOptions(budget_seconds=2.0, compile=False))
    assert res.steps > 40 and res.seconds < 10


def test_time_limit_stops_early(small_image):
    res = fit(small_image, SirenConfig(2, 8), FitOptions(steps=10**7, time_limit=1.0, compile=False))
    assert res.steps < 10**7 and res.seconds < 5
