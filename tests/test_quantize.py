"""The quantizer: exact bfloat16 fields, bounded error, integer range."""
from __future__ import annotations

import numpy as np
import pytest

from inrcodec.quantize import dequantize, from_bf16_bits, max_level, quantize, to_bf16_bits


def test_bf16_round_trip_is_exact_for_bf16_values():
    for bits in (0x0000, 0x3F80, 0xBF80, 0x3C00, 0x0080, 0x7F7F):
        assert to_bf16_bits(float(from_bf16_bits(bits))) == bits


def test_bf16_round_up_never_shrinks():
    rng = np.random.default_rng(1)
    for x in rng.uniform(1e-8, 10, 200):
        assert from_bf16_bits(to_bf16_bits(float(np.float32(x)), round_up=True)) >= np.float32(x)


@pytest.mark.parametrize("bits", [2, 4, 8, 12, 16])
def test_error_is_at_most_half_a_step(bits):
    w = np.random.default_rng(bits).normal(0.01, 0.3, size=(17, 9)).astype(np.float32)
    qt = quantize(w, bits)
    step = float(from_bf16_bits(qt.step_bf16))
    assert qt.q.dtype == np.int32 and np.abs(qt.q).max() <= max_level(bits)
    assert np.abs(qt.dequantize() - w.ravel()).max() <= step / 2 * 1.001 + 1e-12
    assert np.array_equal(qt.dequantize(), dequantize(qt.q, qt.offset_bf16, qt.step_bf16))


def test_constant_and_empty_tensors():
    qt = quantize(np.full(5, 0.25, np.float32), 8)
    assert np.allclose(qt.dequantize(), 0.25)
    assert quantize(np.zeros(0, np.float32), 8).q.size == 0


def test_refuses_bad_input():
    with pytest.raises(ValueError):
        quantize(np.array([np.nan], np.float32), 8)
    with pytest.raises(ValueError):
        quantize(np.zeros(3, np.float32), 0)
    with pytest.raises(ValueError):
        quantize(np.zeros(3, np.float32), 17)


def test_one_bit_is_two_levels_at_the_mean_distance():
    w = np.array([0.9, 1.1, -1.0, -3.0, 2.0], np.float32)  # median 0.9
    qt = quantize(w, 1)
    assert qt.q.tolist() == [1, 1, -1, -1, 1]
    values = qt.dequantize()
    assert len(set(values.tolist())) == 2
    step = float(np.mean(np.abs(w - np.float32(0.8984375))))  # bf16 median
    assert values.max() - values.min() == pytest.approx(2 * step, rel=1e-2)
