"""Input policy: what is coded as is, converted, or refused -- never silently wrong."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from inrcodec.images import ImageError, decode_image_bytes, encode_png, write_output


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def test_rgb_and_grey_are_kept(small_image):
    assert np.array_equal(decode_image_bytes(_png(Image.fromarray(small_image))), small_image)
    grey = small_image[:, :, 1]
    out = decode_image_bytes(_png(Image.fromarray(grey)))
    assert out.shape == grey.shape + (1,) and np.array_equal(out[:, :, 0], grey)


def test_palette_is_expanded_exactly(small_image):
    pal = Image.fromarray(small_image).quantize(16)
    assert np.array_equal(decode_image_bytes(_png(pal)), np.asarray(pal.convert("RGB")))


def test_opaque_alpha_is_dropped_and_real_alpha_refused(small_image):
    rgba = np.dstack([small_image, np.full(small_image.shape[:2], 255, np.uint8)])
    assert np.array_equal(decode_image_bytes(_png(Image.fromarray(rgba))), small_image)
    rgba[0, 0, 3] = 10
    with pytest.raises(ImageError, match="transparency"):
        decode_image_bytes(_png(Image.fromarray(rgba)))


def test_sixteen_bit_is_refused():
    img16 = Image.fromarray(np.arange(64, dtype=np.uint16).reshape(8, 8) * 1000)
    with pytest.raises(ImageError, match="16-bit"):
        decode_image_bytes(_png(img16))


@pytest.mark.parametrize("data", [b"", b"not an image", b"INR\x01\x00\x00"])
def test_garbage_is_refused(data):
    with pytest.raises(ImageError):
        decode_image_bytes(data, name="x")


def test_png_output_is_deterministic(small_image):
    assert encode_png(small_image) == encode_png(small_image.copy())


def test_write_output_is_atomic_and_safe(tmp_path):
    target = tmp_path / "out.bin"
    write_output(str(target), b"one")
    with pytest.raises(FileExistsError):
        write_output(str(target), b"two")
    assert target.read_bytes() == b"one"
    write_output(str(target), b"two", force=True)
    assert target.read_bytes() == b"two"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]  # no temp files left
