"""Regenerate the v2 golden streams in tests/data -- only when the format changes on purpose.

Usage: python tests/make_golden.py [NAME...]   (then commit the files; a changed digest means the decoding of
existing files changed, which a format version promises never to do). The v1 golden
(golden_v1_coin.*) is frozen: no writer of version 1 exists any more.

The .mlpz goldens (``golden_mlpz_*``) are made by :func:`mlpz_goldens`. Each image golden NAME has NAME.inr, NAME.sha256 (of the decoded float32 parameters) and NAME.png
(the decoded image). Between them they pin RGB and greyscale, mixed and uniform precision,
both entropy models, and 1-bit records.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from PIL import Image

from inrcodec.decoder import decode, decode_parameters, describe
from inrcodec.encoder import encode
from inrcodec.images import encode_png
from inrcodec.methods import EncodeOptions

ROOT = Path(__file__).resolve().parent
DATA = ROOT / "data"


def params_digest(tensors: list[np.ndarray]) -> str:
    """SHA256 of decoded parameters as little-endian float32, in stream order."""
    h = hashlib.sha256()
    for t in tensors:
        h.update(np.ascontiguousarray(t, dtype="<f4").tobytes())
    return h.hexdigest()


def main(only: list[str]) -> None:
    kodim23 = np.asarray(Image.open(ROOT.parent / "samples" / "kodim23.png").convert("RGB"))
    goldens = {
        # RGB, 8-bit weights with the first layer at 14 bits (mixed precision).
        "golden_v2_coin_rgb": (kodim23[240:256, 330:354], {"arch": (2, 8), "bits": 8}),
        # Greyscale, every tensor at 10 bits.
        "golden_v2_coin_grey": (kodim23[100:112, 200:220, 1:2], {"arch": (3, 6), "bits": 10, "uniform_bits": True}),
    }
    goldens["golden_v2_qat"] = (kodim23[240:256, 330:354], {"arch": (2, 8), "bits": 4, "fourier": 0, "method": "qat"})
    # 1-bit (binary) weights and biases past the first layer: pins the 1-bit records.
    goldens["golden_v2_qat1"] = (kodim23[240:256, 330:354], {"arch": (2, 8), "bits": 1, "fourier": 0, "method": "qat"})
    # Fourier features (the COIN section's optional tail): 4 frequencies, every tensor at 8 bits.
    goldens["golden_v2_qat_fourier"] = (kodim23[240:256, 330:354], {"arch": (2, 8), "bits": 8, "fourier": 4,
                                                                     "method": "qat"})
    # MCNC: alpha and beta of a 2x8 SIREN on a seeded manifold (d=18, k=4), seeded theta0.
    goldens["golden_v2_mcnc"] = (kodim23[240:256, 330:354], {"arch": (2, 8), "bits": 8, "k": 4, "chunk": 18,
                                                              "theta0": 1, "method": "mcnc"})
    # Latent grids: 3 grids, a 1x8 synthesis with one 3x3 residual, an 8-neighbour integer ARM.
    goldens["golden_v2_grid"] = (kodim23[240:256, 330:354], {"lam": 0.002, "levels": 3, "first_level": 0, "syn_width": 8,
                                                              "res_convs": 1, "upsampling": 0, "method": "grid"})
    # Sub-pixel synthesis (upsampling 2): an odd width, so the 2x2 blocks are cropped.
    goldens["golden_v2_grid_subpixel"] = (kodim23[240:256, 330:355], {"lam": 0.002, "levels": 3, "first_level": 1,
                                                                       "syn_width": 8, "res_convs": 1, "upsampling": 2,
                                                                       "method": "grid"})
    models = set()
    for name, (img, opts) in goldens.items():
        if only and name not in only:
            continue
        method = opts.pop("method", "coin")
        data = encode(np.ascontiguousarray(img), EncodeOptions(bpp=None, method=method, method_options=opts,
                                                               steps=150)).data
        opened, tensors = decode_parameters(data)
        assert method == "grid" or opts.get("bits") in [t.bits for t in opened.stream.tensors], f"{name}: the encoder fell back"
        (DATA / f"{name}.inr").write_bytes(data)
        (DATA / f"{name}.sha256").write_text(f"{params_digest(tensors)}  {name}.inr (float32 LE parameters)\n")
        (DATA / f"{name}.png").write_bytes(encode_png(decode(data)))
        models |= set(describe(data)["entropy_models"])
        print(name, len(data), "bytes", describe(data)["entropy_models"])
    assert only or models == {"laplace", "gaussian"}, models
    mlpz_goldens(only)


def mlpz_goldens(only: list[str]) -> None:
    """``.mlpz`` goldens: a seeded 1x8 MLP (no training, so no MNIST needed) at 4-bit weights and
    8-bit biases, at 1-bit weights, pruned, and factored; NAME.mlpz and NAME.sha256 of the
    decoded parameters."""
    from inrcodec import mlpz
    from inrcodec.mlp import MLPConfig, init_tensors
    from inrcodec.mlpzip import CompressOptions, compress

    config = MLPConfig(1, 8)
    goldens = {"golden_mlpz_quant4": CompressOptions(["quant"], bits=4),
               "golden_mlpz_quant1": CompressOptions(["quant"], bits=1),
               # layout 1: masks (Bernoulli-coded) before the kept values; factored weights
               "golden_mlpz_pruned": CompressOptions(["prune", "quant"], bits=6, sparsity=0.7, epochs=0),
               "golden_mlpz_lowrank": CompressOptions(["lowrank", "quant"], bits=6, rank=2, epochs=0)}
    for name, options in goldens.items():
        if only and name not in only:
            continue
        data = compress(config, init_tensors(config, 0), options).data
        (DATA / f"{name}.mlpz").write_bytes(data)
        digest = params_digest(mlpz.decode(data)[1])
        (DATA / f"{name}.sha256").write_text(f"{digest}  {name}.mlpz (float32 LE parameters)\n")
        print(name, len(data), "bytes")
    for name, theta0 in (("golden_mlpz_mcnc", False), ("golden_mlpz_mcnc_theta0", True)):
        if only and name not in only:
            continue
        # layout 2 (theta0 zero) and 3 (seeded theta0): alpha and beta on a seeded manifold
        # (untrained values; no MNIST needed)
        from inrcodec.bitstream import TensorRecord
        from inrcodec.entropy import Encoder
        from inrcodec.mcnc import Manifold
        from inrcodec.quantize import quantize

        spec = Manifold(seed=9, d=500, k=6)
        rng = np.random.default_rng(0)
        n = spec.chunks(config.num_params())
        enc, records = Encoder(), []
        for values, bits in ((rng.uniform(-20, 20, (n, 1, 6)), 8), (rng.uniform(0.5, 1.5, (n, 1)), 16)):
            qt = quantize(values.astype(np.float32), bits)
            model, scale = enc.add(qt.q, bits)
            records.append(TensorRecord(bits, model, qt.offset_bf16, qt.step_bf16, scale))
        data = mlpz.pack(config, ["mcnc"], records, enc.payload(), manifold=spec, theta0=theta0)
        (DATA / f"{name}.mlpz").write_bytes(data)
        digest = params_digest(mlpz.decode(data)[1])
        (DATA / f"{name}.sha256").write_text(f"{digest}  {name}.mlpz (float32 LE parameters)\n")
        print(name, len(data), "bytes")

if __name__ == "__main__":
    import sys

    main(sys.argv[1:])  # names to regenerate (default: all); the others must keep their bytes
