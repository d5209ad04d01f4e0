"""The decoder: golden stream stays bit-exact, decoding is deterministic, imports no training code."""
from __future__ import annotations

import hashlib
import io
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from inrcodec.decoder import decode, decode_parameters, describe

DATA = Path(__file__).resolve().parent / "data"


def _params_digest(tensors: list[np.ndarray]) -> str:
    h = hashlib.sha256()
    for t in tensors:
        h.update(np.ascontiguousarray(t, dtype="<f4").tobytes())
    return h.hexdigest()


def test_golden_stream_decodes_to_the_same_parameters_and_image():
    data = (DATA / "golden.inr").read_bytes()
    _, tensors = decode_parameters(data)
    assert _params_digest(tensors) == (DATA / "golden_params.sha256").read_text().split()[0]
    expected = np.asarray(Image.open(DATA / "golden_decoded.png").convert("RGB")).astype(int)
    assert np.abs(decode(data).astype(int) - expected).max() <= 1


def test_two_decodes_are_byte_identical_pngs(small_stream):
    from inrcodec.images import encode_png

    assert encode_png(decode(small_stream)) == encode_png(decode(small_stream))


def test_describe_counts_every_byte(small_stream):
    d = describe(small_stream)
    assert sum(d["section_bytes"].values()) == d["bytes"] == len(small_stream)
    assert d["method"] == "coin" and (d["width"], d["height"]) == (56, 40)


def test_decoding_imports_no_training_code():
    code = ("import sys; from pathlib import Path; from inrcodec.decoder import decode; "
            f"decode(Path({str(DATA / 'golden.inr')!r}).read_bytes()); "
            "bad = [m for m in sys.modules if m in ('inrcodec.fit', 'inrcodec.encoder', 'inrcodec.ratecontrol')]; "
            "print(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_decoder_path_never_unpickles():
    root = Path(__file__).resolve().parent.parent / "inrcodec"
    for name in ("bitstream.py", "entropy.py", "quantize.py", "siren.py", "decoder.py"):
        src = (root / name).read_text()
        assert "pickle" not in src and "torch.load" not in src and "np.load" not in src, name
