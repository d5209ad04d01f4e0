"""The encoder: image -> stream through the chosen method (the public ``encode``).

Generic checks (options, image size) and the measurement of the result (bpp of the whole
file, PSNR of the decoded stream) live here; fitting and rate control live in the method.
"""
from __future__ import annotations

import dataclasses
import math
import time

import numpy as np

from . import methods
from .bitstream import DecodeLimits
from .decoder import decode
from .errors import DataError, OptionError
from .methods import EncodeOptions, EncodeResult
from .metrics import psnr
from .train import EFFORT_SECONDS

MAX_BPP = 64.0  # 8-bit RGB is 24 bits per pixel raw: a larger budget means a typo


def check_options(options: EncodeOptions) -> None:
    """Raise OptionError for options no image can satisfy (checked before reading any input)."""
    if options.method != methods.AUTO and options.method not in methods.available():
        have = ", ".join([methods.AUTO, *methods.available()])
        raise OptionError(f"method {options.method!r} is not available (have: {have})")
    if options.effort not in EFFORT_SECONDS:
        raise OptionError(f"unknown effort {options.effort!r} (have: {', '.join(EFFORT_SECONDS)})")
    if options.bpp is not None and not (math.isfinite(options.bpp) and 0 < options.bpp <= MAX_BPP):
        raise OptionError(f"the bpp budget must be a number in (0, {MAX_BPP:g}], got {options.bpp}")
    if options.steps is not None and options.steps < 1:
        raise OptionError(f"steps must be at least 1, got {options.steps}")
    if options.time_limit is not None and not (math.isfinite(options.time_limit) and options.time_limit > 0):
        raise OptionError(f"the time limit must be a positive number of seconds, got {options.time_limit}")
    if not 1 <= options.max_pixels <= DecodeLimits().max_pixels:
        raise OptionError(f"the encoder's pixel limit must be in 1..{DecodeLimits().max_pixels} (what the "
                          f"default decoder accepts), got {options.max_pixels}")
    if not 0 <= options.seed < 1 << 32:
        raise OptionError(f"the seed must be in 0..2^32-1, got {options.seed}")
    if options.method == methods.AUTO:
        if options.method_options.keys() - {"lam"}:
            raise OptionError(f"option {', '.join(sorted(options.method_options))} belongs to a named method: give "
                              f"--method (coin, qat, mcnc or grid)")
        methods.get("grid").check_options(options)
    else:
        methods.get(options.method).check_options(options)


def check_image(image: np.ndarray, options: EncodeOptions) -> None:
    """Raise DataError for images this encoder will not take (size limits)."""
    height, width, channels = image.shape
    if channels not in (1, 3):
        raise DataError(f"images must have 1 or 3 channels, got {channels}")
    if height > 65536 or width > 65536:
        raise DataError(f"images up to 65536 pixels a side are supported, got {width}x{height}")
    if height * width > options.max_pixels:
        raise DataError(f"a {width}x{height} image exceeds the encoder's limit of {options.max_pixels} pixels "
                        "(raise it with --max-pixels)")


def encode(image: np.ndarray, options: EncodeOptions = None) -> EncodeResult:  # type: ignore[assignment]
    """Fit and code an (H, W, C) uint8 image with ``options.method`` (``auto``: see
    :func:`inrcodec.methods.choose`; the result names the method that ran).

    Raises OptionError for impossible options and DataError for images that cannot be coded
    as asked (too large, a budget too small for any network).
    """
    options = options if options is not None else EncodeOptions()
    check_options(options)
    check_image(image, options)
    options = dataclasses.replace(options, method=methods.choose(options, image.shape))
    height, width, _ = image.shape
    t0 = time.perf_counter()
    fitted = methods.get(options.method).encode(image, options)
    decoded = decode(fitted.data, device="cpu")
    return EncodeResult(data=fitted.data, bpp=len(fitted.data) * 8 / (height * width), psnr=psnr(decoded, image),
                        method=options.method, config=fitted.config, steps=fitted.steps,
                        seconds=time.perf_counter() - t0, width=width, height=height, best_step=fitted.best_step,
                        restarts=fitted.restarts, warnings=fitted.warnings, details=fitted.details)
