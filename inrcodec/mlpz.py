"""The ``.mlpz`` container of compressed MNIST MLPs, and its decoder. No training code, and no
torch except to expand an MCNC manifold.

Same rules as ``.inr`` (``docs/bitstream.md``, section "mlpz"): a fixed header, then the body
every container shares (:func:`inrcodec.bitstream.pack_body`: a u16-length section, tensor
records, the constriction payload), then a CRC32. The section says the architecture and how
the tensors are laid out: ``layout`` 0 is dense (each layer's weight (out, in) then bias),
``layout`` 1 adds per layer a rank (a weight stored as two factors) and pruning masks,
``layout`` 2 puts every parameter on an MCNC manifold (only alpha and beta are coded), and
``layout`` 3 does so around a seeded initialization theta0.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .bitstream import (MODEL_NAMES, BitstreamError, Field, LimitError, TensorRecord, check_crc, pack_body,
                        pack_fields, seal, size_of, unpack_body, unpack_fields)
from .entropy import Decoder
from .mcnc import MANIFOLD_FIELDS, Manifold, manifold_fields, manifold_from_fields
from .mlp import MLPConfig, describe_inputs
from .quantize import dequantize

MAGIC = b"MLZ"
VERSION = 1
MAX_PARAMETERS = 1 << 24  # refused before anything is allocated
MAX_GENERATOR_WORK = 1 << 36  # multiply-adds to expand a manifold (seconds on 2 cores)
HEADER_FIELDS: list[Field] = [
    Field("magic", "3s", 'b"MLZ"'),
    Field("version", "B", "format version", choices=(VERSION,)),
    Field("inputs", "H", "input features (MNIST: one of mlp.INPUT_LAYOUTS' nine counts)", 1),
    Field("classes", "B", "output classes (10 for MNIST)", 2),
]
# Which techniques made the file (a bit each; informational, the layout says how to decode).
STEPS: dict[str, int] = {"distill": 1, "prune": 2, "lowrank": 4, "quant": 8, "qat": 16, "mcnc": 32}
SECTION: list[Field] = [
    Field("depth", "B", "hidden layers D", 1, 64),
    Field("width", "H", "features per hidden layer W", 1),
    Field("steps", "B", "techniques applied, a bit each (STEPS)", 0, 63),
    Field("layout", "B", "0: dense weight and bias per layer; 1: LAYER_FIELDS per layer follow; "
          "2: MCNC_FIELDS follow (theta0 zero); 3: MCNC_FIELDS follow (theta0 seeded)", choices=(0, 1, 2, 3)),
]
# Layouts 2 and 3: the parameters lie on an MCNC manifold (inrcodec/mcnc.py) around theta0, zero
# (2) or mlp.seeded_init from the manifold's seed at mcnc.THETA0_START (3).
MCNC_FIELDS: list[Field] = MANIFOLD_FIELDS
# Layout 1: one row per linear layer, first to last, after the section's fixed rows.
LAYER_FIELDS: list[Field] = [
    Field("rank", "H", "0: a dense weight; r: the weight is U (out, r) times V (r, in)", 0),
    Field("masks", "B", "pruned matrices: bit 0 the first (W or U), bit 1 the second (V)", 0, 3),
]


@dataclass(frozen=True)
class Layer:
    """How one linear layer is stored: its rank (0 = dense) and which matrices carry a mask."""

    rank: int = 0
    masks: int = 0

    def matrices(self, out: int, inp: int) -> list[tuple[int, int]]:
        """Shapes of the stored matrices: [W] or [U, V]."""
        return [(out, inp)] if self.rank == 0 else [(out, self.rank), (self.rank, inp)]


def items(config: MLPConfig, layers: list[Layer], manifold: Manifold | None = None
          ) -> list[tuple[str, tuple[int, ...]]]:
    """The tensor records in stream order, as (kind, shape). On a manifold: ``alpha`` (chunks,
    m, k) and ``beta`` (chunks, m). Otherwise per layer, for each matrix a
    ``mask`` (1 bit per entry, +1 kept) before its ``values`` if pruned (then only the kept
    entries are coded), else its ``values``; then the ``bias``."""
    if manifold is not None:
        n = manifold.chunks(config.num_params())
        return [("alpha", (n, manifold.m, manifold.k)), ("beta", (n, manifold.m))]
    out = []
    for layer, (o, i) in zip(layers, config.layer_shapes()):
        for k, shape in enumerate(layer.matrices(o, i)):
            if layer.masks >> k & 1:
                out.append(("mask", shape))
            out.append(("values", shape))
        out.append(("bias", (o,)))
    return out


@dataclass(frozen=True)
class Compressed:
    """A parsed ``.mlpz``: the network, how its layers are stored, what made it, records, payload."""

    config: MLPConfig
    layers: list[Layer]
    manifold: Manifold | None
    theta0: bool
    steps: list[str]
    tensors: list[TensorRecord]
    payload: bytes
    sizes: dict[str, int]


def pack(config: MLPConfig, steps: list[str], tensors: list[TensorRecord], payload: bytes,
         layers: list[Layer] | None = None, manifold: Manifold | None = None, theta0: bool = False) -> bytes:
    """Serialize a ``.mlpz`` (layout 0 when every layer is dense and unpruned, 2 or 3 on a
    manifold, 3 when ``theta0`` is the seeded initialization)."""
    layers = layers or [Layer()] * (config.depth + 1)
    head = pack_fields(HEADER_FIELDS, {"magic": MAGIC, "version": VERSION, "inputs": config.inputs,
                                       "classes": config.classes})
    layout = (3 if theta0 else 2) if manifold is not None else 0 if all(lay == Layer() for lay in layers) else 1
    section = pack_fields(SECTION, {"depth": config.depth, "width": config.width,
                                    "steps": sum(STEPS[s] for s in set(steps)), "layout": layout})
    if layout == 1:
        section += b"".join(pack_fields(LAYER_FIELDS, {"rank": lay.rank, "masks": lay.masks}) for lay in layers)
    if layout >= 2:
        section += pack_fields(MCNC_FIELDS, manifold_fields(manifold))
    return seal(head + pack_body(section, tensors, payload))


def unpack(data: bytes) -> Compressed:
    """Parse and validate a ``.mlpz`` (every field, the CRC, the record count, the size limit)."""
    if len(data) < 4 or data[:3] != MAGIC:
        raise BitstreamError("not an .mlpz file (bad magic)")
    if data[3] != VERSION:
        raise BitstreamError(f"unsupported .mlpz version {data[3]} (this decoder reads version {VERSION})")
    head, rest = unpack_fields(HEADER_FIELDS, check_crc(data, size_of(HEADER_FIELDS), ".mlpz file"), "header")
    section, tensors, payload, sizes = unpack_body(rest)
    params, tail = unpack_fields(SECTION, section, ".mlpz section")
    config = MLPConfig(params["depth"], params["width"], head["inputs"], head["classes"])
    layers = [Layer()] * (config.depth + 1)
    if params["layout"] == 1:
        layers = []
        for k, (o, i) in enumerate(config.layer_shapes()):
            row, tail = unpack_fields(LAYER_FIELDS, tail, f".mlpz layer {k}")
            layer = Layer(row["rank"], row["masks"])
            if layer.rank > min(o, i) or (layer.rank == 0 and layer.masks > 1):
                raise BitstreamError(f".mlpz layer {k}: rank {layer.rank} and masks {layer.masks} do not fit "
                                     f"a {o}x{i} weight")
            layers.append(layer)
    manifold = None
    if params["layout"] >= 2:
        row, tail = unpack_fields(MCNC_FIELDS, tail, ".mlpz manifold")
        manifold = manifold_from_fields(row)
    if tail:
        raise BitstreamError(f".mlpz section has {len(tail)} unexpected bytes")
    listed = items(config, layers, manifold)
    stored = sum(math.prod(shape) for kind, shape in listed if kind != "mask")
    generator = sum(o * i + o for o, i in manifold.layer_shapes()) if manifold else 0
    size = max(stored, config.num_params()) + generator
    if size > MAX_PARAMETERS:
        raise LimitError(f"an MLP of {size} parameters (generator included) exceeds the limit of {MAX_PARAMETERS}")
    if manifold and manifold.chunks(config.num_params()) * manifold.macs_per_chunk() > MAX_GENERATOR_WORK:
        raise LimitError(f"expanding the manifold needs more than {MAX_GENERATOR_WORK:.3g} multiply-adds")
    if len(tensors) != len(listed):
        raise BitstreamError(f".mlpz has {len(tensors)} tensor records, its section implies {len(listed)}")
    for k, ((kind, _), t) in enumerate(zip(listed, tensors)):
        if kind == "mask" and t.bits != 1:
            raise BitstreamError(f".mlpz tensor record {k} is a mask: it must be 1-bit, not {t.bits}")
    steps = [name for name, bit in STEPS.items() if params["steps"] & bit]
    return Compressed(config, layers, manifold, params["layout"] == 3, steps, tensors, payload,
                      {"header": size_of(HEADER_FIELDS), **sizes, "crc": 4})


def decode(data: bytes) -> tuple[MLPConfig, list[np.ndarray]]:
    """The MLP a ``.mlpz`` holds: its config and float32 tensors (weight (out, in), bias, per layer).

    A pruned matrix is zero where its mask says so; a factored weight is U times V, computed in
    float64 and rounded to float32 once."""
    c = unpack(data)
    dec = Decoder(c.payload)
    if c.manifold is not None:
        return c.config, _expand(c, dec)
    values: list[np.ndarray] = []
    mask = None
    for (kind, shape), t in zip(items(c.config, c.layers), c.tensors):
        if kind == "mask":
            mask = dec.take(math.prod(shape), 1, t.model, t.scale_bf16) > 0
            continue
        n = int(mask.sum()) if mask is not None else math.prod(shape)
        v = dequantize(dec.take(n, t.bits, t.model, t.scale_bf16), t.offset_bf16, t.step_bf16)
        if mask is not None:
            full = np.zeros(math.prod(shape), np.float32)
            full[mask] = v
            v, mask = full, None
        values.append(v.reshape(shape))
    tensors, pos = [], 0
    for layer in c.layers:
        mats = values[pos:pos + (1 if layer.rank == 0 else 2)]
        pos += len(mats)
        weight = mats[0] if len(mats) == 1 else (mats[0].astype(np.float64) @ mats[1].astype(np.float64))
        tensors += [weight.astype(np.float32), values[pos]]
        pos += 1
    return c.config, tensors


def seeded_theta0(config: MLPConfig, manifold: Manifold) -> np.ndarray:
    """Layout 3's theta0: mlp.seeded_init from the manifold's seed at mcnc.THETA0_START, flat (float32)."""
    from .mcnc import THETA0_START
    from .mlp import seeded_init

    return np.concatenate([t.reshape(-1) for t in seeded_init(config, manifold.seed, THETA0_START)])


def _expand(c: Compressed, dec: Decoder) -> list[np.ndarray]:
    """The MLP's tensors from the manifold's alpha and beta (torch, float32)."""
    import torch

    from .mcnc import expand, generator_tensors

    coded = [dequantize(dec.take(math.prod(shape), t.bits, t.model, t.scale_bf16), t.offset_bf16, t.step_bf16)
             .reshape(shape) for (_, shape), t in zip(items(c.config, c.layers, c.manifold), c.tensors)]
    weights = [torch.from_numpy(w) for w in generator_tensors(c.manifold)]
    theta0 = torch.from_numpy(seeded_theta0(c.config, c.manifold)) if c.theta0 else None
    with torch.no_grad():
        flat = expand(c.manifold, weights, torch.from_numpy(coded[0]), torch.from_numpy(coded[1]),
                      c.config.num_params(), theta0).numpy()
    out, pos = [], 0
    for shape in c.config.tensor_shapes():
        out.append(flat[pos:pos + math.prod(shape)].reshape(shape).copy())
        pos += math.prod(shape)
    return out


def describe(data: bytes) -> dict[str, Any]:
    """What ``mlpzip info`` shows: architecture, techniques, depths and bytes per part (no payload decoded)."""
    c = unpack(data)
    stored = sum(math.prod(shape) for kind, shape in items(c.config, c.layers, c.manifold) if kind != "mask")
    return {"format": "mlpz", "version": VERSION, "depth": c.config.depth, "width": c.config.width,
            "inputs": c.config.inputs, "input_layout": describe_inputs(c.config.inputs), "classes": c.config.classes, "parameters": c.config.num_params(),
            "stored_values": stored, "ranks": [lay.rank for lay in c.layers],
            "pruned": [bool(lay.masks) for lay in c.layers], "steps": c.steps,
            "manifold": None if c.manifold is None else {"chunk": c.manifold.d, "k": c.manifold.k,
                                                         "L": c.manifold.bound, "pairs": c.manifold.m,
                                                         "seed": c.manifold.seed,
                                                         "theta0": "seeded" if c.theta0 else "zero"},
            "tensor_bits": [t.bits for t in c.tensors],
            "entropy_models": sorted({MODEL_NAMES[t.model] for t in c.tensors}), "bytes": len(data),
            "section_bytes": c.sizes, "bits_per_parameter": round(8 * len(data) / max(1, c.config.num_params()), 4)}
