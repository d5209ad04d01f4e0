"""The decoder: bitstream -> network parameters -> image. Imports no training code.

This is the short path a reader follows to see what a ``.inr`` file means:
:func:`inrcodec.bitstream.unpack` validates the container, :mod:`inrcodec.entropy` decodes
the integers with models built only from header fields, :mod:`inrcodec.quantize` maps them
back to float32 weights, and :func:`inrcodec.siren.render` evaluates the network.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .bitstream import METHOD_NAMES, MODEL_NAMES, DecodeLimits, Stream, tensor_sizes, unpack
from .entropy import decode_tensors
from .quantize import dequantize, from_bf16_bits


def _symbols(stream: Stream) -> list[np.ndarray]:
    sizes = tensor_sizes(stream.method, stream.params, stream.channels)
    models = [(t.model, t.scale_bf16) for t in stream.tensors]
    return decode_tensors(stream.payload, sizes, stream.params["bits"], models)


def decode_parameters(data: bytes, limits: DecodeLimits = DecodeLimits()) -> tuple[Stream, list[np.ndarray]]:
    """Parse a stream and return it with its dequantized float32 tensors (flat, network order)."""
    stream = unpack(data, limits)
    qs = _symbols(stream)
    tensors = [dequantize(q, t.offset_bf16, t.step_bf16) for q, t in zip(qs, stream.tensors)]
    return stream, tensors


def decode(data: bytes, limits: DecodeLimits = DecodeLimits(), device: str = "cpu") -> np.ndarray:
    """Decode a stream into an (H, W, C) uint8 image.

    >>> from inrcodec.encoder import encode, EncodeOptions   # doctest: +SKIP
    >>> image = decode(encode(img, EncodeOptions(bpp=0.3)).data)  # doctest: +SKIP
    """
    import torch  # the decoder needs torch only to evaluate the network

    from .siren import Siren, SirenConfig, render

    stream, tensors = decode_parameters(data, limits)
    p = stream.params
    config = SirenConfig(p["hidden_layers"], p["width"], stream.channels, float(p["w0"]))
    with torch.device("meta"):
        model = Siren(config)  # shapes only: every value comes from the stream
    model = model.to_empty(device=device)
    model.load_tensors(tensors)
    return render(model, stream.height, stream.width)


def describe(data: bytes, limits: DecodeLimits = DecodeLimits()) -> dict[str, Any]:
    """What ``inrcodec info`` prints: method, architecture, bits, size, bytes per section, bpp."""
    stream = unpack(data, limits)
    pixels = stream.width * stream.height
    p = stream.params
    # Depth each tensor really uses: the smallest whose symbol range holds its largest |q|
    # (the stream's ``bits`` only bounds them; the encoder may quantize tensors more coarsely).
    used = [max(2, int(np.abs(q).max()).bit_length() + 1) if q.size else 2 for q in _symbols(stream)]
    return {
        "format_version": stream.version,
        "method": METHOD_NAMES.get(stream.method, str(stream.method)),
        "width": stream.width,
        "height": stream.height,
        "channels": stream.channels,
        "architecture": f"{p['hidden_layers']}x{p['width']}",
        "w0": p["w0"],
        "bits": p["bits"],
        "tensor_bits": used,
        "parameters": sum(tensor_sizes(stream.method, p, stream.channels)),
        "entropy_models": sorted({MODEL_NAMES[t.model] for t in stream.tensors}),
        "bytes": len(data),
        "section_bytes": stream.section_bytes,
        "bpp": len(data) * 8 / pixels,
        "step_sizes": [float(from_bf16_bits(t.step_bf16)) for t in stream.tensors],
    }
