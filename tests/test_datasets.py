"""Kodak and MNIST loaders: local directory and environment variable, checksums, clear errors; no network."""
from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest

from inrcodec.datasets import DatasetError, image_folder, kodak, kodak_checksums, mnist, mnist_checksums

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def test_checksums_cover_the_24_images():
    sums = kodak_checksums()
    assert sorted(sums) == [f"kodim{i:02d}.png" for i in range(1, 25)]


def test_local_directory_and_env_var(tmp_path, monkeypatch):
    shutil.copy(SAMPLES / "kodim23.png", tmp_path / "kodim23.png")
    assert kodak(tmp_path, names=["kodim23"]) == [tmp_path / "kodim23.png"]
    monkeypatch.setenv("INRCODEC_DATA", str(tmp_path))
    assert kodak(names=["kodim23"]) == [tmp_path / "kodim23.png"]


def test_missing_and_corrupted_files_are_named(tmp_path):
    with pytest.raises(DatasetError, match="kodim05.png"):
        kodak(tmp_path, names=["kodim05"])
    bad = tmp_path / "kodim05.png"
    bad.write_bytes((SAMPLES / "kodim05.png").read_bytes()[:-10])
    with pytest.raises(DatasetError, match="kodim05.png: SHA256 mismatch"):
        kodak(tmp_path, names=["kodim05"])
    with pytest.raises(DatasetError, match="not a Kodak image"):
        kodak(tmp_path, names=["lena"])


def test_shipped_samples_are_the_original_kodak_files():
    assert kodak(SAMPLES, names=["kodim05", "kodim15", "kodim23"])[0].name == "kodim05.png"


def test_image_folder(tmp_path):
    with pytest.raises(DatasetError):
        image_folder(tmp_path)
    shutil.copy(SAMPLES / "kodim23.png", tmp_path / "b.png")
    (tmp_path / "notes.txt").write_text("x")
    assert [p.name for p in image_folder(tmp_path)] == ["b.png"]


def test_mnist_checksums_are_the_originals():
    assert mnist_checksums()["t10k-labels-idx1-ubyte.gz"] == (
        "b91679a0acfe4ba0e50a2437a903084cba1f5f92592b016a25a7dfd00455798b")
    assert len(mnist_checksums()) == 4


def test_mnist_test_split_from_a_local_directory(mnist_dir):
    images, labels = mnist("test", mnist_dir)
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert labels[:5].tolist() == [7, 2, 1, 0, 4] and set(np.unique(labels).tolist()) == set(range(10))


def test_mnist_missing_and_corrupt_files_are_named(tmp_path, mnist_dir):
    with pytest.raises(DatasetError, match="t10k-images-idx3-ubyte.gz: not found"):
        mnist("test", tmp_path)
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copy(mnist_dir / name, tmp_path / name)
    data = bytearray(gzip.decompress((tmp_path / "t10k-labels-idx1-ubyte.gz").read_bytes()))
    data[-1] ^= 1
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(bytes(data)))
    with pytest.raises(DatasetError, match="t10k-labels-idx1-ubyte.gz: SHA256 mismatch"):
        mnist("test", tmp_path)
    with pytest.raises(DatasetError, match="no split"):
        mnist("validation", tmp_path)


BSDS500 = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "bsds500"


def test_bsds500_test_split_is_checked_and_found_in_a_local_copy(tmp_path):
    from inrcodec.datasets import _checksums, bsds500_test

    sums = _checksums("bsds500-test")
    assert len(sums) == 200 and all(n.endswith(".jpg") for n in sums)
    with pytest.raises(DatasetError, match="100007.jpg: not found"):
        bsds500_test(tmp_path)
    if not (BSDS500 / "test").is_dir():
        pytest.skip("no local BSDS500 copy")
    for base in (BSDS500.parent, BSDS500, BSDS500 / "test"):  # data/, bsds500/ or test/ all work
        paths = bsds500_test(base)
        assert len(paths) == 200 and paths[0].parent == BSDS500 / "test"
    from inrcodec.benchmark import select_images

    assert [p.name for p in select_images("bsds500-test", str(BSDS500), "2")] == sorted(sums)[:2]


def test_bsds500_archive_extraction_writes_only_the_wanted_test_photos(tmp_path):
    """The download path on a local archive (file:// URL): no network, members outside the test
    folder (including a path that climbs out) are never written."""
    import io
    import tarfile

    from inrcodec.datasets import BSDS500_TEST_MEMBER, _fetch_archive

    archive = tmp_path / "BSR.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        for name, data in ((BSDS500_TEST_MEMBER + "100007.jpg", b"photo"), ("BSR/BSDS500/data/images/train/1.jpg", b"x"),
                           (BSDS500_TEST_MEMBER + "../../../../../evil.jpg", b"evil")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    cache = tmp_path / "cache"
    cache.mkdir()
    _fetch_archive(archive.as_uri(), cache, ["100007.jpg", "1.jpg", "evil.jpg"])
    assert [p.name for p in cache.iterdir()] == ["100007.jpg"] and (cache / "100007.jpg").read_bytes() == b"photo"
    with pytest.raises(DatasetError, match="failed"):
        _fetch_archive((tmp_path / "none.tgz").as_uri(), cache, ["100007.jpg"])
