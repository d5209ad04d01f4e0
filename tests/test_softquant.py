"""The soft quantizer: tends to the hard one, finite gradients at every depth, binary at 1 bit
and ternary at 2."""
from __future__ import annotations

import pytest
import torch

from inrcodec.quantize import from_bf16_bits
from inrcodec.softquant import SoftQuantizer, soft_levels, temperature_at


@pytest.mark.parametrize("bits", [2, 3, 4, 8, 16])
def test_soft_tends_to_hard_as_temperature_grows(bits):
    levels = (1 << (bits - 1)) - 1
    gen = torch.Generator().manual_seed(bits)
    k = torch.randint(-levels - 3, levels + 4, (2000,), generator=gen).float()
    z = k + (torch.rand(2000, generator=gen) - 0.5) * 0.8  # at least 0.1 from every boundary
    hard = torch.clamp(torch.round(z), -levels, levels)
    errors = [float((soft_levels(z, levels, t) - hard).abs().max()) for t in (10.0, 100.0, 1000.0)]
    assert errors[0] > errors[1] > errors[2] and errors[2] < 1e-3


@pytest.mark.parametrize("tied", [True, False])
@pytest.mark.parametrize("bits", [1, 2, 3, 4, 6, 8, 16])
def test_gradients_are_finite_at_every_depth(bits, tied):
    w = torch.randn(64, 16, requires_grad=True)
    q = SoftQuantizer(w, bits, tied=tied)
    for t in (1.0, 10.0, 1000.0):
        w.grad = None
        q.zero_grad()
        q(w, t).square().sum().backward()
        grads = [w.grad, q.log_alpha.grad] + ([] if tied else [q.log_beta.grad])
        assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert (q.log_beta.grad is None) == tied  # tied: one learned step, beta = 1 / alpha


def test_two_bits_is_ternary_and_hard_matches_dequantized():
    w = torch.randn(200)
    q = SoftQuantizer(w, 2)
    levels, alpha_bits = q.hard(w)
    assert set(levels.tolist()) <= {-1, 0, 1} and {-1, 1} <= set(levels.tolist())
    assert torch.equal(q.dequantized(w), levels.to(torch.float32) * float(from_bf16_bits(alpha_bits)))


def test_one_bit_gives_two_levels_and_the_soft_one_tends_to_them():
    w = torch.randn(300, generator=torch.Generator().manual_seed(3))
    q = SoftQuantizer(w, 1)
    levels, alpha_bits = q.hard(w)
    assert set(levels.tolist()) == {-1, 1}
    assert torch.equal(levels, torch.where(w >= 0, 1, -1).to(torch.int32))
    hard = q.dequantized(w)
    assert len(set(hard.tolist())) == 2 and float(hard.max()) == -float(hard.min())
    assert torch.equal(q(w, None).detach(), hard)  # straight-through forward: the hard levels
    away = w[w.abs() > 0.01 * float(q.alpha().detach())]
    errors = [float((q(away, t).detach() - q.dequantized(away)).abs().max()) for t in (10.0, 100.0, 10000.0)]
    assert errors[0] > errors[1] > errors[2] and errors[2] < 1e-3 * float(q.alpha().detach())


def test_initialization_does_not_clip_the_largest_weight():
    w = torch.tensor([0.5, -2.0, 1.0, 0.1])
    q = SoftQuantizer(w, 8)
    levels, _ = q.hard(w)
    assert float(q.log_beta.exp()) * 2.0 <= 127.0 + 1e-4  # inside the range: nothing clipped
    assert levels.tolist()[1] in (-127, -126) and abs(levels.tolist()[0]) < 127


def test_temperature_rises_from_start_to_end():
    assert temperature_at(0.0) == pytest.approx(10.0) and temperature_at(1.0) == pytest.approx(1000.0)
    assert temperature_at(0.5) == pytest.approx(100.0)


def test_straight_through_forward_is_the_hard_quantizer():
    w = torch.randn(50, requires_grad=True)
    q = SoftQuantizer(w, 4)
    y = q(w, None)
    assert torch.equal(y.detach(), q.dequantized(w))
    y.sum().backward()
    assert torch.isfinite(w.grad).all() and (w.grad != 0).any()
