"""MCNC for images: a SIREN whose parameters lie on a seeded manifold (:mod:`inrcodec.mcnc`).

Decode side (module level): the section is the SIREN's architecture plus the manifold's
fields; the two coded tensors are alpha (chunks x m x k) and beta (chunks x m); the decoder
regenerates the generator from the seed, expands theta = theta0 + delta, and renders the
SIREN as COIN does. theta0 is zero, or (``theta0`` 1) SIREN's initialization drawn from the
same seed's SplitMix64 after the generator's values.
Encode side (:func:`encode`): size a SIREN larger than COIN's for the budget, train only alpha
and beta, quantize them after training, keep the snapshot whose quantized network scores best.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..bitstream import BitstreamError, Field, Stream, unpack_fields
from ..errors import OptionError
from ..mcnc import MANIFOLD_FIELDS, THETA0_START, Manifold, manifold_from_fields
from ..siren import SirenConfig
from . import METHOD_IDS, EncodeOptions, Fitted

ID = METHOD_IDS["mcnc"]
NAME = "mcnc"
SUMMARY = "SIREN reparameterized on a seeded manifold (MCNC): only alpha and beta are coded"
VARIANTS = "mcnc (rate control), mcnc-k<K> (manifold dimension K, e.g. mcnc-k4)"
SECTION: list[Field] = [
    Field("hidden_layers", "B", "number of sine layers L of the SIREN", 1, 64),
    Field("width", "H", "features per hidden layer W", 1),
    Field("w0", "B", "SIREN frequency w0", 1),
    *MANIFOLD_FIELDS,
    Field("theta0", "B", "0: zero; 1: SIREN initialization from the seed", choices=(0, 1)),
]


def read_section(stream: Stream) -> dict[str, Any]:
    """Architecture and manifold from the method section (validated from ``SECTION``)."""
    params, tail = unpack_fields(SECTION, stream.section, "MCNC method section")
    if tail:
        raise BitstreamError(f"MCNC method section has {len(tail)} unexpected bytes")
    manifold_from_fields(params)  # validates the bound
    return params


def siren_config(params: dict[str, Any], channels: int) -> SirenConfig:
    """The SIREN an MCNC section describes."""
    return SirenConfig(params["hidden_layers"], params["width"], channels, float(params["w0"]))


def manifold(params: dict[str, Any]) -> Manifold:
    """The generator and chunking an MCNC section describes."""
    return manifold_from_fields(params)


def layout(params: dict[str, Any], channels: int) -> list[tuple[int, ...]]:
    """alpha (chunks, m, k), then beta (chunks, m)."""
    spec = manifold(params)
    n = spec.chunks(siren_config(params, channels).num_params())
    return [(n, spec.m, spec.k), (n, spec.m)]


def decoded_parameters(params: dict[str, Any], channels: int) -> int:
    """Values the decoder materializes: the SIREN's and the generator's (bounded by the limits)."""
    spec = manifold(params)
    return siren_config(params, channels).num_params() + sum(o * i + o for o, i in spec.layer_shapes())


def work_per_pixel(params: dict[str, Any], channels: int) -> int:
    """Multiply-adds per pixel of the SIREN (the generator's work is :func:`fixed_work`)."""
    return siren_config(params, channels).macs_per_pixel()


def fixed_work(params: dict[str, Any], channels: int) -> int:
    """Multiply-adds that do not grow with the image: the generator over every chunk."""
    spec = manifold(params)
    return spec.chunks(siren_config(params, channels).num_params()) * spec.macs_per_chunk()


def expander(params: dict[str, Any], channels: int, device: str = "cpu"):
    """A function (alpha, beta) -> the SIREN's flat parameters (torch). The generator (and a
    seeded theta0) is regenerated once here, not at every call: training calls it every step."""
    import torch

    from ..mcnc import expand, generator_tensors, seeded_init

    cfg = siren_config(params, channels)
    spec = manifold(params)
    weights = [torch.from_numpy(w).to(device) for w in generator_tensors(spec)]
    theta0 = None
    if params["theta0"] == 1:
        init = seeded_init(cfg.layer_shapes(), spec.seed, cfg.w0, start=THETA0_START)
        theta0 = torch.from_numpy(np.concatenate([t.reshape(-1) for t in init])).to(device)
    return lambda alpha, beta: expand(spec, weights, alpha, beta, cfg.num_params(), theta0)


def split(flat, config: SirenConfig) -> list:
    """A flat parameter vector cut into the SIREN's tensors (weight then bias per layer)."""
    out, pos = [], 0
    for shape in config.tensor_shapes():
        n = math.prod(shape)
        out.append(flat[pos:pos + n].reshape(shape))
        pos += n
    return out


def reconstruct(stream: Stream, params: dict[str, Any], tensors: list[np.ndarray], device: str) -> np.ndarray:
    """Expand theta from alpha and beta and render the SIREN."""
    import torch

    from ..siren import Siren, render

    cfg = siren_config(params, stream.channels)
    with torch.no_grad():
        flat = expander(params, stream.channels, device)(torch.from_numpy(tensors[0]).to(device),
                                                         torch.from_numpy(tensors[1]).to(device))
    with torch.device("meta"):
        model = Siren(cfg)
    model = model.to_empty(device=device)
    model.load_tensors([t.cpu().numpy() for t in split(flat, cfg)])
    return render(model, stream.height, stream.width)


def describe(stream: Stream, params: dict[str, Any]) -> dict[str, Any]:
    """Architecture, manifold and coded numbers."""
    cfg = siren_config(params, stream.channels)
    spec = manifold(params)
    return {"architecture": f"{cfg.hidden_layers}x{cfg.width}", "w0": params["w0"], "parameters": cfg.num_params(),
            "chunk": spec.d, "k": spec.k, "L": spec.bound, "pairs": spec.m, "seed": spec.seed,
            "generator": f"{spec.layers}x{spec.hidden}, w0 {spec.w0:g}", "theta0": ("zero", "seeded")[params["theta0"]],
            "coded_numbers": spec.coded(cfg.num_params()), "bits": stream.tensors[0].bits,
            "tensor_bits": [t.bits for t in stream.tensors]}


# --- encode side: see mcnc_encode.py (kept apart so this module stays a short decode path) ---


def encode(image: np.ndarray, options: EncodeOptions) -> Fitted:
    """Plan, train alpha and beta, quantize, code (see :mod:`inrcodec.methods.mcnc_encode`)."""
    from .mcnc_encode import encode as run

    return run(image, options)


def check_options(options: EncodeOptions) -> None:
    """Refuse MCNC options that no image can satisfy."""
    from .mcnc_encode import OPTION_KEYS

    opts = options.method_options
    unknown = set(opts) - OPTION_KEYS
    if unknown:
        raise OptionError(f"mcnc takes no option {', '.join(sorted(unknown))}")
    if opts.get("bits") is not None and not 2 <= opts["bits"] <= 16:
        raise OptionError(f"--bits must be in 2..16 for mcnc, got {opts['bits']}")
    if opts.get("k") is not None and not 1 <= opts["k"] <= 4096:
        raise OptionError(f"--k must be in 1..4096, got {opts['k']}")
    if opts.get("chunk") is not None and not 1 <= opts["chunk"] <= 1 << 24:
        raise OptionError(f"--chunk must be in 1..2^24, got {opts['chunk']}")
    if opts.get("depth") is not None and not 1 <= opts["depth"] <= 64:
        raise OptionError(f"mcnc's SIREN depth must be in 1..64, got {opts['depth']}")
    if opts.get("bound") is not None and not (0 < opts["bound"] < 1e4):
        raise OptionError(f"--L must be positive, got {opts['bound']}")
    if opts.get("arch") is None and options.bpp is None:
        raise OptionError("give a bpp budget or an architecture")


def bench_options(name: str, rate: float) -> dict[str, Any] | None:
    """Bench names: ``mcnc``, ``mcnc-k<K>``; None for others."""
    if name == "mcnc":
        return {"bpp": rate}
    if name.startswith("mcnc-k") and name[6:].isdigit() and int(name[6:]) >= 1:
        return {"bpp": rate, "k": int(name[6:])}
    return None
