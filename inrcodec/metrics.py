"""Metrics: PSNR and MS-SSIM of 8-bit images, and Bjontegaard deltas between RD curves."""
from __future__ import annotations

import math

import numpy as np


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB between two uint8 images over all channels (peak 255); inf when identical."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * math.log10(255.0**2 / mse)


def ms_ssim(a: np.ndarray, b: np.ndarray) -> float | None:
    """RGB MS-SSIM (pytorch-msssim, as CompressAI); None if unavailable or the image is too small."""
    try:
        import torch
        from pytorch_msssim import ms_ssim as _ms_ssim
    except ImportError:
        return None
    if min(a.shape[0], a.shape[1]) <= 160:  # 5 scales of an 11-tap window need more than 160 pixels
        return None
    ta = torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)))[None].double()
    tb = torch.from_numpy(np.ascontiguousarray(b.transpose(2, 0, 1)))[None].double()
    return float(_ms_ssim(ta, tb, data_range=255.0))


def _curve(rate: list[float], dist: list[float]) -> tuple[np.ndarray, np.ndarray]:
    pts = sorted({(float(r), float(d)) for r, d in zip(rate, dist) if r > 0 and math.isfinite(d)})
    r = np.log10(np.array([p[0] for p in pts]))
    d = np.array([p[1] for p in pts])
    return r, d


def _integral_mean(x: np.ndarray, y: np.ndarray, lo: float, hi: float) -> float:
    from scipy.interpolate import PchipInterpolator

    order = np.argsort(x)
    x, y = x[order], y[order]
    keep = np.concatenate([[True], np.diff(x) > 0])  # PCHIP needs strictly increasing x
    f = PchipInterpolator(x[keep], y[keep])
    return float(f.integrate(lo, hi) / (hi - lo))


def _pair(rate_ref, psnr_ref, rate_test, psnr_test):
    """Both curves in (log10 rate, PSNR), or None when either has fewer than 2 points."""
    r1, d1 = _curve(rate_ref, psnr_ref)
    r2, d2 = _curve(rate_test, psnr_test)
    return None if len(r1) < 2 or len(r2) < 2 else (r1, d1, r2, d2)


def bd_rate(rate_ref: list[float], psnr_ref: list[float], rate_test: list[float],
            psnr_test: list[float]) -> float | None:
    """Bjontegaard delta rate (%) of test against reference, piecewise cubic (PCHIP) version.

    Negative means the test curve needs fewer bits for the same PSNR. None when the curves have
    fewer than 2 points or do not overlap in PSNR.
    """
    pair = _pair(rate_ref, psnr_ref, rate_test, psnr_test)
    if pair is None:
        return None
    r1, d1, r2, d2 = pair
    lo, hi = max(d1.min(), d2.min()), min(d1.max(), d2.max())
    if hi <= lo:
        return None
    diff = _integral_mean(d2, r2, lo, hi) - _integral_mean(d1, r1, lo, hi)
    return (10.0**diff - 1.0) * 100.0


def bd_psnr(rate_ref: list[float], psnr_ref: list[float], rate_test: list[float],
            psnr_test: list[float]) -> float | None:
    """Bjontegaard delta PSNR (dB) of test against reference over their common log-rate range."""
    pair = _pair(rate_ref, psnr_ref, rate_test, psnr_test)
    if pair is None:
        return None
    r1, d1, r2, d2 = pair
    lo, hi = max(r1.min(), r2.min()), min(r1.max(), r2.max())
    if hi <= lo:
        return None
    return _integral_mean(r2, d2, lo, hi) - _integral_mean(r1, d1, lo, hi)


def interpolate_psnr(rate: list[float], dist: list[float], at: float) -> float | None:
    """PSNR of a curve at a rate, linear in log-rate between the two nearest points (no extrapolation)."""
    r, d = _curve(rate, dist)
    x = math.log10(at)
    if len(r) == 0 or x < r.min() - 1e-12 or x > r.max() + 1e-12:
        return None
    return float(np.interp(x, r, d))
