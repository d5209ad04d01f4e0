"""Shared fixtures: small real images cut from the shipped Kodak samples, and a small stream."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(autouse=True)
def _torch_threads():
    """Each test starts with the thread count the session started with: a float fit's path (and
    so a borderline outcome) depends on it, and the bench's units set it for their process."""
    import torch

    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """The MNIST idx gzip files: $INRCODEC_DATA/mnist or the project's shared copy (never the network)."""
    import os

    for d in (Path(os.environ.get("INRCODEC_DATA", "/nonexistent")) / "mnist", ROOT.parent / "shared" / "data" / "mnist"):
        if (d / "t10k-labels-idx1-ubyte.gz").exists():
            return d
    pytest.skip("no local MNIST copy (set INRCODEC_DATA to a directory holding mnist/)")


@pytest.fixture(scope="session")
def kodim23() -> np.ndarray:
    return np.asarray(Image.open(SAMPLES / "kodim23.png").convert("RGB"))


@pytest.fixture(scope="session")
def small_image(kodim23: np.ndarray) -> np.ndarray:
    """A 40x56 crop of kodim23 (odd-ish size, not a multiple of 16)."""
    return np.ascontiguousarray(kodim23[200:240, 300:356])


@pytest.fixture(scope="session")
def small_stream(small_image: np.ndarray) -> bytes:
    """A real stream of the small image (few steps: a format fixture, not a quality one)."""
    from inrcodec.encoder import EncodeOptions, encode

    return encode(small_image, EncodeOptions(bpp=4.0, method="coin", steps=60)).data
