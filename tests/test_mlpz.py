"""The .mlpz container: round trip, every field validated, goldens bit-exact, damage refused."""
from __future__ import annotations

import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inrcodec import mlpz
from inrcodec.bitstream import BitstreamError, LimitError, TensorRecord
from inrcodec.entropy import encode_tensors
from inrcodec.mlp import MLPConfig

DATA = Path(__file__).resolve().parent / "data"
sys.path.insert(0, str(Path(__file__).resolve().parent))
from fuzzing import damaged  # noqa: E402
from make_golden import params_digest  # noqa: E402

GOLDENS = ["golden_mlpz_quant4", "golden_mlpz_quant1", "golden_mlpz_pruned", "golden_mlpz_lowrank",
           "golden_mlpz_mcnc", "golden_mlpz_mcnc_theta0"]


def _file(config: MLPConfig = MLPConfig(1, 3, inputs=5, classes=2), bits: int = 4) -> tuple[bytes, list]:
    rng = np.random.default_rng(0)
    lv = (1 << (bits - 1)) - 1
    ints = [rng.integers(-lv, lv + 1, int(np.prod(s))).astype(np.int32) for s in config.tensor_shapes()]
    models, payload = encode_tensors(ints, [bits] * len(ints))
    records = [TensorRecord(bits, m, 0, 0x3C00, sc) for m, sc in models]  # step 2^-7
    return mlpz.pack(config, ["quant"], records, payload), ints


def test_round_trip_gives_offset_plus_step_times_the_integers():
    data, ints = _file()
    config, tensors = mlpz.decode(data)
    assert config == MLPConfig(1, 3, inputs=5, classes=2)
    for t, q, s in zip(tensors, ints, config.tensor_shapes()):
        assert t.shape == s and np.array_equal(t.reshape(-1), q.astype(np.float32) / 128)
    d = mlpz.describe(data)
    assert d["steps"] == ["quant"] and sum(d["section_bytes"].values()) == d["bytes"] == len(data)


@pytest.mark.parametrize("name", GOLDENS)
def test_goldens_decode_to_the_same_parameters(name):
    data = (DATA / f"{name}.mlpz").read_bytes()
    assert params_digest(mlpz.decode(data)[1]) == (DATA / f"{name}.sha256").read_text().split()[0]
    d = mlpz.describe(data)
    assert d["tensor_bits"] == {"golden_mlpz_quant4": [4, 8, 4, 8], "golden_mlpz_quant1": [1, 8, 1, 8],
                                "golden_mlpz_pruned": [1, 6, 8, 1, 6, 8],
                                "golden_mlpz_lowrank": [6, 6, 8, 6, 6, 8], "golden_mlpz_mcnc": [8, 16],
                                "golden_mlpz_mcnc_theta0": [8, 16]}[name]
    assert d["pruned"] == [name.endswith("pruned")] * 2 and d["ranks"] == [2 * name.endswith("lowrank")] * 2


def _with_crc(body: bytes) -> bytes:
    return body + zlib.crc32(body).to_bytes(4, "little")


def test_bad_fields_are_refused_with_their_names():
    data, _ = _file()
    with pytest.raises(BitstreamError, match="not an .mlpz"):
        mlpz.decode(b"INR" + data[3:])
    with pytest.raises(BitstreamError, match="version"):
        mlpz.decode(data[:3] + b"\x07" + data[4:])
    with pytest.raises(BitstreamError, match="checksum"):
        mlpz.decode(data[:-5] + data[-4:])
    header = len(mlpz.pack_fields(mlpz.HEADER_FIELDS, {"magic": b"MLZ", "version": 1, "inputs": 5, "classes": 2}))
    layout_at = header + 2 + 3 + 1  # after the section length, depth, width and steps
    bad = bytearray(data[:-4])
    bad[layout_at] = 9
    with pytest.raises(BitstreamError, match="invalid layout 9"):
        mlpz.decode(_with_crc(bytes(bad)))
    huge = MLPConfig(64, 4096)
    with pytest.raises(LimitError, match="exceeds the limit"):
        mlpz.unpack(mlpz.pack(huge, [], [TensorRecord(8, 0, 0, 0x3C00, 0x3F80)] * len(huge.tensor_shapes()), b""))


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(GOLDENS), st.data())
def test_mutated_files_decode_or_are_refused(name, data):
    try:
        config, tensors = mlpz.decode(damaged((DATA / f"{name}.mlpz").read_bytes(), data))
    except BitstreamError:
        return
    assert [t.shape for t in tensors] == config.tensor_shapes()


def test_decoding_imports_no_training_code_and_no_torch():  # (torch only to expand a manifold)
    import subprocess

    training = "'inrcodec.mlpzip', 'inrcodec.mlpzip_mcnc', 'inrcodec.train', 'inrcodec.softquant'"
    for names, forbidden in ((GOLDENS[:4], training + ", 'torch'"), (GOLDENS[4:], training)):
        code = ("import sys; from pathlib import Path; from inrcodec import mlpz; "
                f"[mlpz.decode(Path(p).read_bytes()) for p in {[str(DATA / f'{n}.mlpz') for n in names]!r}]; "
                f"bad = [m for m in sys.modules if m in ({forbidden})]; print(','.join(bad))")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        assert out.stdout.strip() == ""
    src = Path(mlpz.__file__).read_text()
    assert "pickle" not in src and "torch.load" not in src and "np.load" not in src


def test_inconsistent_layer_rows_are_refused():
    config = MLPConfig(1, 3, inputs=5, classes=2)
    rec = TensorRecord(8, 0, 0, 0x3C00, 0x3F80)
    for layers, n_records, match in (([mlpz.Layer(4, 0), mlpz.Layer()], 4, "rank 4"),  # rank > min(3, 5)
                                     ([mlpz.Layer(0, 2), mlpz.Layer()], 4, "masks 2"),  # no second matrix
                                     ([mlpz.Layer(0, 1), mlpz.Layer()], 5, "must be 1-bit")):  # mask of 8 bits
        with pytest.raises(BitstreamError, match=match):
            mlpz.decode(mlpz.pack(config, ["prune"], [rec] * n_records, b"", layers))


def test_manifold_files_expand_to_the_mlp_and_a_huge_generator_is_refused():
    data = (DATA / "golden_mlpz_mcnc.mlpz").read_bytes()
    d = mlpz.describe(data)
    assert d["manifold"] == {"chunk": 500, "k": 6, "L": 20.0, "pairs": 1, "seed": 9, "theta0": "zero"}
    config, tensors = mlpz.decode(data)
    assert [t.shape for t in tensors] == config.tensor_shapes() and all(np.isfinite(t).all() for t in tensors)
    from inrcodec.mcnc import Manifold

    rec = TensorRecord(8, 0, 0, 0x3C00, 0x3F80)
    huge = Manifold(seed=1, d=1 << 24, k=4, hidden=4096, layers=8)
    with pytest.raises(LimitError):
        mlpz.unpack(mlpz.pack(MLPConfig(1, 8), ["mcnc"], [rec, rec], b"", manifold=huge))


def test_layout_3_is_layout_2_plus_the_seeded_initialization():
    from inrcodec.mcnc import THETA0_START
    from inrcodec.mlp import seeded_init

    config, zero = mlpz.decode((DATA / "golden_mlpz_mcnc.mlpz").read_bytes())
    _, seeded = mlpz.decode((DATA / "golden_mlpz_mcnc_theta0.mlpz").read_bytes())
    init = seeded_init(config, 9, THETA0_START)
    for z, s, t, (o, i) in zip(zero, seeded, init, [s for s in config.layer_shapes() for _ in (0, 1)]):
        assert np.array_equal(s, z + t) and np.abs(t).max() <= 1 / np.sqrt(i)
    assert mlpz.describe((DATA / "golden_mlpz_mcnc_theta0.mlpz").read_bytes())["manifold"]["theta0"] == "seeded"
