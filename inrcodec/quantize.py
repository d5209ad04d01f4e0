"""Post-training uniform quantization of weight tensors (numpy only, shared with the decoder).

A tensor ``w`` is stored as integers ``q`` with ``w ~= offset + step * q`` and
``|q| <= 2**(bits-1) - 1``; at 1 bit the integers are -1 and +1 (binary: zero is no level). ``offset`` and ``step`` are chosen by the encoder and rounded to
bfloat16 *before* quantizing, so the decoder reproduces them exactly from 2-byte fields.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def to_bf16_bits(x: float, round_up: bool = False) -> int:
    """bfloat16 bit pattern of float32 ``x`` (round to nearest even, or up in magnitude)."""
    bits = int(np.array([x], dtype=np.float32).view(np.uint32)[0])
    if round_up:
        return (bits + 0xFFFF) >> 16 if bits & 0xFFFF else bits >> 16
    return (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16


def from_bf16_bits(bits: int) -> np.float32:
    """float32 value of a bfloat16 bit pattern (exact)."""
    return np.array([bits << 16], dtype=np.uint32).view(np.float32)[0]


def max_level(bits: int) -> int:
    """Largest |q| for a bit depth: the symbols lie in [-max_level, max_level] (at 1 bit: -1 and +1)."""
    return 1 if bits == 1 else (1 << (bits - 1)) - 1


@dataclass(frozen=True)
class QuantizedTensor:
    """Integers of one tensor with the bfloat16 bits of its offset and step."""

    q: np.ndarray  # int32, flat
    offset_bf16: int
    step_bf16: int

    def dequantize(self) -> np.ndarray:
        """float32 values, flat."""
        return dequantize(self.q, self.offset_bf16, self.step_bf16)


def quantize(w: np.ndarray, bits: int) -> QuantizedTensor:
    """Quantize a float tensor to ``bits`` bits around its median (flat int32 output).

    At 1 bit each value becomes the sign of its distance to the median, times the mean distance
    (the step that minimizes the squared error of a binary tensor)."""
    if not 1 <= bits <= 16:
        raise ValueError(f"bits must be in 1..16, got {bits}")
    flat = np.asarray(w, dtype=np.float32).reshape(-1)
    if not np.all(np.isfinite(flat)):
        raise ValueError("cannot quantize a tensor with NaN or infinite values")
    offset_bits = to_bf16_bits(float(np.median(flat)) if flat.size else 0.0)
    offset = from_bf16_bits(offset_bits)
    if bits == 1:
        dist = flat - offset
        step_bits = to_bf16_bits(max(float(np.mean(np.abs(dist))) if flat.size else 0.0, 1e-30))
        return QuantizedTensor(np.where(dist >= 0, 1, -1).astype(np.int32), offset_bits, step_bits)
    spread = float(np.max(np.abs(flat - offset))) if flat.size else 0.0
    levels = max_level(bits)
    # Round the step up so that the extreme value still lands inside [-levels, levels].
    step_bits = to_bf16_bits(max(spread / levels, 1e-30), round_up=True)
    step = from_bf16_bits(step_bits)
    q = np.clip(np.rint((flat - offset) / step), -levels, levels).astype(np.int32)
    return QuantizedTensor(q, offset_bits, step_bits)


def dequantize(q: np.ndarray, offset_bf16: int, step_bf16: int) -> np.ndarray:
    """Inverse of :func:`quantize`: float32 ``offset + step * q``."""
    offset, step = from_bf16_bits(offset_bf16), from_bf16_bits(step_bf16)
    return (np.float32(offset) + np.float32(step) * q.astype(np.float32)).astype(np.float32)


def weight_bits(tensor_bits: list[int], sizes: list[int]) -> int:
    """The bit depth most parameters are stored at: what ``bits`` means in results and ``info``.

    A stream whose first layer keeps 14 bits and whose other tensors use 8 has ``bits`` 8.
    """
    count: dict[int, int] = {}
    for b, n in zip(tensor_bits, sizes, strict=True):
        count[b] = count.get(b, 0) + n
    return max(count, key=lambda b: (count[b], b)) if count else 0
