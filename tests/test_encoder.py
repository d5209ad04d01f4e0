"""The public encode on real images: round trip, bpp is the file, budgets honoured, errors typed."""
from __future__ import annotations

import numpy as np
import pytest

from inrcodec.decoder import decode
from inrcodec.encoder import encode
from inrcodec.errors import DataError, OptionError
from inrcodec.methods import EncodeOptions
from inrcodec.metrics import psnr


def test_round_trip_is_close_and_bpp_is_file_size(small_image):
    res = encode(small_image, EncodeOptions(method="coin", bpp=4.0, steps=300))
    h, w, _ = small_image.shape
    assert res.bpp == len(res.data) * 8 / (h * w)
    out = decode(res.data)
    assert out.shape == small_image.shape
    assert abs(psnr(out, small_image) - res.psnr) < 1e-9
    assert res.psnr > 18  # a 40x56 crop after 300 steps at lr 1e-3 reaches ~20 dB; noise is ~11 dB
    assert res.steps == 300 and res.summary()["bytes"] == len(res.data)


def test_budget_is_never_exceeded_and_mostly_used(small_image):
    for bpp in (1.5, 3.0, 6.0):
        res = encode(small_image, EncodeOptions(method="coin", bpp=bpp, steps=20))
        assert 0.6 * bpp < res.bpp <= bpp, (bpp, res.bpp, res.config)


def test_the_same_steps_and_seed_give_the_same_file(small_image):
    a = encode(small_image, EncodeOptions(method="coin", bpp=3.0, steps=40, seed=3))
    b = encode(small_image, EncodeOptions(method="coin", bpp=3.0, steps=40, seed=3))
    assert a.data == b.data


def test_grey_and_tiny_images():
    grey = (np.arange(35, dtype=np.uint8).reshape(5, 7, 1) * 7)
    res = encode(grey, EncodeOptions(method="coin", bpp=None, method_options={"arch": (2, 4), "bits": 8}, steps=50))
    assert decode(res.data).shape == (5, 7, 1)
    one = np.array([[[200, 10, 30]]], np.uint8)
    res = encode(one, EncodeOptions(method="coin", bpp=None, method_options={"arch": (1, 2), "bits": 8}, steps=3000))
    assert np.abs(decode(res.data).astype(int) - one).max() <= 8  # Adam moves ~lr a step


@pytest.mark.parametrize("options", [
    EncodeOptions(bpp=-1), EncodeOptions(bpp=float("inf")), EncodeOptions(bpp=float("nan")), EncodeOptions(bpp=1e9),
    EncodeOptions(method="jpeg"), EncodeOptions(effort="slow"), EncodeOptions(seed=1 << 64), EncodeOptions(steps=0),
])
def test_impossible_options_are_option_errors(small_image, options):
    with pytest.raises(OptionError):
        encode(small_image, options)


def test_data_that_cannot_be_coded_is_a_data_error(small_image):
    with pytest.raises(DataError, match="too small"):
        encode(small_image, EncodeOptions(method="coin", bpp=0.01, steps=1))
    with pytest.raises(DataError, match="limit of 1000 pixels"):
        encode(small_image, EncodeOptions(method="coin", bpp=1.0, steps=1, max_pixels=1000))


def test_renders_are_few_whatever_the_step_count(small_image, monkeypatch):
    import inrcodec.siren as siren

    calls = []
    real = siren.render
    monkeypatch.setattr(siren, "render", lambda *a, **k: calls.append(1) or real(*a, **k))
    encode(small_image, EncodeOptions(method="coin", bpp=2.0, steps=5))
    assert len(calls) <= 9  # at most 7 scored snapshots, the final check and nothing per step


@pytest.mark.slow
def test_4096_square_image_encodes_and_decodes():
    """Large images: chunked rendering keeps memory bounded (fast twin: test_grey_and_tiny_images)."""
    rng = np.random.default_rng(0)
    img = np.repeat(np.repeat(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8), 64, 0), 64, 1)
    res = encode(img, EncodeOptions(method="coin", bpp=None, method_options={"arch": (2, 8), "bits": 8}, steps=2))
    assert decode(res.data).shape == (4096, 4096, 3)
