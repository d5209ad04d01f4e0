"""The format's own random numbers: SplitMix64, specified bit for bit (docs/bitstream.md).

Anything a decoder must regenerate from a seed in the stream (a method's generator network,
a seeded initialization) comes from here, never from torch's or numpy's generators, whose
streams are not promised stable across versions and devices. Only integer arithmetic and
one exact float32 scaling are involved, so every machine gets the same values.

    >>> [hex(x) for x in splitmix64(0, 2)]
    ['0xe220a8397b1dcdaf', '0x6e789e6aa1b965f4']
"""
from __future__ import annotations

import numpy as np

_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def splitmix64(seed: int, n: int, start: int = 0) -> np.ndarray:
    """Outputs ``start .. start+n-1`` of SplitMix64 seeded with ``seed`` (uint64 array).

    Output i (from 0) mixes the state ``seed + (i + 1) * 0x9E3779B97F4A7C15 mod 2^64``:
    ``z ^= z >> 30; z *= 0xBF58476D1CE4E5B9; z ^= z >> 27; z *= 0x94D049BB133111EB; z ^= z >> 31``.
    """
    if not 0 <= seed < 1 << 64:
        raise ValueError(f"seed must be in 0..2^64-1, got {seed}")
    if n < 0 or start < 0:
        raise ValueError("n and start must be non-negative")
    with np.errstate(over="ignore"):
        z = np.uint64(seed) + (np.arange(start + 1, start + n + 1, dtype=np.uint64) * _GAMMA)
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def uniform_float32(seed: int, n: int, low: float = -1.0, high: float = 1.0, start: int = 0) -> np.ndarray:
    """``n`` float32 values in [low, high): ``low + (high - low) * u`` in float32 arithmetic,
    with ``u = (output >> 40) * 2^-24`` (exact: the top 24 bits of each output)."""
    u = (splitmix64(seed, n, start) >> np.uint64(40)).astype(np.float32) * np.float32(2.0 ** -24)
    lo, span = np.float32(low), np.float32(high) - np.float32(low)
    return (lo + span * u).astype(np.float32)
