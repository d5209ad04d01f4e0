"""Rate control: per-tensor bit depths and network sizing."""
from __future__ import annotations

from inrcodec.ratecontrol import FIRST_LAYER_BITS, largest_fitting_bits, plan_architecture, tensor_bits
from inrcodec.siren import SirenConfig


def test_first_layer_keeps_its_bits_unless_uniform():
    cfg = SirenConfig(3, 12)
    assert tensor_bits(cfg, 8) == [FIRST_LAYER_BITS] * 2 + [8] * 6
    assert tensor_bits(cfg, 8, uniform=True) == [8] * 8
    assert tensor_bits(cfg, 16) == [16] * 8  # above FIRST_LAYER_BITS every tensor gets the depth


def test_mixed_plan_pays_for_the_first_layer():
    for rate in (0.07, 0.3, 1.2):
        mixed = plan_architecture(rate, 512, 768, 3, 6)
        uniform = plan_architecture(rate, 512, 768, 3, 6, uniform=True)
        assert mixed.hidden_layers == uniform.hidden_layers and mixed.width <= uniform.width
    # 3 x 32 first-layer weights 8 bits dearer: one column less at 0.07 bpp (6-bit weights)
    assert plan_architecture(0.07, 512, 768, 3, 6).width < plan_architecture(0.07, 512, 768, 3, 6, uniform=True).width
    # 16 bits: nothing to pay, COIN's 10x28 at 0.3 bpp
    assert plan_architecture(0.3, 512, 768, 3, 16) == plan_architecture(0.3, 512, 768, 3, 16, uniform=True)


def test_largest_fitting_bits_searches_down():
    sizes = {b: 100 * b for b in range(2, 17)}
    assert largest_fitting_bits(sizes.__getitem__, 1000) == 10
    assert largest_fitting_bits(sizes.__getitem__, 150) is None
