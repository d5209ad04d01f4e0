"""The entropy coder: exact round trips, and a payload close to the ideal code length."""
from __future__ import annotations

import numpy as np
import pytest

from inrcodec.bitstream import BitstreamError
from inrcodec.entropy import decode_tensors, encode_tensors
from inrcodec.quantize import max_level


@pytest.mark.parametrize("bits", [2, 8, 12, 16])
def test_round_trip_many_shapes(bits):
    rng = np.random.default_rng(bits)
    lv = max_level(bits)
    qs = [np.clip(np.rint(rng.laplace(0, lv / 20, n)), -lv, lv).astype(np.int32) for n in (0, 1, 7, 784, 3000)]
    qs.append(np.full(10, lv, np.int32))  # the edge of the support
    models, payload = encode_tensors(qs, [bits] * len(qs))
    back = decode_tensors(payload, [q.size for q in qs], [bits] * len(qs), models)
    for a, b in zip(qs, back):
        assert np.array_equal(a, b)


def test_one_bit_tensors_hold_minus_one_and_plus_one_at_one_bit_each():
    rng = np.random.default_rng(1)
    q = np.where(rng.random(8000) < 0.5, -1, 1).astype(np.int32)
    models, payload = encode_tensors([q, np.array([1], np.int32)], [1, 1])
    assert len(payload) <= 8000 // 8 + 8
    back = decode_tensors(payload, [8000, 1], [1, 1], models)
    assert np.array_equal(back[0], q) and back[1].tolist() == [1]
    with pytest.raises(ValueError):
        encode_tensors([np.array([0, 1], np.int32)], [1])  # zero is not a 1-bit level


def test_payload_is_close_to_empirical_entropy():
    rng = np.random.default_rng(0)
    q = np.rint(rng.laplace(0, 30, 20000)).astype(np.int32)
    _, payload = encode_tensors([q], [12])
    _, counts = np.unique(q, return_counts=True)
    p = counts / counts.sum()
    entropy_bits = -(counts * np.log2(p)).sum()
    assert len(payload) * 8 < entropy_bits * 1.02 + 64


def test_symbols_outside_the_support_are_refused():
    with pytest.raises(ValueError):
        encode_tensors([np.array([200], np.int32)], [8])


def test_bad_model_parameters_are_refused():
    models, payload = encode_tensors([np.arange(-3, 4, dtype=np.int32)], [8])
    with pytest.raises(BitstreamError):
        decode_tensors(payload, [7], [8], [(5, models[0][1])])
    with pytest.raises(BitstreamError):
        decode_tensors(payload, [7], [8], [(0, 0x7FC0)])  # NaN scale


def test_each_tensor_has_its_own_symbol_range():
    qs = [np.array([8000, -8000, 3], np.int32), np.array([100, -100, 0], np.int32)]
    models, payload = encode_tensors(qs, [14, 8])
    back = decode_tensors(payload, [3, 3], [14, 8], models)
    assert all(np.array_equal(a, b) for a, b in zip(qs, back))
    with pytest.raises(ValueError):
        encode_tensors(qs, [8, 14])


def test_skewed_one_bit_tensors_get_a_bernoulli_model_and_cost_their_entropy():
    rng = np.random.default_rng(2)
    q = np.where(rng.random(20000) < 0.1, 1, -1).astype(np.int32)  # a 10%-kept pruning mask
    models, payload = encode_tensors([q], [1])
    assert models[0][0] == 2 and len(payload) * 8 < 20000 * 0.469 * 1.03 + 64  # H(0.1) = 0.469 bits
    assert np.array_equal(decode_tensors(payload, [20000], [1], models)[0], q)
    with pytest.raises(BitstreamError, match="Bernoulli"):
        decode_tensors(payload, [5], [8], [(2, models[0][1])])
    with pytest.raises(BitstreamError, match="Bernoulli"):
        decode_tensors(payload, [5], [1], [(2, 0x3F80)])  # P(+1) = 1.0
