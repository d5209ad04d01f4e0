"""The ``.mlpz`` container of compressed MNIST MLPs, and its decoder. No torch, no training code.

Same rules as ``.inr`` (``docs/bitstream.md``, section "mlpz"): a fixed header, then the body
every container shares (:func:`inrcodec.bitstream.pack_body`: a u16-length section, tensor
records, the constriction payload), then a CRC32. The section says the architecture and how
the tensors are laid out; ``layout`` 0 is dense: each layer's weight (out, in) then bias.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .bitstream import (MODEL_NAMES, BitstreamError, Field, LimitError, TensorRecord, check_crc, pack_body,
                        pack_fields, seal, size_of, unpack_body, unpack_fields)
from .entropy import decode_tensors
from .mlp import MLPConfig
from .quantize import dequantize

MAGIC = b"MLZ"
VERSION = 1
MAX_PARAMETERS = 1 << 24  # refused before anything is allocated
HEADER_FIELDS: list[Field] = [
    Field("magic", "3s", 'b"MLZ"'),
    Field("version", "B", "format version", choices=(VERSION,)),
    Field("inputs", "H", "input features (784 for MNIST)", 1),
    Field("classes", "B", "output classes (10 for MNIST)", 2),
]
# Which techniques made the file (a bit each; informational, the layout says how to decode).
STEPS: dict[str, int] = {"distill": 1, "prune": 2, "lowrank": 4, "quant": 8, "qat": 16, "mcnc": 32}
SECTION: list[Field] = [
    Field("depth", "B", "hidden layers D", 1, 64),
    Field("width", "H", "features per hidden layer W", 1),
    Field("steps", "B", "techniques applied, a bit each (STEPS)", 0, 63),
    Field("layout", "B", "0: dense weight and bias per layer", choices=(0,)),
]


@dataclass(frozen=True)
class Compressed:
    """A parsed ``.mlpz``: the network, what made it, its records and payload."""

    config: MLPConfig
    steps: list[str]
    tensors: list[TensorRecord]
    payload: bytes
    sizes: dict[str, int]


def pack(config: MLPConfig, steps: list[str], tensors: list[TensorRecord], payload: bytes) -> bytes:
    """Serialize a dense ``.mlpz``."""
    head = pack_fields(HEADER_FIELDS, {"magic": MAGIC, "version": VERSION, "inputs": config.inputs,
                                       "classes": config.classes})
    section = pack_fields(SECTION, {"depth": config.depth, "width": config.width,
                                    "steps": sum(STEPS[s] for s in set(steps)), "layout": 0})
    return seal(head + pack_body(section, tensors, payload))


def unpack(data: bytes) -> Compressed:
    """Parse and validate a ``.mlpz`` (every field, the CRC, the record count, the size limit)."""
    if len(data) < 4 or data[:3] != MAGIC:
        raise BitstreamError("not an .mlpz file (bad magic)")
    if data[3] != VERSION:
        raise BitstreamError(f"unsupported .mlpz version {data[3]} (this decoder reads version {VERSION})")
    head, rest = unpack_fields(HEADER_FIELDS, check_crc(data, size_of(HEADER_FIELDS), ".mlpz file"), "header")
    section, tensors, payload, sizes = unpack_body(rest)
    params, tail = unpack_fields(SECTION, section, ".mlpz section")
    if tail:
        raise BitstreamError(f".mlpz section has {len(tail)} unexpected bytes")
    config = MLPConfig(params["depth"], params["width"], head["inputs"], head["classes"])
    if config.num_params() > MAX_PARAMETERS:
        raise LimitError(f"an MLP of {config.num_params()} parameters exceeds the limit of {MAX_PARAMETERS}")
    if len(tensors) != len(config.tensor_shapes()):
        raise BitstreamError(f".mlpz has {len(tensors)} tensor records, its section implies "
                             f"{len(config.tensor_shapes())}")
    steps = [name for name, bit in STEPS.items() if params["steps"] & bit]
    return Compressed(config, steps, tensors, payload,
                      {"header": size_of(HEADER_FIELDS), **sizes, "crc": 4})


def decode(data: bytes) -> tuple[MLPConfig, list[np.ndarray]]:
    """The MLP a ``.mlpz`` holds: its config and float32 tensors (weight (out, in), bias, per layer)."""
    c = unpack(data)
    shapes = c.config.tensor_shapes()
    ints = decode_tensors(c.payload, [math.prod(s) for s in shapes], [t.bits for t in c.tensors],
                          [(t.model, t.scale_bf16) for t in c.tensors])
    return c.config, [dequantize(q, t.offset_bf16, t.step_bf16).reshape(s)
                      for q, t, s in zip(ints, c.tensors, shapes)]


def describe(data: bytes) -> dict[str, Any]:
    """What ``mlpzip info`` shows: architecture, techniques, depths and bytes per part (no payload decoded)."""
    c = unpack(data)
    sizes = [math.prod(s) for s in c.config.tensor_shapes()]
    return {"format": "mlpz", "version": VERSION, "depth": c.config.depth, "width": c.config.width,
            "inputs": c.config.inputs, "classes": c.config.classes, "parameters": sum(sizes),
            "steps": c.steps, "tensor_bits": [t.bits for t in c.tensors],
            "entropy_models": sorted({MODEL_NAMES[t.model] for t in c.tensors}), "bytes": len(data),
            "section_bytes": c.sizes, "bits_per_parameter": round(8 * len(data) / max(1, sum(sizes)), 4)}
