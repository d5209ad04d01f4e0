"""Latent coding: the probability table is the specified one, the order is causal, and coding
round-trips exactly with an integer ARM."""
from __future__ import annotations

import hashlib

import numpy as np
import pytest

from inrcodec import latents as L
from inrcodec.bitstream import BitstreamError
from inrcodec.entropy import Decoder, Encoder


def _arm(rng: np.random.Generator, context: int, width: int, shift: int) -> list[tuple[np.ndarray, np.ndarray]]:
    one = 1 << shift
    return [(rng.integers(-one, one, (width, context)), rng.integers(-one // 4, one // 4, width)),
            (rng.integers(-one, one, (width, width)), rng.integers(-one // 4, one // 4, width)),
            (rng.integers(-one // 2, one // 2, (2, width)), np.array([0, -one]))]


def test_table_is_the_specified_one_and_every_symbol_is_codable():
    table = L.laplace_table()
    assert table.shape == (L.MEAN_STEPS, L.SCALES, 4 * L.LATENT_MAX + 1)
    assert hashlib.sha256(table.astype("<i8").tobytes()).hexdigest() == L.TABLE_SHA256
    L.check_table()
    assert table.min() >= 1 and table.max() <= (1 << L.FREQ_BITS) + 1
    # A narrow Laplace centred on zero puts most of its mass on zero; its mean shifts it.
    narrow = table[:, 0]
    centre = 2 * L.LATENT_MAX
    assert narrow[L.MEAN_STEPS // 2, centre] > 0.99 * (1 << L.FREQ_BITS)
    assert table[0, 30, centre - 1] > table[0, 30, centre + 1]  # mean below the centre: more mass below


def test_fixed_point_arm_follows_the_float_network():
    rng = np.random.default_rng(1)
    shift = 12
    layers = _arm(rng, 6, 5, shift)
    ctx = rng.integers(-5, 6, (200, 6))
    a = ctx.astype(np.float64)
    for k, (w, b) in enumerate(layers):
        a = a @ (w / 2 ** shift).T + b / 2 ** shift
        a = np.maximum(a, 0) if k < 2 else a
    fixed = L.arm_forward(ctx, layers, shift) / 2 ** shift
    assert np.abs(fixed - a).max() < 0.02


def test_table_rows_pick_mean_and_scale_by_integer_arithmetic():
    shift = 8
    one = 1 << shift
    # mean 2.3 -> centre 2, fraction 0.3 -> step (0.3 + 0.5) * 16 = 12; log-scale 0 -> row 4 * 8 = 32
    out = np.array([[int(2.3 * one), 0], [-int(0.7 * one), -100 * one], [1000 * one, 100 * one]])
    centre, frac, scale = L.table_rows(out, shift)
    assert list(centre) == [2, -1, L.LATENT_MAX]
    assert frac[0] == 12 and scale[0] == 32
    assert scale[1] == 0 and scale[2] == L.SCALES - 1  # clamped, never outside the table


def test_coding_order_is_causal():
    shapes = L.grid_shapes(9, 13, 3)
    assert shapes == [(9, 13), (5, 7), (3, 4)]
    order = L.CodingOrder(shapes, len(L.NEIGHBOURS))
    seen = np.zeros(order.size, bool)
    for a, b in zip(order.bounds[:-1], order.bounds[1:]):
        nbr = order.neighbours(a, b)
        inside = np.isin(nbr, order.position)
        assert seen[nbr[inside]].all()  # every neighbour inside a grid is already decoded
        seen[order.position[a:b]] = True
    assert seen[order.position].all() and order.position.size == sum(h * w for h, w in shapes)


@pytest.mark.parametrize("context,shift", [(1, 4), (8, 8), (12, 16)])
def test_latents_round_trip_exactly(context, shift):
    rng = np.random.default_rng(context)
    shapes = L.grid_shapes(23, 31, 4)
    grids = [np.clip(np.rint(rng.laplace(0, 2.0, s)), -L.LATENT_MAX, L.LATENT_MAX).astype(np.int64) for s in shapes]
    grids[0][0, :3] = [L.LATENT_MAX, -L.LATENT_MAX, 0]  # the extremes are codable
    layers = _arm(rng, context, 7, shift)
    enc = Encoder()
    L.encode_latents(enc, grids, layers, shift, context, chunk=100)  # chunking does not change the order
    out = L.decode_latents(Decoder(enc.payload()), shapes, layers, shift, context)
    assert all(np.array_equal(a, b) for a, b in zip(out, grids))


def test_a_good_model_codes_fewer_bits():
    rng = np.random.default_rng(0)
    shapes = L.grid_shapes(64, 64, 1)
    grids = [np.clip(np.rint(rng.laplace(0, 0.3, shapes[0])), -3, 3).astype(np.int64)]
    sizes = []
    for log_scale in (-2.0, 2.0):  # a narrow and a wide Laplace around zero
        layers = [(np.zeros((2, 1), np.int64), np.zeros(2, np.int64)), (np.zeros((2, 2), np.int64),
                  np.zeros(2, np.int64)), (np.zeros((2, 2), np.int64), np.array([0, int(log_scale * 256)]))]
        enc = Encoder()
        L.encode_latents(enc, grids, layers, 8, 1)
        sizes.append(len(enc.payload()))
    assert sizes[0] < sizes[1] / 2


def test_latents_outside_the_range_are_refused():
    with pytest.raises(ValueError, match="outside"):
        L.encode_latents(Encoder(), [np.full((2, 2), L.LATENT_MAX + 1)], _arm(np.random.default_rng(0), 1, 2, 8), 8, 1)


def test_truncated_latent_payload_is_a_bitstream_error_or_decodes():
    rng = np.random.default_rng(3)
    shapes = L.grid_shapes(16, 16, 2)
    grids = [rng.integers(-3, 4, s) for s in shapes]
    layers = _arm(rng, 4, 4, 8)
    enc = Encoder()
    L.encode_latents(enc, grids, layers, 8, 4)
    try:
        out = L.decode_latents(Decoder(enc.payload()[:8]), shapes, layers, 8, 4)
    except BitstreamError:
        return
    assert [g.shape for g in out] == shapes
