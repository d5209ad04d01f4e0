"""Metrics: PSNR, MS-SSIM, and BD-rate/BD-PSNR checked on exact cases and against `bjontegaard`."""
from __future__ import annotations

import numpy as np
import pytest

from inrcodec.metrics import bd_psnr, bd_rate, interpolate_psnr, ms_ssim, psnr

RATE = [0.1, 0.2, 0.4, 0.8, 1.6]
PSNR = [26.0, 28.5, 31.0, 33.8, 36.9]


def test_psnr():
    a = np.zeros((2, 2, 3), np.uint8)
    b = a.copy()
    b[0, 0, 0] = 255
    assert abs(psnr(a, b) - 10 * np.log10(12)) < 1e-9
    assert psnr(a, a) == float("inf")


def test_ms_ssim_of_identical_images_is_one(kodim23):
    crop = kodim23[:200, :200]
    assert ms_ssim(crop, crop) == pytest.approx(1.0)
    assert ms_ssim(crop[:50, :50], crop[:50, :50]) is None  # too small for 5 scales


def test_bd_rate_of_halved_rates_is_minus_50_percent():
    assert bd_rate(RATE, PSNR, [r / 2 for r in RATE], PSNR) == pytest.approx(-50.0)
    assert bd_rate(RATE, PSNR, RATE, PSNR) == pytest.approx(0.0, abs=1e-9)


def test_bd_psnr_of_shifted_curve_is_the_shift():
    assert bd_psnr(RATE, PSNR, RATE, [p + 1.0 for p in PSNR]) == pytest.approx(1.0)


def test_disjoint_or_short_curves_give_none():
    assert bd_rate(RATE, PSNR, [5, 6], [50, 51]) is None
    assert bd_psnr(RATE, PSNR, [0.3], [30]) is None


def test_agrees_with_the_bjontegaard_package():
    bd = pytest.importorskip("bjontegaard")
    test_r, test_d = [0.12, 0.25, 0.45, 0.9, 1.7], [26.5, 29.0, 31.2, 34.5, 37.0]
    ours = bd_rate(RATE, PSNR, test_r, test_d)
    theirs = bd.bd_rate(RATE, PSNR, test_r, test_d, method="pchip")
    assert ours == pytest.approx(theirs, abs=0.05)
    assert bd_psnr(RATE, PSNR, test_r, test_d) == pytest.approx(
        bd.bd_psnr(RATE, PSNR, test_r, test_d, method="pchip"), abs=0.01)


def test_interpolation_never_extrapolates():
    assert interpolate_psnr(RATE, PSNR, 0.4) == pytest.approx(31.0)
    assert interpolate_psnr(RATE, PSNR, 0.05) is None
