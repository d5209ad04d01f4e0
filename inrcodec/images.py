"""Reading and writing images and files: the one place that knows about Pillow and paths.

Input policy (documented in the README):
- 8-bit RGB and greyscale are coded as they are (3 or 1 channels).
- Palette, bilevel, CMYK, YCbCr and other 8-bit colour modes are converted to RGB/grey
  with Pillow's colour conversion.
- An alpha channel that is fully opaque is dropped; any real transparency is refused.
- 16-bit and floating-point images are refused (the codec is 8-bit), in every format: convert
  them first.
"""
from __future__ import annotations

import io
import os
import re
import signal
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from .errors import DataError


class ImageError(DataError):
    """The input is not an image this codec can take."""


MAX_INPUT_PIXELS = 1 << 26  # what Pillow may decode at all; the encoder's own limit is lower


def _source_bits(img: Image.Image, data: bytes) -> int:
    """Bits per sample the file stores, before Pillow reduces any of it to 8 (checked for
    PNG, TIFF and PNM, whose 16-bit RGB Pillow silently keeps only the high byte of)."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 25 and data[12:16] == b"IHDR":
        return data[24]
    if img.format == "TIFF":
        per_sample = img.tag_v2.get(258, (8,))
        return max(per_sample) if isinstance(per_sample, tuple) else int(per_sample)
    for tile in getattr(img, "tile", []) or []:
        args = tile.args if hasattr(tile, "args") else tile[3]
        if tile[0] == "ppm" and isinstance(args, tuple) and len(args) > 1 and args[1] > 255:
            return 16
        rawmode = args[0] if isinstance(args, tuple) else args
        if isinstance(rawmode, str) and any(t in rawmode for t in (";16", ";32", "F;")):
            return 16
    return 8


def decode_image_bytes(data: bytes, name: str = "input", max_pixels: int = MAX_INPUT_PIXELS) -> np.ndarray:
    """Decode image file bytes into an (H, W, C) uint8 array with C in {1, 3}.

    The size is checked against ``max_pixels`` from the header, before decoding.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own limit speaks instead
        try:
            img = Image.open(io.BytesIO(data))
        except Image.DecompressionBombError:
            raise ImageError(f"{name}: image too large (over {max_pixels} pixels)") from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
            raise ImageError(f"{name}: not an image format this tool reads") from None
        if img.size[0] * img.size[1] > max_pixels:
            raise ImageError(f"{name}: a {img.size[0]}x{img.size[1]} image exceeds the limit of {max_pixels} pixels "
                             "(raise it with --max-pixels)")
        if _source_bits(img, data) > 8:
            raise ImageError(f"{name}: images of more than 8 bits per sample are not supported "
                             "(the codec is 8-bit); convert to 8-bit first")
        try:
            img.load()
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
            raise ImageError(f"{name}: the image data is damaged or truncated ({_clean(exc)})") from None
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


def _clean(exc: Exception) -> str:
    """An exception's message without object reprs such as <_io.BytesIO object at 0x...>."""
    return re.sub(r"\s*<[^>]* at 0x[0-9a-f]+>", "", str(exc)).strip() or type(exc).__name__


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


def check_output(path: str, force: bool = False) -> None:
    """Refuse, before any work, an output that could not be written: an existing file without
    ``force``, a directory, a missing or unwritable folder, or a terminal for binary data."""
    if path == "-":
        if sys.stdout.isatty():
            raise OutputError("refusing to write binary data to a terminal; redirect stdout or use -o FILE")
        return
    target = Path(path)
    if target.is_dir():
        raise OutputError(f"{path} is a directory")
    if target.exists() and not force:
        raise OutputError(f"{path} exists; use --force to overwrite")
    folder = target.parent
    if not folder.is_dir():
        raise OutputError(f"{path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"{path}: folder {folder} is not writable")


class OutputError(DataError):
    """An output path that cannot be written as asked."""


def _new_file_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def write_output(path: str, data: bytes, force: bool = False) -> None:
    """Write ``data`` to ``path`` (``-`` = stdout) atomically: temp file, fsync, then rename.

    Without ``force`` the destination is created exclusively (a hard link, so two writers
    cannot both succeed); with it, an existing file is replaced and keeps its mode. A new file
    gets the mode a plain write would (0666 less the umask). Any failure or signal that
    raises leaves neither a partial output nor a temp file.
    """
    if path == "-":
        check_output(path)
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    target = Path(path)
    check_output(path, force)
    mode = (target.stat().st_mode & 0o7777) if force and target.exists() else _new_file_mode()
    # SIGINT and SIGTERM wait until the temp file is gone: they act after this function, on a
    # complete output or none (raising from a signal handler inside native code can abort).
    blocked = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, blocked) if _main_thread() else None
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fchmod(f.fileno(), mode)
            os.fsync(f.fileno())
        if force:
            os.replace(tmp, target)
            return
        try:
            os.link(tmp, target)
        except FileExistsError:
            raise OutputError(f"{path} exists; use --force to overwrite") from None
        except OSError:  # a filesystem without hard links: claim the name, then rename over it
            try:
                os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, mode))
            except FileExistsError:
                raise OutputError(f"{path} exists; use --force to overwrite") from None
            os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)
        if previous is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread() and hasattr(signal, "pthread_sigmask")


def output_paths(inputs: list[str], output: str | None, suffix: str) -> list[str]:
    """Where each input's result goes: ``-o`` as a file (one input), a folder (an existing
    directory or a name ending in ``/``; each file is the input's stem with the last part of
    ``suffix``), or, without ``-o``, beside the input with ``suffix`` in place of its suffix
    (``-`` for standard input). Raises OptionError on ambiguity."""
    from .errors import OptionError

    if "-" in inputs and len(inputs) > 1:
        raise OptionError("- (standard input) can only be the sole input")
    if output is None:
        outs = ["-" if i == "-" else str(Path(i).with_suffix(suffix)) for i in inputs]
    elif output == "-" or (len(inputs) == 1 and not output.endswith(("/", os.sep)) and not Path(output).is_dir()):
        if len(inputs) > 1:
            raise OptionError("-o - writes one stream; with several inputs give a folder")
        outs = [output]
    else:
        if not Path(output).is_dir() and not output.endswith(("/", os.sep)):
            raise OptionError(f"-o {output}: with several inputs, -o must be a folder (end it with /)")
        if "-" in inputs:
            raise OptionError("standard input has no name to put in a folder; give -o FILE")
        outs = [str(Path(output) / (Path(i).stem + Path("x" + suffix).suffix)) for i in inputs]
    seen: dict[str, str] = {}
    for i, o in zip(inputs, outs):
        if o != "-" and o in seen:
            raise OptionError(f"{seen[o]} and {i} would both be written to {o}")
        if o != "-" and Path(o).resolve() == Path(i).resolve():
            raise OptionError(f"{i}: the output would overwrite the input")
        seen[o] = i
    return outs
