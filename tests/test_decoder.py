"""The decoder: goldens stay bit-exact, work is bounded before allocation, no training code."""
from __future__ import annotations

import doctest
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

import inrcodec.decoder
from inrcodec.bitstream import BitstreamError, DecodeLimits, LimitError, Stream, TensorRecord, pack
from inrcodec.decoder import decode, decode_parameters, describe, open_stream
from inrcodec.methods import coin
from inrcodec.siren import SirenConfig

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fuzzing import damaged  # noqa: E402
from make_golden import params_digest  # noqa: E402

DATA = Path(__file__).resolve().parent / "data"
GOLDENS = ["golden_v1_coin", "golden_v2_coin_rgb", "golden_v2_coin_grey", "golden_v2_qat", "golden_v2_qat1",
           "golden_v2_mcnc", "golden_v2_grid", "golden_v2_qat_fourier", "golden_v2_grid_subpixel"]


@pytest.mark.parametrize("name", GOLDENS)
def test_golden_streams_decode_to_the_same_parameters_and_image(name):
    data = (DATA / f"{name}.inr").read_bytes()
    _, tensors = decode_parameters(data)
    assert params_digest(tensors) == (DATA / f"{name}.sha256").read_text().split()[0]
    expected = np.asarray(Image.open(DATA / f"{name}.png")).astype(int)
    decoded = decode(data).astype(int)
    # Float network evaluation may differ by one level between machines (docs/bitstream.md).
    assert np.abs(decoded.reshape(expected.shape) - expected).max() <= 1


def test_goldens_pin_what_they_claim():
    v1, rgb, grey, q, q1, mc, grid, qf, sub = (describe((DATA / f"{n}.inr").read_bytes()) for n in GOLDENS)
    assert sub["upsampling"].startswith("bilinear to half size") and sub["grids"] == [[8, 13], [4, 7], [2, 4]]
    assert sub["width"] == 25
    assert qf["method"] == "qat" and qf["fourier_frequencies"] == 4 and qf["architecture"] == "2x8+f4"
    assert qf["tensor_bits"] == [8] * 6 and qf["fourier_scale"] == 1.3984375
    assert grid["method"] == "grid" and grid["grids"] == [[16, 24], [8, 12], [4, 6]]
    assert mc["method"] == "mcnc" and (mc["chunk"], mc["k"], mc["theta0"]) == (18, 4, "seeded")
    assert q["method"] == "qat" and q["tensor_bits"][2:] == [4] * 4
    assert q1["method"] == "qat" and q1["tensor_bits"] == [14, 14] + [1] * 4
    assert v1["format_version"] == 1 and rgb["format_version"] == grey["format_version"] == 2
    assert rgb["tensor_bits"][:2] == [14, 14] and rgb["bits"] == 8  # mixed precision
    assert grey["channels"] == 1 and set(grey["tensor_bits"]) == {10}
    assert {"laplace", "gaussian"} <= set(rgb["entropy_models"]) | set(grey["entropy_models"])


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(GOLDENS), st.data())
def test_mutated_golden_streams_decode_or_are_refused(name, data):
    """Every method's stream, truncated or with bytes changed (CRC fixed up, so the method and
    entropy decoders see the damage): a clean refusal or a decoded image, nothing else."""
    try:
        image = decode(damaged((DATA / f"{name}.inr").read_bytes(), data))
    except BitstreamError:
        return
    assert image.dtype == np.uint8 and image.ndim == 3


def test_two_decodes_are_byte_identical_pngs(small_stream):
    from inrcodec.images import encode_png

    assert encode_png(decode(small_stream)) == encode_png(decode(small_stream))


def test_describe_counts_every_byte(small_stream):
    d = describe(small_stream)
    assert sum(d["section_bytes"].values()) == d["bytes"] == len(small_stream)
    assert d["method"] == "coin" and (d["width"], d["height"]) == (56, 40) and d["within_limits"]


def _bomb(layers: int = 64, width: int = 1024, size: tuple[int, int] = (768, 512)) -> bytes:
    """A small valid stream asking for a huge network and an empty payload (the audit's bomb)."""
    cfg = SirenConfig(layers, width)
    records = [TensorRecord(8, 0, 0, 0x3C00, 0x3F80)] * len(cfg.tensor_shapes())
    return pack(Stream(coin.ID, 3, size[0], size[1], coin.pack_section(cfg), records, b""))


def test_decompression_bomb_is_refused_at_once_and_info_reads_no_payload():
    bomb = _bomb()
    assert len(bomb) < 1200
    with pytest.raises(LimitError, match="limit"):
        open_stream(bomb)  # the refusal comes from the header checks, before any allocation or decoding
    with pytest.raises(LimitError, match="limit"):
        decode(bomb)
    d = describe(bomb)
    assert d["architecture"] == "64x1024" and not d["within_limits"] and d["decode_work"] > 1e13


def test_work_and_parameter_limits_can_be_raised():
    small = _bomb(3, 64, (64, 64))  # 8k multiply-adds a pixel, an empty payload
    with pytest.raises(LimitError, match="multiply-adds"):
        decode(small, DecodeLimits(max_work=1000))
    with pytest.raises(LimitError, match="parameters"):
        decode(small, DecodeLimits(max_parameters=1000))


def test_docstring_example_runs():
    assert doctest.testmod(inrcodec.decoder, raise_on_error=True).attempted >= 1


def test_decoding_imports_no_training_code():
    code = ("import sys; from pathlib import Path; from inrcodec.decoder import decode; "
            f"[decode(Path(p).read_bytes()) for p in {[str(DATA / f'{n}.inr') for n in GOLDENS]!r}]; "
            "bad = [m for m in sys.modules if m in ('inrcodec.train', 'inrcodec.encoder', 'inrcodec.ratecontrol', "
            "'inrcodec.progress', 'inrcodec.benchmark', 'inrcodec.softquant', 'inrcodec.siren_fit', "
            "'inrcodec.methods.mcnc_encode', 'inrcodec.methods.grid_encode', 'inrcodec.methods.grid_model')]; "
            "print(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_decoder_path_never_unpickles():
    root = Path(__file__).resolve().parent.parent / "inrcodec"
    for name in ("bitstream.py", "entropy.py", "quantize.py", "siren.py", "decoder.py", "prng.py",
                 "methods/__init__.py", "methods/coin.py", "methods/qat.py", "methods/mcnc.py", "mcnc.py",
                 "methods/grid.py", "latents.py"):
        src = (root / name).read_text()
        assert "pickle" not in src and "torch.load" not in src and "np.load" not in src, name
