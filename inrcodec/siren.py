"""The network: a SIREN (sine-activated MLP) mapping pixel coordinates to colours.

This module is shared by the encoder (which trains it) and the decoder (which only
evaluates it), so it holds the architecture and the forward pass, never an optimizer.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn


@dataclass(frozen=True)
class SirenConfig:
    """Architecture of a SIREN.

    ``hidden_layers`` counts the sine layers (COIN's ``num_layers``): the first layer maps
    2 coordinates to ``width`` features, ``hidden_layers - 1`` layers map width to width,
    and a final linear layer maps width to ``out_channels``. COIN's "10x28" is
    ``SirenConfig(10, 28)`` with 7,479 parameters (0.304 bpp at 16 bits on 768x512).

    ``frequencies`` > 0 adds Fourier features of the coordinates to the first layer's input
    (Struempler et al.'s encoding, see :func:`fourier_inputs`): 2 + 4 x frequencies inputs.
    ``freq_scale`` is the ratio of successive frequencies (a bfloat16 value in streams).
    """

    hidden_layers: int
    width: int
    out_channels: int = 3
    w0: float = 30.0
    frequencies: int = 0
    freq_scale: float = 1.3984375  # 1.4 in bfloat16

    @property
    def inputs(self) -> int:
        """Features the first layer reads per pixel."""
        return 2 + 4 * self.frequencies

    def layer_shapes(self) -> list[tuple[int, int]]:
        """(out_features, in_features) of every linear layer, first to last."""
        shapes = [(self.width, self.inputs)]
        shapes += [(self.width, self.width)] * (self.hidden_layers - 1)
        shapes.append((self.out_channels, self.width))
        return shapes

    def tensor_shapes(self) -> list[tuple[int, ...]]:
        """Shapes of every parameter tensor in bitstream order: weight then bias, per layer."""
        out: list[tuple[int, ...]] = []
        for o, i in self.layer_shapes():
            out += [(o, i), (o,)]
        return out

    def num_params(self) -> int:
        """Total number of scalar parameters."""
        return sum(o * i + o for o, i in self.layer_shapes())

    def macs_per_pixel(self) -> int:
        """Multiply-adds of one forward pass for one pixel (what decoding costs; a Fourier
        feature's product and sine or cosine count as one)."""
        return sum(o * i for o, i in self.layer_shapes()) + 4 * self.frequencies

    def describe(self) -> str:
        """``LxW``, with ``+fF`` for F Fourier frequencies (e.g. ``4x61+f16``)."""
        return f"{self.hidden_layers}x{self.width}" + (f"+f{self.frequencies}" if self.frequencies else "")


def fourier_frequencies(count: int, scale: float) -> torch.Tensor:
    """float32 frequencies pi * scale^i, i < count, each computed in float64 and rounded once."""
    return torch.tensor([math.pi * scale ** i for i in range(count)], dtype=torch.float64).to(torch.float32)


def fourier_inputs(coords: torch.Tensor, count: int, scale: float) -> torch.Tensor:
    """(N, 2 + 4 count) float32: (y, x), then sin of every (coordinate, frequency) product, then
    their cos; products in float32, ordered coordinate-major (y's frequencies, then x's)."""
    freqs = fourier_frequencies(count, scale).to(coords.device)
    arg = (coords[:, :, None] * freqs).reshape(len(coords), -1)
    return torch.cat([coords, torch.sin(arg), torch.cos(arg)], 1)


def linear(h: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, bf16: bool = False) -> torch.Tensor:
    """``h @ weight.T + bias``; with ``bf16`` the product runs in bfloat16 (float32 accumulation,
    the result rounded to bfloat16, then float32 again) and the bias is added in float32. A
    training speed-up only (AMX / AVX512-BF16 CPUs and GPUs): decoding is always float32."""
    if not bf16:
        return nn.functional.linear(h, weight, bias)
    with torch.autocast(h.device.type, dtype=torch.bfloat16):
        return nn.functional.linear(h, weight).float() + bias


def sine_layers(h: torch.Tensor, weights: list, biases: list, w0: float, bf16: bool = False) -> torch.Tensor:
    """A SIREN's layers on its inputs: ``sin(w0 * linear(h))`` then a last linear layer. With
    ``bf16`` the layers after the first multiply in bfloat16 (:func:`linear`); the first reads
    coordinates, whose neighbouring pixels bfloat16 would not tell apart."""
    for k, (w, b) in enumerate(zip(weights, biases)):
        h = linear(h, w, b, bf16 and k > 0)
        if k < len(weights) - 1:
            h = torch.sin(w0 * h)
    return h


class Siren(nn.Module):
    """SIREN of Sitzmann et al. (2020) as used by COIN: ``sin(w0 * (W x + b))`` layers."""

    def __init__(self, config: SirenConfig, generator: torch.Generator | None = None):
        super().__init__()
        self.config = config
        self.layers = nn.ModuleList(nn.Linear(i, o) for o, i in config.layer_shapes())
        with torch.no_grad():
            for k, layer in enumerate(self.layers):
                fan_in = layer.in_features
                # SIREN initialisation: U(-1/n, 1/n) for the first layer, U(-sqrt(6/n)/w0, .)
                # afterwards (the last linear layer too, as in COIN).
                bound = 1.0 / fan_in if k == 0 else math.sqrt(6.0 / fan_in) / config.w0
                layer.weight.uniform_(-bound, bound, generator=generator)
                layer.bias.uniform_(-1 / math.sqrt(fan_in), 1 / math.sqrt(fan_in), generator=generator)

    def inputs(self, coords: torch.Tensor) -> torch.Tensor:
        """What the first layer reads: the coordinates, with their Fourier features if any."""
        cfg = self.config
        return fourier_inputs(coords, cfg.frequencies, cfg.freq_scale) if cfg.frequencies else coords

    def forward(self, coords: torch.Tensor) -> torch.Tensor:
        return self.body(self.inputs(coords))

    def body(self, h: torch.Tensor, bf16: bool = False) -> torch.Tensor:
        """The layers on precomputed :meth:`inputs` (training draws batches of them); ``bf16``:
        the training-only mixed precision of :func:`linear`."""
        tensors = self.tensors()
        return sine_layers(h, tensors[0::2], tensors[1::2], self.config.w0, bf16)

    @torch.no_grad()
    def infer(self, coords: torch.Tensor) -> torch.Tensor:
        """``forward`` without autograd, in place: the same values bit for bit, 20% faster."""
        h = self.inputs(coords)
        for layer in self.layers[:-1]:
            h = layer(h).mul_(self.config.w0).sin_()
        return self.layers[-1](h)

    def tensors(self) -> list[torch.Tensor]:
        """Parameter tensors in bitstream order (weight, bias per layer)."""
        out: list[torch.Tensor] = []
        for layer in self.layers:
            out += [layer.weight, layer.bias]
        return out

    @torch.no_grad()
    def load_tensors(self, arrays: list[np.ndarray]) -> None:
        """Set every parameter from float32 arrays in bitstream order."""
        for param, arr in zip(self.tensors(), arrays, strict=True):
            param.copy_(torch.from_numpy(np.asarray(arr, dtype=np.float32).reshape(param.shape)))


def coordinate_grid(height: int, width: int, rows: slice | None = None, cols: slice | None = None) -> torch.Tensor:
    """(N, 2) float32 coordinates in [-1, 1], (y, x) order, row-major; optionally some rows and columns."""
    ys = torch.linspace(-1.0, 1.0, height) if height > 1 else torch.zeros(1)
    xs = torch.linspace(-1.0, 1.0, width) if width > 1 else torch.zeros(1)
    if rows is not None:
        ys = ys[rows]
    if cols is not None:
        xs = xs[cols]
    grid = torch.stack(torch.meshgrid(ys, xs, indexing="ij"), dim=-1)
    return grid.reshape(-1, 2)


@torch.no_grad()
def render(model: Siren, height: int, width: int, chunk_pixels: int = 1 << 14, stride: int = 1) -> np.ndarray:
    """Evaluate ``model`` on every pixel and return an (H, W, C) uint8 image.

    Rows are evaluated in chunks of about ``chunk_pixels`` so memory stays bounded for
    large images; the result does not depend on the chunk size. 16k pixels keep a chunk's
    activations in cache: a 13x71 network renders 768x512 in 0.73 s against 0.97 s at 64k.
    ``stride`` > 1 renders only every stride-th row and column (the same values as the full
    render's ``[::stride, ::stride]``), for cheap scoring of large images during training.
    """
    channels = model.config.out_channels
    sub_h, sub_w = len(range(0, height, stride)), len(range(0, width, stride))
    out = np.empty((sub_h, sub_w, channels), dtype=np.uint8)
    rows_per_chunk = max(1, chunk_pixels // max(sub_w, 1))
    device = next(model.parameters()).device
    for i0 in range(0, sub_h, rows_per_chunk):
        i1 = min(sub_h, i0 + rows_per_chunk)
        coords = coordinate_grid(height, width, slice(i0 * stride, i1 * stride, stride),
                                 slice(None, None, stride)).to(device)
        values = model.infer(coords).clamp_(0.0, 1.0).mul_(255.0).round_()
        out[i0:i1] = values.to(torch.uint8).cpu().numpy().reshape(i1 - i0, sub_w, channels)
    return out
