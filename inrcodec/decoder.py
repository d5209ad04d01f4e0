"""The decoder: bitstream -> tensors -> image. Imports no training code.

The short path a reader follows to see what a ``.inr`` file means: :func:`inrcodec.bitstream.unpack`
validates the container, the method named by the stream's id (:mod:`inrcodec.methods`) reads its
section and says what tensors to expect and what decoding will cost, both checked against the
limits before anything is allocated; :mod:`inrcodec.entropy` decodes the integers with models
built only from stored fields, :mod:`inrcodec.quantize` maps them back to float32, and the
method reconstructs the image.

    >>> from inrcodec.encoder import encode
    >>> from inrcodec.methods import EncodeOptions
    >>> image = np.zeros((4, 6, 3), np.uint8)
    >>> stream = encode(image, EncodeOptions(bpp=None, method="coin", method_options={"arch": (1, 4), "bits": 8},
    ...                                      steps=5)).data
    >>> decode(stream).shape
    (4, 6, 3)
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import methods
from .bitstream import MODEL_NAMES, BitstreamError, DecodeLimits, LimitError, Stream, bf16_value, unpack
from .entropy import Decoder
from .quantize import dequantize


@dataclass(frozen=True)
class Opened:
    """A parsed, validated stream with its method's parameters; nothing decoded yet."""

    stream: Stream
    method: methods.Method
    params: dict[str, Any]
    shapes: list[tuple[int, ...]]


_DESCRIBE_LIMITS = DecodeLimits(max_pixels=1 << 32, max_work=1 << 80, max_parameters=1 << 40)


def open_stream(data: bytes, limits: DecodeLimits = DecodeLimits()) -> Opened:
    """Parse and validate everything but the payload, and check the decoder's limits."""
    stream = unpack(data, limits)
    method = methods.get(stream.method)
    params = method.read_section(stream)
    shapes = method.layout(params, stream.channels)
    if len(shapes) != len(stream.tensors):
        raise BitstreamError(f"{method.NAME} stream has {len(stream.tensors)} tensor records, "
                             f"its section implies {len(shapes)}")
    opened = Opened(stream, method, params, shapes)
    check_limits(opened, limits)
    return opened


def check_limits(o: Opened, limits: DecodeLimits) -> None:
    """LimitError if decoding ``o`` needs more pixels, parameters or work than ``limits`` allow."""
    s = o.stream
    if s.width * s.height > limits.max_pixels:
        raise LimitError(f"image of {s.width}x{s.height} exceeds the limit of {limits.max_pixels} pixels "
                         "(raise it with --max-pixels)")
    n_params = sum(math.prod(shape) for shape in o.shapes)
    if hasattr(o.method, "decoded_parameters"):  # methods that expand their coded tensors (MCNC)
        n_params = max(n_params, o.method.decoded_parameters(o.params, s.channels))
    if n_params > limits.max_parameters:
        raise LimitError(f"{n_params} parameters exceed the limit of {limits.max_parameters}")
    work = decode_work(o)
    if work > limits.max_work:
        raise LimitError(f"decoding needs {work:.3g} multiply-adds, over the limit of {limits.max_work:.3g} "
                         "(raise it with --max-work)")


def decode_work(o: Opened) -> int:
    """Multiply-adds decoding ``o`` costs: per pixel, plus a method's fixed work (a generator)."""
    s = o.stream
    fixed = o.method.fixed_work(o.params, s.channels) if hasattr(o.method, "fixed_work") else 0
    return o.method.work_per_pixel(o.params, s.channels) * s.width * s.height + fixed


def decode_parameters(data: bytes, limits: DecodeLimits = DecodeLimits()) -> tuple[Opened, list[np.ndarray]]:
    """Parse a stream and return it with its dequantized float32 tensors, shaped as the method says,
    followed by what the method's ``decode_symbols`` reads after them, if it has one."""
    o = open_stream(data, limits)
    dec = Decoder(o.stream.payload)
    tensors = [dequantize(dec.take(math.prod(s), t.bits, t.model, t.scale_bf16), t.offset_bf16, t.step_bf16).reshape(s)
               for t, s in zip(o.stream.tensors, o.shapes)]
    if hasattr(o.method, "decode_symbols"):  # methods that code more after their tensors (latent grids)
        tensors += o.method.decode_symbols(o.stream, o.params, tensors, dec)
    return o, tensors


def decode(data: bytes, limits: DecodeLimits = DecodeLimits(), device: str = "cpu") -> np.ndarray:
    """Decode a stream into an (H, W, C) uint8 image."""
    o, tensors = decode_parameters(data, limits)
    return o.method.reconstruct(o.stream, o.params, tensors, device)


def describe(data: bytes) -> dict[str, Any]:
    """What ``inrcodec info`` prints; reads the header and records only, never the payload, so it
    also describes streams over the decoder's limits (``within_limits`` says whether they are)."""
    o = open_stream(data, _DESCRIBE_LIMITS)
    try:
        check_limits(o, DecodeLimits())
        within = True
    except LimitError:
        within = False
    s = o.stream
    return {
        "format_version": s.version,
        "method": o.method.NAME,
        "width": s.width,
        "height": s.height,
        "channels": s.channels,
        **o.method.describe(s, o.params),
        "entropy_models": sorted({MODEL_NAMES[t.model] for t in s.tensors}),
        "bytes": len(data),
        "section_bytes": s.section_bytes,
        "bpp": len(data) * 8 / (s.width * s.height),
        "decode_work": decode_work(o),
        "within_limits": within,
        "step_sizes": [bf16_value(t.step_bf16) for t in s.tensors],
    }
