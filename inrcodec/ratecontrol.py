"""Rate control: turn a whole-file bpp budget into an architecture and a bit depth.

Before training, the architecture is sized from an estimate of the coded bits per weight.
After training, the bit depth is searched exactly on the real stream (post-training
quantization makes that cheap): the largest depth whose file fits the budget wins.

Bit depth is per tensor: the first sine layer's weight and bias keep ``FIRST_LAYER_BITS``
(they are 3 x width of the parameters but nearly all of the quantization loss), the rest
take the searched depth. The format needs nothing for this: the stream's ``bits`` fixes
the symbol range and each tensor's step sets its precision (docs/bitstream.md).
"""
from __future__ import annotations

import math
from typing import Callable

from .bitstream import CRC_FIELDS, HEADER_FIELDS, METHOD_IDS, METHOD_SECTIONS, PAYLOAD_FIELDS, TENSOR_FIELDS
from .siren import SirenConfig

# COIN's architectures (hidden layers x width) at its five Kodak rates, 16-bit weights.
COIN_ARCHITECTURES: dict[float, tuple[int, int]] = {
    0.07: (5, 20), 0.15: (5, 30), 0.3: (10, 28), 0.6: (10, 40), 1.2: (13, 49),
}
# Bits per weight that entropy coding saves below the bit depth: 0.7 on fitted 10x28 Kodak
# SIRENs at 16 bits (bench/results/coin-kodak). Kept a little under that so a fixed bit depth
# rarely overshoots; it only sizes the network, the final stream is always measured.
_BITS_SAVED_BY_ENTROPY_CODING = 0.5
# 8-bit weights everywhere cost a fitted 10x40 on kodim23 3.2 dB; the first layer's weight and
# bias alone cost 1.0 and 2.3 dB when quantized to 8 bits (every other tensor < 0.06 dB), and
# keeping only them at 14 bits leaves a 0.31 dB loss for 1% more bytes (README, bit depth).
FIRST_LAYER_BITS = 14


def tensor_bits(config: SirenConfig, bits: int, uniform: bool = False) -> list[int]:
    """Bit depth of every tensor (bitstream order) for a stream at ``bits``-bit weights."""
    n = len(config.tensor_shapes())
    first = bits if uniform else max(bits, FIRST_LAYER_BITS)
    return [first, first] + [bits] * (n - 2)


def _size(fields) -> int:
    import struct
    return struct.calcsize("<" + "".join(code for _, code, _ in fields))


def header_bytes(config: SirenConfig) -> int:
    """Bytes of a COIN stream that are not payload words: header, records, length, CRC."""
    n_tensors = 2 * (config.hidden_layers + 1)
    return (_size(HEADER_FIELDS) + _size(METHOD_SECTIONS[METHOD_IDS["coin"]])
            + n_tensors * _size(TENSOR_FIELDS) + _size(PAYLOAD_FIELDS) + _size(CRC_FIELDS))


def depth_for_params(n_params: float) -> int:
    """Sine-layer count for a parameter budget, following COIN's choices (5, 10, 13 layers)."""
    if n_params < 5000:
        return 5
    if n_params < 20000:
        return 10
    return 13


def width_for(depth: int, n_params: float, channels: int) -> int:
    """Largest width whose SIREN of ``depth`` sine layers has at most ``n_params`` parameters."""
    # params = (depth-1) w^2 + (depth-1) w + 3w (first) + (channels+1) w + channels
    a, b, c = depth - 1, (depth - 1) + 3 + channels + 1, channels - n_params
    if a == 0:
        return max(1, int(-c // b))
    w = int((-b + math.sqrt(b * b - 4 * a * c)) / (2 * a))
    while w > 1 and SirenConfig(depth, w, channels).num_params() > n_params:
        w -= 1
    return max(1, w)


def plan_architecture(bpp: float, height: int, width: int, channels: int, bits: int,
                      uniform: bool = False) -> SirenConfig:
    """The SIREN to train for a whole-file budget of ``bpp`` at ``bits``-bit weights."""
    budget_bits = bpp * height * width
    probe = SirenConfig(depth_for_params(budget_bits / bits), 8, channels)
    payload_bits = budget_bits - 8 * header_bytes(probe) - 32  # 32: range coder's last word
    per_weight = max(1.0, bits - _BITS_SAVED_BY_ENTROPY_CODING)
    n_params = payload_bits / per_weight
    if n_params >= 20 and not uniform and bits < FIRST_LAYER_BITS:
        # The first layer (3 x width parameters) is paid at FIRST_LAYER_BITS: price it with a
        # first guess of the width, then size the network as usual.
        w = width_for(depth_for_params(n_params), n_params, channels)
        n_params -= 3 * w * (FIRST_LAYER_BITS - bits) / per_weight
    if n_params < 20:
        raise ValueError(f"a budget of {bpp} bpp on {width}x{height} is too small for any network")
    depth = depth_for_params(n_params)
    return SirenConfig(depth, width_for(depth, n_params, channels), channels)


def largest_fitting_bits(size_at: Callable[[int], int], budget_bytes: float, max_bits: int = 16,
                         min_bits: int = 2) -> int | None:
    """Largest bit depth whose stream size ``size_at(bits)`` is within ``budget_bytes`` (None if none)."""
    for bits in range(max_bits, min_bits - 1, -1):
        if size_at(bits) <= budget_bytes:
            return bits
    return None
