"""Coding methods: fixed ids, the interface every method module implements, and the registry.

A method is one module in this package. Its module level is the decode side and imports no
training code; its ``encode`` imports what it needs to fit when called. The container,
entropy coder, quantizer, training loop and rate search know no method; the decoder finds a
method by the id in the stream through :func:`get`.

To add a method: give it an id in ``METHOD_IDS`` (ids are never reused or renumbered), write
``methods/<name>.py`` with the attributes and functions of :class:`Method`, and name its
module in ``_MODULES``. The command line, ``info``, the decoder and the bench pick it up.
"""
from __future__ import annotations

import importlib
from dataclasses import asdict, dataclass, field
from types import ModuleType
from typing import Any, Callable, Protocol

import numpy as np

from ..bitstream import BitstreamError, Field, Stream

# Fixed numbers, never derived from an ordering: they are stored in every stream.
METHOD_IDS: dict[str, int] = {"coin": 1, "qat": 2, "mcnc": 3, "coinpp": 4, "grid": 5}
METHOD_NAMES: dict[int, str] = {v: k for k, v in METHOD_IDS.items()}
_MODULES: dict[str, str] = {"coin": "inrcodec.methods.coin", "qat": "inrcodec.methods.qat",
                            "mcnc": "inrcodec.methods.mcnc", "grid": "inrcodec.methods.grid"}  # the methods this version implements


@dataclass
class EncodeOptions:
    """What every method is asked: a budget, an effort, and how to run.

    ``bpp`` is a whole-file budget (None: the method's fixed configuration in
    ``method_options`` decides the size). ``method_options`` holds the method's own knobs (for
    COIN: ``arch``, ``bits``, ``uniform_bits``); a method refuses keys it does not know.
    """

    bpp: float | None = 0.3
    method: str = "auto"  # see :func:`choose`
    method_options: dict[str, Any] = field(default_factory=dict)
    effort: str = "normal"
    steps: int | None = None
    time_limit: float | None = None
    seed: int = 0
    device: str = "cpu"
    max_pixels: int = 1 << 24  # the encoder refuses larger images (fitting time and memory grow with pixels)
    on_progress: Callable[[Any], None] | None = field(default=None, repr=False)


@dataclass
class EncodeResult:
    """The stream and what it achieved (``psnr`` is measured on the decoded stream).

    ``steps`` is how many training steps ran: ``--steps`` with that number reproduces the
    run. ``details`` holds the method's own description (architecture, bits, ...).
    """

    data: bytes
    bpp: float
    psnr: float
    method: str
    config: str  # one line: what was coded, e.g. "10x40 SIREN, 8-bit weights (first layer 14)"
    steps: int
    seconds: float
    width: int
    height: int
    best_step: int = 0  # the training step of the snapshot written
    restarts: int = 0  # times the divergence guard rolled back (a sign of a hard image)
    warnings: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """JSON-ready dict of everything but the stream bytes (``details`` flattened in)."""
        out = asdict(self)
        out.pop("data")
        out |= out.pop("details")
        out["bytes"] = len(self.data)
        return out


@dataclass
class Fitted:
    """What a method's ``encode`` hands back to :func:`inrcodec.encoder.encode`."""

    data: bytes
    config: str
    steps: int
    best_step: int = 0
    restarts: int = 0
    warnings: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


class Method(Protocol):
    """The interface of a method module (a module, not a class: these are its module attributes)."""

    ID: int
    NAME: str
    SUMMARY: str  # one line for help texts
    SECTION: list[Field]  # the fixed fields of its method section
    VARIANTS: str  # the bench names it answers to, for ``inrcodec bench --methods list``

    def read_section(self, stream: Stream) -> dict[str, Any]:
        """Validated parameters from the method section (BitstreamError if invalid)."""

    def layout(self, params: dict[str, Any], channels: int) -> list[tuple[int, ...]]:
        """Shape of every coded tensor, in stream order (what the payload decodes to)."""

    def work_per_pixel(self, params: dict[str, Any], channels: int) -> int:
        """Multiply-adds the decoder spends per pixel (bounded by DecodeLimits.max_work)."""

    def reconstruct(self, stream: Stream, params: dict[str, Any], tensors: list[np.ndarray],
                    device: str) -> np.ndarray:
        """The (H, W, C) uint8 image from dequantized tensors shaped as ``layout`` says."""

    def describe(self, stream: Stream, params: dict[str, Any]) -> dict[str, Any]:
        """Method fields for ``inrcodec info`` (no payload decoding)."""

    def encode(self, image: np.ndarray, options: EncodeOptions) -> Fitted:
        """Fit, quantize and code ``image`` within ``options.bpp`` (imports training code)."""

    def check_options(self, options: EncodeOptions) -> None:
        """Raise OptionError for options this method cannot take (before reading any input)."""

    def bench_options(self, name: str, rate: float) -> dict[str, Any] | None:
        """``method_options`` (plus ``bpp``) for a bench name like ``coin8``; None if not ours."""

    # Optional, for methods that expand their coded tensors (MCNC): ``decoded_parameters(params,
    # channels)`` (values materialized, bounded by max_parameters) and ``fixed_work(params,
    # channels)`` (multiply-adds that do not grow with the image, counted against max_work).
    # For methods that code symbols of their own after the tensors in the same payload (latent
    # grids): ``decode_symbols(stream, params, tensors, decoder)`` returns arrays that
    # ``reconstruct`` receives after the tensors.


AUTO = "auto"
# What ``auto`` falls back to where the grid's networks alone would fill the budget (small images:
# on a 40x56 crop they take about 2.7 bpp); COIN's smallest network is a few hundred bits.
_FALLBACK = "coin"


def choose(options: EncodeOptions, shape: tuple[int, ...]) -> str:
    """The method an encode of an image of ``shape`` (H, W, C) runs: ``options.method``, or for
    ``auto`` (the default since 2026-12-06) the latent grid, the best of our methods at each rate
    where several were run on Kodak (0.1-0.6 bpp), unless the budget leaves it no room for
    latents on so small an image; then COIN. A rule, not a measurement of where COIN starts to
    win."""
    if options.method != AUTO:
        return options.method
    grid = get("grid")
    return "grid" if grid.fits(shape, options) else _FALLBACK  # type: ignore[attr-defined]


def available() -> list[str]:
    """Names of the methods this version can encode and decode."""
    return list(_MODULES)


def get(key: int | str) -> Method:
    """The method module for an id (from a stream) or a name (from the user)."""
    name = METHOD_NAMES.get(key) if isinstance(key, int) else key
    if name not in _MODULES:
        if isinstance(key, int):
            what = f"method id {key}" + (f" ({name})" if name else "")
            raise BitstreamError(f"unsupported {what}: this version decodes {', '.join(available())}")
        raise KeyError(name)
    module: ModuleType = importlib.import_module(_MODULES[name])
    return module  # type: ignore[return-value]
