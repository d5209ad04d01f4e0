"""Datasets: Kodak, the BSDS500 test photos and MNIST from a local directory or a checksummed
download; any folder of images.

Where files come from, in order: the ``data_dir`` argument, the ``INRCODEC_DATA`` environment
variable (a directory holding ``kodak/``, ``bsds500/test/`` or ``mnist/``, or the files themselves), the user cache
(``~/.cache/inrcodec/<dataset>``), and only then a download from the original source (never
when a directory was named). Every file is checked against the SHA256 sums shipped in
``inrcodec/data/<dataset>.sha256``.
"""
from __future__ import annotations

import gzip
import hashlib
import math
import os
import struct
import urllib.request
from importlib import resources
from pathlib import Path

import numpy as np

from .errors import DataError

KODAK_URL = "https://r0k.us/graphics/kodak/kodak/{name}"
MNIST_URL = "https://storage.googleapis.com/cvdf-datasets/mnist/{name}"
# The Berkeley release of BSDS500 is one archive; only its 200 test photos are extracted.
BSDS500_URL = "https://www2.eecs.berkeley.edu/Research/Projects/CS/vision/grouping/BSR/BSR_bsds500.tgz"
BSDS500_TEST_MEMBER = "BSR/BSDS500/data/images/test/"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".ppm", ".pgm", ".bmp", ".tif", ".tiff", ".webp")


class DatasetError(DataError):
    """A dataset is missing, incomplete or corrupted (the message names the file)."""


def _checksums(name: str) -> dict[str, str]:
    text = resources.files("inrcodec").joinpath(f"data/{name}.sha256").read_text()
    return {file: digest for digest, file in (line.split() for line in text.splitlines() if line.strip())}


def kodak_checksums() -> dict[str, str]:
    """File name -> SHA256 of the 24 Kodak PNGs (768x512 / 512x768, the r0k.us originals)."""
    return _checksums("kodak")


def mnist_checksums() -> dict[str, str]:
    """File name -> SHA256 of the four MNIST idx gzip files."""
    return _checksums("mnist")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _candidate_dirs(dataset: str, data_dir: str | os.PathLike | None) -> list[Path]:
    """``dataset`` is a relative folder such as ``kodak`` or ``bsds500/test``."""
    dirs = []
    parts = Path(dataset).parts
    for base in (data_dir, os.environ.get("INRCODEC_DATA")):
        if base:
            dirs += [Path(base, *parts[k:]) for k in range(len(parts))] + [Path(base)]
    dirs.append(Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "inrcodec" / dataset)
    return dirs


def _verified_files(dataset: str, wanted: list[str], sums: dict[str, str], url: str,
                    data_dir: str | os.PathLike | None, download: bool, hint: str) -> list[Path]:
    """Paths of ``wanted`` files of a dataset: from the first directory holding them all (each
    checked against ``sums``), else downloaded into the cache from ``url`` (a format string
    with ``{name}``, or an archive for :func:`_fetch_archive`), unless a directory was named or
    ``download`` is false."""
    explicit = data_dir is not None or bool(os.environ.get("INRCODEC_DATA"))
    for d in _candidate_dirs(dataset, data_dir):
        if all((d / n).exists() for n in wanted):
            for n in wanted:
                if _sha256(d / n) != sums[n]:
                    raise DatasetError(f"{d / n}: SHA256 mismatch (corrupted or not the original {dataset} file)")
            return [d / n for n in wanted]
    if explicit or not download:
        where = data_dir or os.environ.get("INRCODEC_DATA")
        missing = next(n for n in wanted if not any((d / n).exists() for d in _candidate_dirs(dataset, data_dir)))
        raise DatasetError(f"{missing}: not found in {where or 'the cache'} ({hint})")
    cache = _candidate_dirs(dataset, None)[-1]
    cache.mkdir(parents=True, exist_ok=True)
    if "{name}" not in url:
        _fetch_archive(url, cache, [n for n in wanted if not ((cache / n).exists() and _sha256(cache / n) == sums[n])])
    for n in wanted:
        target = cache / n
        if target.exists() and _sha256(target) == sums[n]:
            continue
        tmp = target.with_name(target.name + ".part")
        try:
            urllib.request.urlretrieve(url.format(name=n), tmp)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise DatasetError(f"{n}: download from {url.format(name=n)} failed ({exc})") from None
        if _sha256(tmp) != sums[n]:
            tmp.unlink(missing_ok=True)
            raise DatasetError(f"{n}: downloaded file fails its SHA256 check")
        tmp.replace(target)
    return [cache / n for n in wanted]


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
    return _verified_files("kodak", wanted, sums, KODAK_URL, data_dir, download, "Kodak needs kodim01..24.png")


def _fetch_archive(url: str, cache: Path, names: list[str]) -> None:
    """Download the BSDS500 archive and extract the test photos ``names`` into ``cache`` (regular
    files under BSDS500_TEST_MEMBER only; nothing else of the archive is written)."""
    import tarfile
    import tempfile

    if not names:
        return
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "archive.tgz"
        try:
            urllib.request.urlretrieve(url, archive)
        except OSError as exc:
            raise DatasetError(f"download from {url} failed ({exc})") from None
        wanted = {BSDS500_TEST_MEMBER + n: n for n in names}
        try:
            with tarfile.open(archive, "r:gz") as tar:
                for member in tar:
                    if member.name in wanted and member.isfile():
                        data = tar.extractfile(member).read()
                        (cache / wanted[member.name]).write_bytes(data)
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise DatasetError(f"{url}: not a readable BSDS500 archive ({exc})") from None


def bsds500_test(data_dir: str | os.PathLike | None = None, download: bool = True) -> list[Path]:
    """Paths of the 200 BSDS500 test photos (481x321 or 321x481 JPEGs), verified; never used to
    train anything in this project. ``data_dir`` may hold ``bsds500/test/``, ``test/`` or the files."""
    sums = _checksums("bsds500-test")
    return _verified_files("bsds500/test", sorted(sums), sums, BSDS500_URL, data_dir, download,
                           "the BSDS500 test split has 200 JPEGs")


def mnist(split: str, data_dir: str | os.PathLike | None = None, download: bool = True
          ) -> tuple[np.ndarray, np.ndarray]:
    """MNIST ``split`` ("train": 60k, "test": 10k) as (uint8 images (N, 28, 28), uint8 labels (N,)),
    read from the verified idx gzip files (same sources and rules as :func:`kodak`)."""
    prefix = {"train": "train", "test": "t10k"}.get(split)
    if prefix is None:
        raise DatasetError(f"MNIST has no split {split!r} (train or test)")
    names = [f"{prefix}-images-idx3-ubyte.gz", f"{prefix}-labels-idx1-ubyte.gz"]
    images_path, labels_path = _verified_files("mnist", names, mnist_checksums(), MNIST_URL, data_dir, download,
                                               "MNIST needs the idx gzip files")
    images, labels = _read_idx(images_path, 3), _read_idx(labels_path, 1)
    if images.shape[1:] != (28, 28) or len(images) != len(labels):
        raise DatasetError(f"{images_path}: {images.shape} images for {len(labels)} labels")
    return images, labels


def _read_idx(path: Path, ndim: int) -> np.ndarray:
    """An idx file of unsigned bytes (magic 0x0000 08 ``ndim``, big-endian u32 sizes)."""
    data = gzip.decompress(path.read_bytes())
    if len(data) < 4 + 4 * ndim or data[:4] != bytes([0, 0, 8, ndim]):
        raise DatasetError(f"{path}: not an idx file of {ndim}-d unsigned bytes")
    shape = struct.unpack(f">{ndim}I", data[4:4 + 4 * ndim])
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != math.prod(shape):
        raise DatasetError(f"{path}: {body.size} bytes of data for shape {shape}")
    return body.reshape(shape)


def image_folder(folder: str | os.PathLike) -> list[Path]:
    """Image files in a folder (not recursive), sorted by name."""
    paths = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not paths:
        raise DatasetError(f"{folder}: no images found")
    return paths
