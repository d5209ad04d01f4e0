"""Kodak loader: local directory and environment variable, checksums, clear errors; no network."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from inrcodec.datasets import DatasetError, image_folder, kodak, kodak_checksums

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
