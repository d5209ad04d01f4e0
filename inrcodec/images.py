"""Reading and writing images and files: the one place that knows about Pillow and paths.

Input policy (documented in the README):
- 8-bit RGB and greyscale are coded as they are (3 or 1 channels).
- Palette, bilevel, CMYK, YCbCr and other 8-bit colour modes are converted to RGB/grey
  with Pillow's colour conversion.
- An alpha channel that is fully opaque is dropped; any real transparency is refused.
- 16-bit and floating-point images are refused (the codec is 8-bit): convert them first.
"""
from __future__ import annotations

import io
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError


class ImageError(ValueError):
    """The input is not an image this codec can take."""


def _png_bit_depth(data: bytes) -> int | None:
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 25 and data[12:16] == b"IHDR":
        return data[24]
    return None


def decode_image_bytes(data: bytes, name: str = "input") -> np.ndarray:
    """Decode image file bytes into an (H, W, C) uint8 array with C in {1, 3}."""
    if _png_bit_depth(data) == 16:
        raise ImageError(f"{name}: 16-bit images are not supported (the codec is 8-bit); convert to 8-bit first")
    try:
        img = Image.open(io.BytesIO(data))
        img.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"{name}: not a readable image ({exc})") from None
    mode = img.mode
    if mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        raise ImageError(f"{name}: {mode} (16-bit or float) images are not supported; convert to 8-bit first")
    if mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    elif mode == "1":
        img = img.convert("L")
    elif mode == "PA":
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "La", "RGBa"):
        alpha = np.asarray(img.getchannel("A"))
        if alpha.min() < 255:
            raise ImageError(f"{name}: images with transparency are not supported; flatten the alpha channel first")
        img = img.convert("L" if img.mode in ("LA", "La") else "RGB")
    elif img.mode not in ("RGB", "L"):
        img = img.convert("RGB")
    arr = np.asarray(img, dtype=np.uint8)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ImageError(f"{name}: empty image")
    return np.ascontiguousarray(arr)


def encode_png(image: np.ndarray, fmt: str = "PNG") -> bytes:
    """Encode an (H, W, C) uint8 array as PNG (or another Pillow format) bytes, deterministically."""
    arr = image[:, :, 0] if image.shape[2] == 1 else image
    buf = io.BytesIO()
    Image.fromarray(arr, mode="L" if image.shape[2] == 1 else "RGB").save(buf, format=fmt)
    return buf.getvalue()


def read_input(path: str) -> bytes:
    """Bytes of ``path``, or of standard input for ``-``."""
    if path == "-":
        return sys.stdin.buffer.read()
    return Path(path).read_bytes()


def write_output(path: str, data: bytes, force: bool = False) -> None:
    """Write ``data`` to ``path`` (``-`` = stdout) atomically: temp file, fsync, rename.

    An existing file is only replaced with ``force``; a failure leaves nothing behind.
    """
    if path == "-":
        if sys.stdout.isatty():
            raise FileExistsError("refusing to write binary data to a terminal; redirect stdout or use -o FILE")
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    target = Path(path)
    if target.exists() and not force:
        raise FileExistsError(f"{path} exists; use --force to overwrite")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent or ".")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
