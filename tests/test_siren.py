"""The network: COIN's architectures and rates, and chunk-independent rendering."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from inrcodec.siren import Siren, SirenConfig, coordinate_grid, render


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
