"""The encoder: image -> fitted, quantized, entropy-coded stream (the public ``encode``)."""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import numpy as np

from .bitstream import METHOD_IDS, Stream, TensorRecord, pack
from .decoder import decode
from .entropy import encode_tensors
from .fit import EFFORT_SECONDS, FitOptions, FitProgress, fit
from .metrics import psnr
from .quantize import quantize
from .ratecontrol import largest_fitting_bits, plan_architecture, tensor_bits
from .siren import SirenConfig

DEFAULT_BITS = 8  # planned depth under rate control: beat 7, 10, 12 at 0.3 bpp (README, bit depth)
METHODS = ("coin",)


@dataclass
class EncodeOptions:
    """What to encode and how hard to try.

    Give ``bpp`` (a whole-file budget; rate control picks the architecture and the largest
    bit depth that fits) or ``arch`` + ``bits`` (fixed, e.g. COIN's ``(10, 28)`` at 16 bits).
    The first layer keeps at least ``FIRST_LAYER_BITS`` unless ``uniform_bits`` (as in COIN).
    """

    bpp: float | None = 0.3
    method: str = "coin"
    arch: tuple[int, int] | None = None
    bits: int | None = None
    uniform_bits: bool = False
    effort: str = "normal"
    steps: int | None = None
    time_limit: float | None = None
    seed: int = 0
    device: str = "cpu"
    on_progress: Callable[[FitProgress], None] | None = field(default=None, repr=False)


@dataclass
class EncodeResult:
    """The stream and what it achieved (``psnr`` is measured on the decoded stream)."""

    data: bytes
    bpp: float
    psnr: float
    method: str
    architecture: str
    bits: int
    parameters: int
    steps: int
    seconds: float
    width: int
    height: int
    warnings: list[str] = field(default_factory=list)
    best_step: int = 0  # the training step of the snapshot written
    restarts: int = 0  # times the fit's divergence guard rolled back (a sign of a hard image)

    def summary(self) -> dict[str, Any]:
        """JSON-ready dict of everything but the stream bytes."""
        out = asdict(self)
        out.pop("data")
        out["bytes"] = len(self.data)
        return out


def build_stream(tensors: list[np.ndarray], config: SirenConfig, bits: list[int], height: int, width: int) -> bytes:
    """Quantize float tensors at their ``bits`` (one per tensor), entropy code them, pack a COIN stream."""
    qts = [quantize(t, b) for t, b in zip(tensors, bits, strict=True)]
    symbol_bits = max(bits)  # the stream's depth bounds every tensor's symbols
    models, payload = encode_tensors([t.q for t in qts], symbol_bits)
    records = [TensorRecord(t.offset_bf16, t.step_bf16, m, s) for t, (m, s) in zip(qts, models)]
    params = {"hidden_layers": config.hidden_layers, "width": config.width, "w0": int(config.w0), "bits": symbol_bits}
    return pack(Stream(METHOD_IDS["coin"], config.out_channels, width, height, params, records, payload))


def check_options(options: EncodeOptions) -> None:
    """Raise ValueError for options no image can satisfy (checked before reading any input)."""
    if options.method not in METHODS:
        raise ValueError(f"method {options.method!r} is not available (have: {', '.join(METHODS)})")
    if options.effort not in EFFORT_SECONDS:
        raise ValueError(f"unknown effort {options.effort!r} (have: {', '.join(EFFORT_SECONDS)})")
    if options.bits is not None and not 2 <= options.bits <= 16:
        raise ValueError(f"bits must be in 2..16, got {options.bits}")
    if options.bpp is not None and options.bpp <= 0:
        raise ValueError(f"the bpp budget must be positive, got {options.bpp}")
    if options.arch is None and options.bpp is None:
        raise ValueError("give a bpp budget or an architecture")


def encode(image: np.ndarray, options: EncodeOptions = EncodeOptions()) -> EncodeResult:
    """Fit and code an (H, W, C) uint8 image. Raises ValueError for impossible requests."""
    check_options(options)
    height, width, channels = image.shape
    if height > 65536 or width > 65536:
        raise ValueError(f"images up to 65536 pixels a side are supported, got {width}x{height}")
    t0 = time.perf_counter()
    warnings: list[str] = []
    planned_bits = options.bits or DEFAULT_BITS
    if options.arch is not None:
        config = SirenConfig(options.arch[0], options.arch[1], channels)
    else:
        config = plan_architecture(options.bpp, height, width, channels, planned_bits, options.uniform_bits)
    fit_opts = FitOptions(steps=options.steps, budget_seconds=EFFORT_SECONDS[options.effort],
                          time_limit=options.time_limit,
                          eval_bits=tensor_bits(config, planned_bits, options.uniform_bits), seed=options.seed,
                          device=options.device, on_progress=options.on_progress)
    result = fit(image, config, fit_opts)

    # The budget is a promise: with a fixed bit depth that overshoots (the pre-training size
    # estimate is approximate), fall back to the largest depth that fits and say so.
    budget = options.bpp * height * width / 8 if options.bpp is not None else float("inf")
    max_bits = options.bits or 16
    streams: dict[int, bytes] = {}

    def size_at(b: int) -> int:
        streams[b] = build_stream(result.tensors, config, tensor_bits(config, b, options.uniform_bits), height, width)
        return len(streams[b])

    bits = largest_fitting_bits(size_at, budget, max_bits=max_bits)
    if bits is None:
        raise ValueError(f"no stream of this architecture fits {options.bpp} bpp")
    if options.bits is not None and bits != options.bits:
        warnings.append(f"{options.bits}-bit weights exceed the {options.bpp} bpp budget; used {bits} bits")
    data = streams[bits]
    decoded = decode(data, device="cpu")
    return EncodeResult(data=data, bpp=len(data) * 8 / (height * width), psnr=psnr(decoded, image),
                        method=options.method, architecture=f"{config.hidden_layers}x{config.width}",
                        bits=bits, parameters=config.num_params(), steps=result.steps,
                        seconds=time.perf_counter() - t0, width=width, height=height, warnings=warnings,
                        best_step=result.best_step, restarts=result.restarts)
