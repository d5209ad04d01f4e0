"""The network: COIN's architectures and rates, and chunk-independent rendering."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from inrcodec.siren import Siren, SirenConfig, coordinate_grid, linear, render, sine_layers


@pytest.mark.parametrize("arch, coin_bpp", [((5, 20), 0.0736), ((5, 30), 0.1604), ((10, 28), 0.3074),
                                            ((10, 40), 0.6109), ((13, 49), 1.209)])
def test_coin_layer_convention_matches_coin_rates(arch, coin_bpp):
    bpp16 = SirenConfig(*arch).num_params() * 16 / (768 * 512)
    assert abs(bpp16 - coin_bpp) / coin_bpp < 0.02


def test_tensor_shapes_follow_the_layers():
    c = SirenConfig(3, 5, out_channels=1)
    assert c.tensor_shapes() == [(5, 2), (5,), (5, 5), (5,), (5, 5), (5,), (1, 5), (1,)]
    assert c.num_params() == sum(int(np.prod(s)) for s in c.tensor_shapes())


def test_coordinates_span_minus_one_to_one():
    g = coordinate_grid(3, 4)
    assert g.shape == (12, 2) and g.min() == -1 and g.max() == 1
    assert torch.equal(coordinate_grid(1, 1), torch.zeros(1, 2))
    assert torch.equal(coordinate_grid(5, 4, slice(2, 4)), coordinate_grid(5, 4)[8:16])


def test_render_does_not_depend_on_chunking():
    model = Siren(SirenConfig(3, 16), torch.Generator().manual_seed(0))
    full = render(model, 37, 23, chunk_pixels=1 << 20)
    assert full.shape == (37, 23, 3) and full.dtype == np.uint8
    assert np.array_equal(full, render(model, 37, 23, chunk_pixels=50))


def test_infer_matches_forward_bit_for_bit() -> None:
    model = Siren(SirenConfig(4, 24), torch.Generator().manual_seed(3))
    x = coordinate_grid(17, 23)
    with torch.no_grad():
        assert torch.equal(model.infer(x), model(x))


def test_strided_render_is_the_full_render_subsampled():
    torch.manual_seed(0)
    model = Siren(SirenConfig(2, 8))
    full = render(model, 37, 23)
    for stride in (2, 3, 5):
        assert np.array_equal(render(model, 37, 23, chunk_pixels=40, stride=stride), full[::stride, ::stride])


def test_fourier_inputs_are_coordinates_then_sines_then_cosines():
    coords = coordinate_grid(3, 5)
    x = Siren(SirenConfig(2, 4, frequencies=3)).inputs(coords)
    assert x.shape == (15, 2 + 4 * 3) and torch.equal(x[:, :2], coords)
    f = float(np.float32(np.pi * 1.3984375))  # the second frequency, pi x 1.4 in bfloat16
    assert torch.allclose(x[:, 2 + 1], torch.sin(coords[:, 0] * f))  # y's second frequency
    assert torch.allclose(x[:, 2 + 3 + 1], torch.sin(coords[:, 1] * f))  # then x's
    assert torch.allclose(x[:, 2 + 6:] ** 2 + x[:, 2:8] ** 2, torch.ones(15, 6), atol=1e-6)  # cos after sin


def test_fourier_network_shapes_and_cost():
    cfg = SirenConfig(4, 10, frequencies=16)
    assert cfg.layer_shapes()[0] == (10, 66) and cfg.describe() == "4x10+f16"
    assert cfg.macs_per_pixel() == 66 * 10 + 3 * 100 + 3 * 10 + 64
    model = Siren(cfg)
    coords = coordinate_grid(4, 6)
    assert torch.equal(model(coords), model.infer(coords)) and torch.equal(model(coords), model.body(model.inputs(coords)))


def test_bf16_body_is_close_to_float_and_keeps_the_first_layer_in_float():
    torch.manual_seed(0)
    model = Siren(SirenConfig(3, 32, frequencies=4), generator=torch.Generator().manual_seed(0))
    h = model.inputs(coordinate_grid(16, 24))
    exact, mixed = model.body(h), model.body(h, bf16=True)
    assert exact.dtype == mixed.dtype == torch.float32
    assert 0 < (exact - mixed).abs().max() < 0.05  # bfloat16 products: close, not equal
    w, b = model.layers[0].weight, model.layers[0].bias
    assert torch.equal(sine_layers(h, [w], [b], 30.0, bf16=True), model.layers[0](h))  # coordinates stay float32
    x = torch.rand(8, 32)
    assert torch.equal(linear(x, model.layers[1].weight, model.layers[1].bias), model.layers[1](x))
