"""Latent grids (in the line of Cool-chic): integer latent grids at several resolutions, a tiny
synthesis network, and an autoregressive entropy model of the latents.

Decode side (module level, no training code): the section gives the grids and the networks'
sizes; the tensor records hold the synthesis weights (post-training quantized) and the ARM's
integer weights (offset 0, step 2^-arm_shift); after them in the same payload come the
latents, coded by :mod:`inrcodec.latents`. Decoding upsamples every grid to the synthesis size
(the image's, or half of it with sub-pixel outputs), concatenates them per position, runs the
1x1 synthesis layers (ReLU between) and then the 3x3 residual convolutions.
Encode side (:func:`encode`, in :mod:`inrcodec.methods.grid_encode` and its model
:mod:`inrcodec.methods.grid_model`): fit latents and networks with rate in the loss, lambda
chosen for the budget.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..bitstream import BitstreamError, Field, Stream, pack_fields, unpack_fields
from ..latents import NEIGHBOURS, decode_latents, grid_shapes
from ..quantize import from_bf16_bits, weight_bits
from . import METHOD_IDS, EncodeOptions, Fitted

ID = METHOD_IDS["grid"]
NAME = "grid"
SUMMARY = "latent grids + tiny synthesis network, latents coded by an integer autoregressive model"
VARIANTS = "grid (rate control by lambda)"
UPSAMPLING = {0: "bilinear", 1: "bicubic", 2: "bilinear to half size, 2x2 sub-pixel outputs",
              3: "full-size grid as 2x2 blocks, the others bilinear to half size, 2x2 sub-pixel outputs"}
_RESIZE = {0: "bilinear", 1: "bicubic", 2: "bilinear", 3: "bilinear"}  # torch's interpolation mode for each
SECTION: list[Field] = [
    Field("levels", "B", "number of one-channel latent grids", 1, 8),
    Field("first_level", "B", "the finest grid is 1/2^first_level of the image per side", 0, 4),
    Field("upsampling", "B", "0 bilinear, 1 bicubic (align_corners false) to the image size; 2 bilinear to "
          "half the size, the last 1x1 layer giving a 2x2 block of pixels; 3 as 2, the full-size grid "
          "(first_level 0) entering as its 2x2 blocks", choices=tuple(UPSAMPLING)),
    Field("syn_layers", "B", "hidden 1x1 synthesis layers (ReLU after each)", 0, 4),
    Field("syn_width", "B", "channels of the hidden synthesis layers", 1, 64),
    Field("res_convs", "B", "3x3 residual convolutions after the 1x1 layers (ReLU before each but the first)",
          0, 4),
    Field("context", "B", "causal neighbours the ARM sees (latents.NEIGHBOURS)", 1, len(NEIGHBOURS)),
    Field("arm_width", "B", "hidden width of the ARM's two hidden layers", 1, 32),
    Field("arm_shift", "B", "fixed-point bits of the ARM's weights and outputs", 4, 16),
]


def read_section(stream: Stream) -> dict[str, Any]:
    """Grid and network sizes from the method section (validated from ``SECTION``)."""
    params, tail = unpack_fields(SECTION, stream.section, "grid method section")
    if tail:
        raise BitstreamError(f"grid method section has {len(tail)} unexpected bytes")
    if params["upsampling"] == 3 and params["first_level"] != 0:
        raise BitstreamError("grid method section: upsampling 3 needs a full-size grid (first_level 0)")
    params["latents"] = sum(h * w for h, w in grid_shapes(stream.height, stream.width, params["levels"],
                                                           params["first_level"]))
    return params


def pack_section(params: dict[str, Any]) -> bytes:
    """The method section for ``params`` (the fields of ``SECTION``; other keys are ignored)."""
    return pack_fields(SECTION, {f.name: params[f.name] for f in SECTION})


def sub_pixel(params: dict[str, Any]) -> bool:
    """Whether the 1x1 layers run at half size and give 2x2 blocks of pixels (upsampling 2 and 3)."""
    return params["upsampling"] in (2, 3)


def synthesis_inputs(params: dict[str, Any]) -> int:
    """Channels into the first 1x1 layer: one per grid, four for a grid taken as 2x2 blocks."""
    return params["levels"] + (3 if params["upsampling"] == 3 else 0)


def synthesis_shapes(params: dict[str, Any], channels: int) -> list[tuple[int, ...]]:
    """Weight and bias of each 1x1 layer, then of each 3x3 residual convolution."""
    shapes, n_in = [], synthesis_inputs(params)
    for _ in range(params["syn_layers"]):
        shapes += [(params["syn_width"], n_in), (params["syn_width"],)]
        n_in = params["syn_width"]
    out = channels * 4 if sub_pixel(params) else channels
    shapes += [(out, n_in), (out,)]
    for _ in range(params["res_convs"]):
        shapes += [(channels, channels, 3, 3), (channels,)]
    return shapes


def arm_shapes(params: dict[str, Any]) -> list[tuple[int, ...]]:
    """The ARM's three layers: context -> width -> width -> 2 (mean, log-scale)."""
    c, w = params["context"], params["arm_width"]
    return [(w, c), (w,), (w, w), (w,), (2, w), (2,)]


def layout(params: dict[str, Any], channels: int) -> list[tuple[int, ...]]:
    """Synthesis tensors, then the ARM's (the latents follow in the payload, not as records)."""
    return synthesis_shapes(params, channels) + arm_shapes(params)


def shapes_of_grids(stream: Stream, params: dict[str, Any]) -> list[tuple[int, int]]:
    """Shape of every latent grid, finest first."""
    return grid_shapes(stream.height, stream.width, params["levels"], params["first_level"])


def _latents_per_pixel(params: dict[str, Any]) -> float:
    return sum(4.0 ** -(params["first_level"] + i) for i in range(params["levels"]))


def work_per_pixel(params: dict[str, Any], channels: int) -> int:
    """Multiply-adds per pixel: upsampling, synthesis, and the ARM per latent (rounded up)."""
    taps = 16 if params["upsampling"] == 1 else 4
    shapes = [s for s in synthesis_shapes(params, channels) if len(s) > 1]
    per_position = 1 / 4 if sub_pixel(params) else 1  # sub-pixel: the 1x1 layers run at half size
    syn = sum(math.prod(s) * (1 if len(s) == 4 else per_position) for s in shapes)
    arm = sum(math.prod(s) for s in arm_shapes(params) if len(s) > 1)
    return math.ceil(taps * params["levels"] * per_position + syn + arm * _latents_per_pixel(params))


def decoded_parameters(params: dict[str, Any], channels: int) -> int:
    """Weights plus latents: what the decoder materializes (bounded by ``max_parameters``)."""
    return sum(math.prod(s) for s in layout(params, channels)) + params["latents"]


def _arm_layers(params: dict[str, Any], tensors: list[np.ndarray], stream: Stream) -> list[tuple[np.ndarray, np.ndarray]]:
    n_syn = len(synthesis_shapes(params, stream.channels))
    step = 2.0 ** -params["arm_shift"]
    ints = []
    for k, t in enumerate(tensors[n_syn:n_syn + 6]):
        rec = stream.tensors[n_syn + k]
        if from_bf16_bits(rec.offset_bf16) != 0 or from_bf16_bits(rec.step_bf16) != step:
            raise BitstreamError(f"tensor record {n_syn + k}: ARM weights need offset 0 and step 2^-arm_shift")
        ints.append(np.rint(t.astype(np.float64) / step).astype(np.int64))
    return [(ints[0], ints[1]), (ints[2], ints[3]), (ints[4], ints[5])]


def decode_symbols(stream: Stream, params: dict[str, Any], tensors: list[np.ndarray], decoder) -> list[np.ndarray]:
    """The latent grids (int64), read from the payload after the records' tensors."""
    return decode_latents(decoder, shapes_of_grids(stream, params), _arm_layers(params, tensors, stream),
                          params["arm_shift"], params["context"])


def reconstruct(stream: Stream, params: dict[str, Any], tensors: list[np.ndarray], device: str) -> np.ndarray:
    """Upsample the latents, run the synthesis, round to 8 bits."""
    import torch

    n_syn = len(synthesis_shapes(params, stream.channels))
    syn = [torch.from_numpy(np.asarray(t, np.float32)).to(device) for t in tensors[:n_syn]]
    grids = [torch.from_numpy(np.asarray(g, np.float32)).to(device) for g in tensors[n_syn + 6:]]
    with torch.no_grad():
        x = synthesize(grids, syn, params, stream.height, stream.width)
        return (torch.nan_to_num(x).clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()


def half_size(height: int, width: int) -> tuple[int, int]:
    """Half of a size per side, rounded up."""
    return -(-height // 2), -(-width // 2)


def synthesis_size(params: dict[str, Any], height: int, width: int) -> tuple[int, int]:
    """Where the 1x1 layers run: the image size, or half of it (rounded up) for sub-pixel outputs."""
    return half_size(height, width) if sub_pixel(params) else (height, width)


def resize_mode(params: dict[str, Any]) -> str:
    """torch's interpolation mode for the grids."""
    return _RESIZE[params["upsampling"]]


def blocks(grid, height: int, width: int):
    """(4, ceil(H/2), ceil(W/2)): a full-size grid's 2x2 blocks (channel 2i + j is pixel (2y + i,
    2x + j)), an odd last row or column repeated."""
    import torch.nn.functional as F

    h, w = half_size(height, width)
    g = grid[None, None]
    if (2 * h, 2 * w) != (height, width):  # a pad of nothing still costs a copy, and 3x that backward
        g = F.pad(g, (0, 2 * w - width, 0, 2 * h - height), mode="replicate")
    return F.pixel_unshuffle(g, 2)[0]


def upsample(grids: list, params: dict[str, Any], height: int, width: int):
    """(1, inputs, h, w) torch tensor: every grid brought to the synthesis size of an H x W image."""
    import torch
    import torch.nn.functional as F

    size = synthesis_size(params, height, width)
    out = []
    for g in grids:
        if params["upsampling"] == 3 and tuple(g.shape) == (height, width):
            out.append(blocks(g, height, width)[None])
        elif tuple(g.shape) == size:
            out.append(g[None, None])
        else:
            out.append(F.interpolate(g[None, None], size=size, mode=resize_mode(params), align_corners=False))
    return torch.cat(out, dim=1)


def synthesize(grids: list, syn: list, params: dict[str, Any], height: int, width: int):
    """(C, H, W) image in [0, 1]-ish from float grids and synthesis tensors (shared with training).

    The 3x3 convolutions run channels-last: three times faster on CPU than the default layout
    for three channels (bench/grid_speed.py)."""
    return synthesis_layers(upsample(grids, params, height, width), syn, params, height, width)


def synthesis_layers(x, syn: list, params: dict[str, Any], height: int, width: int, pad=None):
    """(C, H, W) image from the upsampled latents ``x`` ((1, levels, h, w) or (levels, h * w) at the
    synthesis size). ``pad`` (default: ``F.pad``, mode replicate) pads a (1, C, H, W) tensor by one
    on each side for the 3x3 convolutions; training passes one with a faster backward."""
    import torch
    import torch.nn.functional as F

    h, w = synthesis_size(params, height, width)
    x = x.reshape(-1, h * w)
    k = 0
    for _ in range(params["syn_layers"]):  # 1x1 layers as matrix products: 12% faster than conv2d
        x = torch.relu(torch.addmm(syn[k + 1][:, None], syn[k], x))
        k += 2
    x = torch.addmm(syn[k + 1][:, None], syn[k], x).reshape(1, -1, h, w)
    if sub_pixel(params):  # output channel 4c + 2i + j is pixel (2y + i, 2x + j) of channel c
        x = F.pixel_shuffle(x, 2)[:, :, :height, :width]
    x = x.contiguous(memory_format=torch.channels_last)
    k += 2
    for r in range(params["res_convs"]):
        h = x if r == 0 else torch.relu(x)
        padded = F.pad(h, (1, 1, 1, 1), mode="replicate") if pad is None else pad(h)
        x = x + F.conv2d(padded, syn[k], syn[k + 1])
        k += 2
    return x[0]


def describe(stream: Stream, params: dict[str, Any]) -> dict[str, Any]:
    """Grids, networks and their bit depths."""
    shapes = layout(params, stream.channels)
    sizes = [math.prod(s) for s in shapes]
    n_syn = len(synthesis_shapes(params, stream.channels))
    return {"grids": [list(s) for s in shapes_of_grids(stream, params)],
            "upsampling": UPSAMPLING[params["upsampling"]],
            "synthesis": f"{params['syn_layers']}x{params['syn_width']} 1x1, {params['res_convs']} 3x3 residual",
            "arm": f"{params['context']} neighbours -> {params['arm_width']} -> {params['arm_width']} -> 2, "
                   f"fixed point 2^-{params['arm_shift']}",
            "parameters": sum(sizes), "bits": weight_bits([t.bits for t in stream.tensors[:n_syn]], sizes[:n_syn])}


def check_options(options: EncodeOptions) -> None:
    """Refuse grid options that no image can satisfy."""
    from .grid_encode import check_grid_options

    check_grid_options(options)


def fits(shape: tuple[int, ...], options: EncodeOptions) -> bool:
    """Whether the budget leaves the grid room for latents on an image of ``shape`` (H, W, C)."""
    from .grid_encode import too_small

    return too_small(shape, options) is None


def bench_options(name: str, rate: float) -> dict[str, Any] | None:
    """``grid`` in the bench: rate control at ``rate`` bpp."""
    return {"bpp": rate} if name == NAME else None


def encode(image: np.ndarray, options: EncodeOptions) -> Fitted:
    """Fit latents and networks to ``image`` within ``options.bpp``."""
    from .grid_encode import encode as fit

    return fit(image, options)
