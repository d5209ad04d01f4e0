"""Datasets: Kodak from a local directory or a checksummed download; any folder of images.

Where images come from, in order: the ``data_dir`` argument, the ``INRCODEC_DATA``
environment variable (a directory holding ``kodak/`` or the Kodak PNGs themselves), the user
cache (``~/.cache/inrcodec/kodak``), and only then a download from the original source. Every
Kodak file is checked against the SHA256 sums shipped in ``inrcodec/data/kodak.sha256``.
"""
from __future__ import annotations

import hashlib
import os
import urllib.request
from importlib import resources
from pathlib import Path

from .errors import DataError

KODAK_URL = "https://r0k.us/graphics/kodak/kodak/{name}"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".ppm", ".pgm", ".bmp", ".tif", ".tiff", ".webp")


class DatasetError(DataError):
    """A dataset is missing, incomplete or corrupted (the message names the file)."""


def kodak_checksums() -> dict[str, str]:
    """File name -> SHA256 of the 24 Kodak PNGs (768x512 / 512x768, the r0k.us originals)."""
    text = resources.files("inrcodec").joinpath("data/kodak.sha256").read_text()
    return {name: digest for digest, name in (line.split() for line in text.splitlines() if line.strip())}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _candidate_dirs(data_dir: str | os.PathLike | None) -> list[Path]:
    dirs = []
    for base in (data_dir, os.environ.get("INRCODEC_DATA")):
        if base:
            dirs += [Path(base) / "kodak", Path(base)]
    dirs.append(Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "inrcodec" / "kodak")
    return dirs


def kodak(data_dir: str | os.PathLike | None = None, download: bool = True,
          names: list[str] | None = None) -> list[Path]:
    """Paths of the Kodak images (all 24, or ``names`` like ``["kodim01", "kodim05"]``), verified.

    Raises :class:`DatasetError` naming the first missing or corrupted file.
    """
    sums = kodak_checksums()
    wanted = sorted(sums) if names is None else [n if n.endswith(".png") else f"{n}.png" for n in names]
    for n in wanted:
        if n not in sums:
            raise DatasetError(f"{n} is not a Kodak image (kodim01..kodim24)")
    explicit = data_dir is not None or bool(os.environ.get("INRCODEC_DATA"))
    for d in _candidate_dirs(data_dir):
        if all((d / n).exists() for n in wanted):
            for n in wanted:
                if _sha256(d / n) != sums[n]:
                    raise DatasetError(f"{d / n}: SHA256 mismatch (corrupted or not the original Kodak file)")
            return [d / n for n in wanted]
    if explicit or not download:
        where = data_dir or os.environ.get("INRCODEC_DATA")
        missing = next(n for n in wanted if not any((d / n).exists() for d in _candidate_dirs(data_dir)))
        raise DatasetError(f"{missing}: not found in {where or 'the cache'} (Kodak needs kodim01..24.png)")
    cache = _candidate_dirs(None)[-1]
    cache.mkdir(parents=True, exist_ok=True)
    for n in wanted:
        target = cache / n
        if target.exists() and _sha256(target) == sums[n]:
            continue
        tmp = target.with_suffix(".part")
        try:
            urllib.request.urlretrieve(KODAK_URL.format(name=n), tmp)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise DatasetError(f"{n}: download from {KODAK_URL.format(name=n)} failed ({exc})") from None
        if _sha256(tmp) != sums[n]:
            tmp.unlink(missing_ok=True)
            raise DatasetError(f"{n}: downloaded file fails its SHA256 check")
        tmp.replace(target)
    return [cache / n for n in wanted]


def image_folder(folder: str | os.PathLike) -> list[Path]:
    """Image files in a folder (not recursive), sorted by name."""
    paths = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not paths:
        raise DatasetError(f"{folder}: no images found")
    return paths
