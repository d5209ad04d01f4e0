"""Classic codecs run live in their stated configuration, and the bpp-target search is honest."""
from __future__ import annotations

import numpy as np
import pytest

from inrcodec.baselines import available_codecs, search_quality
from inrcodec.metrics import psnr

HAVE, MISSING = available_codecs()


@pytest.mark.parametrize("name", sorted(HAVE))
def test_each_codec_round_trips_rgb_and_grey(name, small_image):
    codec = HAVE[name]
    for image in (small_image, np.ascontiguousarray(small_image[:, :, 1:2])):
        lo_q, hi_q = codec.qualities[1], codec.qualities[-2]
        small, out_lo = codec.run(image, lo_q)
        big, out_hi = codec.run(image, hi_q)
        assert out_hi.shape == image.shape and out_hi.dtype == np.uint8
        assert len(big) > len(small)  # the knob really moves the rate
        assert psnr(image, out_hi) > psnr(image, out_lo)
        assert codec.config


def test_jpeg2000_is_the_lossy_9_7_configuration(small_image):
    """Read the codestream's COD marker: multiple component transform on, 9/7 irreversible wavelet."""
    data = HAVE["jpeg2000"].encode(small_image, 1000)
    cod = data.index(b"\xff\x52")
    scod_end = cod + 4 + 1  # marker, Lcod, Scod
    mct = data[scod_end + 3]  # after progression order (1) and layer count (2)
    transform = data[scod_end + 4 + 4]  # SPcod: levels, block width, block height, block style, transform
    assert (mct, transform) == (1, 0)


@pytest.mark.parametrize("name", ["jpeg-444", "jpeg2000", "webp"])
def test_search_finds_the_largest_quality_within_budget(name, kodim23):
    codec = HAVE[name]
    image = kodim23[:128, :192]
    pixels = 128 * 192
    q, data, _ = search_quality(codec, image, 0.5)
    assert len(data) * 8 / pixels <= 0.5
    if q < codec.knob_range[1]:
        assert len(codec.encode(image, q + 1)) * 8 / pixels > 0.5


def test_unreachable_budget_gives_none(kodim23):
    assert search_quality(HAVE["jpeg-444"], kodim23[:64, :64], 0.001) is None
