"""Input policy: what is coded as is, converted, or refused -- never silently wrong."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from inrcodec.errors import OptionError
from inrcodec.images import ImageError, OutputError, decode_image_bytes, encode_png, output_paths, write_output


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


def _tiff16_rgb() -> bytes:
    import tifffile

    buf = io.BytesIO()
    tifffile.imwrite(buf, (np.arange(8 * 8 * 3).reshape(8, 8, 3) * 300).astype(np.uint16), photometric="rgb")
    return buf.getvalue()


@pytest.mark.parametrize("data", [
    _png(Image.fromarray(np.arange(64, dtype=np.uint16).reshape(8, 8) * 1000)),  # 16-bit grey PNG
    _tiff16_rgb(),  # Pillow would keep only the high byte of each sample
    b"P6\n8 8\n65535\n" + (np.arange(192, dtype=">u2") * 300).tobytes(),  # 16-bit PPM, likewise
    b"P6\n8 8\n1023\n" + (np.arange(192, dtype=">u2") * 5).tobytes(),  # 10-bit PPM
])
def test_more_than_8_bits_is_refused_in_every_format(data):
    with pytest.raises(ImageError, match="more than 8 bits|16-bit"):
        decode_image_bytes(data, name="x")


def test_pixel_limit_is_checked_before_decoding():
    with pytest.raises(ImageError, match="exceeds the limit of 100 pixels"):
        decode_image_bytes(_png(Image.new("RGB", (20, 20))), max_pixels=100)


@pytest.mark.parametrize("data", [b"", b"not an image", b"INR\x01\x00\x00", b"\x89PNG\r\n\x1a\n broken"])
def test_garbage_is_refused_with_a_clean_message(data):
    with pytest.raises(ImageError) as info:
        decode_image_bytes(data, name="x")
    assert str(info.value).startswith("x: ") and " at 0x" not in str(info.value)


def test_png_output_is_deterministic(small_image):
    assert encode_png(small_image) == encode_png(small_image.copy())


def test_write_output_is_atomic_and_safe(tmp_path):
    target = tmp_path / "out.bin"
    write_output(str(target), b"one")
    with pytest.raises(OutputError, match="exists"):
        write_output(str(target), b"two")
    assert target.read_bytes() == b"one"
    write_output(str(target), b"two", force=True)
    assert target.read_bytes() == b"two"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]  # no temp files left


def test_concurrent_writers_cannot_both_create_the_file(tmp_path):
    """The no-overwrite check is the creation itself: of writers released together, one wins."""
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    for trial in range(10):
        target = tmp_path / f"race{trial}.bin"
        barrier = ctx.Barrier(4)
        results = ctx.Queue()
        procs = [ctx.Process(target=_race_writer, args=(str(target), barrier, results, i)) for i in range(4)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(30)
        outcomes = sorted(results.get(timeout=5) for _ in procs)
        assert outcomes.count("ok") == 1, outcomes
        assert target.read_bytes() in {b"writer %d" % i for i in range(4)}
    assert not list(tmp_path.glob(".*.tmp"))


def _race_writer(path: str, barrier, results, i: int) -> None:
    barrier.wait()
    try:
        write_output(path, b"writer %d" % i)
        results.put("ok")
    except OutputError:
        results.put("exists")


def test_output_paths(tmp_path):
    assert output_paths(["a.png"], None, ".inr") == ["a.inr"]
    assert output_paths(["d/a.inr"], None, ".inr.png") == ["d/a.inr.png"]
    assert output_paths(["-"], None, ".inr") == ["-"]
    assert output_paths(["a.png", "b.png"], "out/", ".inr") == ["out/a.inr", "out/b.inr"]
    assert output_paths(["x/a.inr"], str(tmp_path), ".inr.png") == [str(tmp_path / "a.png")]
    for inputs, out in ((["x/a.png", "y/a.png"], "out/"), (["a.png", "b.png"], "one.inr"), (["-", "a.png"], None),
                        (["a.png"], "a.png")):
        with pytest.raises(OptionError):
            output_paths(inputs, out, ".inr")
