"""The soft quantizer of Quantization Networks (Yang et al., CVPR 2019), for training only.

Per tensor: ``y = alpha * (sum_i sigmoid(T * (beta * x - b_i)) - L)`` over the boundaries
``b_i = i + 1/2``, i = -L .. L-1, of the uniform levels -L .. L (L = 2^(bits-1) - 1: the
symbol range of a tensor record of that depth). ``alpha`` and ``beta`` are learned, the
boundaries are fixed, and the temperature T rises during training; at inference the sigmoid
becomes a step, ``y = alpha * clamp(round(beta * x), -L, L)``, which is what a stream stores:
the integers and ``alpha`` as the quantizer step (offset 0). At 1 bit (the paper's binary case,
one boundary at 0) the levels are -1 and +1: ``y = alpha * (2 sigmoid(T beta x) - 1)``, and
``alpha * sign(beta x)`` at inference.

Only the four boundaries around ``beta * x`` are summed as sigmoids; the others count as 0 or 1.
For 2 and 3 bits that is the whole sum; for more bits it differs from the full sum by at most
``2 / (1 + e^(1.5 T))``, and both tend to the same step as T grows, at a cost that does not
depend on the bit depth.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from .quantize import from_bf16_bits, max_level, to_bf16_bits


def soft_levels(z: torch.Tensor, levels: int, temperature: float) -> torch.Tensor:
    """The relaxed level index of ``z`` (already scaled by beta): tends to clamp(round(z), -L, L)."""
    fz = torch.floor(z.detach()).clamp(-levels - 2, levels + 2)
    below = (fz + levels - 2).clamp(0, 2 * levels)  # boundaries left of the window, each counting 1
    out = below - levels
    for k in (-2, -1, 0, 1):
        j = fz + k  # boundary j + 1/2, valid for -L <= j <= L-1
        valid = (j >= -levels) & (j <= levels - 1)
        out = out + torch.where(valid, torch.sigmoid(temperature * (z - j - 0.5)), torch.zeros_like(z))
    return out


class SoftQuantizer(nn.Module):
    """Learned alpha and beta of one tensor at ``bits`` bits (1..16), initialized so that the
    largest weight lands on the largest level (alpha = max|w| / L in bfloat16, beta = 1 / alpha;
    at 1 bit alpha = mean|w|, the binary scale of least squared error).

    The paper's beta = (5 L / 4) / max|w| clips the top fifth of the range: harmless for
    ImageNet weights, but a SIREN's largest weights carry its frequencies (a fitted 5x27's
    hidden layers lost 7.5 dB at 8 bits that way, against 0.1 dB without clipping)."""

    def __init__(self, weight: torch.Tensor, bits: int, tied: bool = True):
        super().__init__()
        self.levels = max_level(bits)
        self.binary = bits == 1
        if self.binary:
            alpha = float(from_bf16_bits(to_bf16_bits(float(weight.detach().abs().mean()) or 1.0)))
        else:
            peak = float(weight.detach().abs().max()) or 1.0
            alpha = float(from_bf16_bits(to_bf16_bits(peak / self.levels, round_up=True)))  # the stream stores bf16
        self.log_alpha = nn.Parameter(torch.tensor(math.log(alpha)))
        # beta tied to 1 / alpha (one learned step, as in LSQ): learning both apart, as the paper
        # does, let alpha x beta drift from 1 and rescaled every decoded tensor (kodim23, 8 bits:
        # 27.5 dB after QAT against 28.8 with post-training quantization).
        self.tied = tied
        self.log_beta = nn.Parameter(torch.tensor(-math.log(alpha)), requires_grad=not tied)

    def alpha(self) -> torch.Tensor:
        """alpha rounded to bfloat16 as the stream stores it (straight-through for its gradient):
        training with the float value gave every tensor a scale error of up to 0.4% at decode."""
        a = self.log_alpha.exp()
        return a + (a.to(torch.bfloat16).to(torch.float32) - a).detach()

    def forward(self, w: torch.Tensor, temperature: float | None) -> torch.Tensor:
        """The soft-quantized tensor (differentiable in w, alpha and beta); with ``temperature``
        None, the hard levels with a straight-through gradient instead (for comparison)."""
        z = w / self.alpha() if self.tied else self.log_beta.exp() * w
        if temperature is None:
            zc = z.clamp(-self.levels, self.levels)
            return self.alpha() * (zc + (_hard_levels(zc, self.binary) - zc).detach())
        if self.binary:
            return self.alpha() * (2 * torch.sigmoid(temperature * z) - 1)
        return self.alpha() * soft_levels(z, self.levels, temperature)

    @torch.no_grad()
    def hard(self, w: torch.Tensor) -> tuple[torch.Tensor, int]:
        """(integer levels, alpha as bfloat16 bits): exactly what the decoder will rebuild."""
        scaled = w / self.alpha() if self.tied else self.log_beta.exp() * w
        q = _hard_levels(scaled.clamp(-self.levels, self.levels), self.binary).to(torch.int32)
        return q, to_bf16_bits(float(self.alpha()))

    @torch.no_grad()
    def dequantized(self, w: torch.Tensor) -> torch.Tensor:
        """alpha (bfloat16) times the integer levels, in float32: the decoder's values."""
        q, alpha_bits = self.hard(w)
        return q.to(torch.float32) * float(from_bf16_bits(alpha_bits))


def _hard_levels(z: torch.Tensor, binary: bool) -> torch.Tensor:
    """The nearest level: round(z), or at 1 bit the sign of z (0 counts as +1)."""
    return torch.where(z >= 0, 1.0, -1.0) if binary else torch.round(z)


def temperature_at(progress: float, start: float = 10.0, end: float = 1000.0) -> float:
    """T rises geometrically from ``start`` to ``end`` over the quantization-aware phase.

    Measured on a 96x64 crop of kodim23 (5x27, 300 float + 300 QAT steps, first layer 14 bits):
    4-bit weights reached 28.19 dB with T from 1 to 200, 33.07 from 10 to 1000 and 32.26 from 30 to
    3000 (float: 33.26); 2-bit stayed poor with all three (11.4, 14.4, 21.3 dB)."""
    return start * (end / start) ** min(1.0, max(0.0, progress))
