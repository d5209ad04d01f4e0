"""The latent-grid encoder's trainable model (training code; the decoder never imports this).

Float latents with their training relaxation (soft rounding plus noise, or hard rounding with a
straight-through gradient), the synthesis on them with a training-side upsampling that matches
the decoder's, and the rate of the latents under a float copy of the ARM. What the decoder
computes is in :mod:`inrcodec.methods.grid` and :mod:`inrcodec.latents`.
"""
from __future__ import annotations

import functools
import math
from typing import Any

import torch
import torch.nn.functional as F

from ..latents import LATENT_MAX, LOG_SCALE_MAX, LOG_SCALE_MIN, NEIGHBOURS, grid_shapes
from .grid import arm_shapes, blocks, half_size, resize_mode, synthesis_layers, synthesis_shapes, synthesis_size


def laplace_bits(y, mu, log_scale):
    """-log2 P(y) under a Laplace(mu, exp(log_scale)) integrated over [y - 0.5, y + 0.5] (torch),
    at least 2^-16 (the coder's probability floor is near it)."""
    b = torch.exp(log_scale)

    def cdf(x):
        d = x - mu
        return 0.5 - 0.5 * torch.sign(d) * torch.expm1(-d.abs() / b)

    return -torch.log2((cdf(y + 0.5) - cdf(y - 0.5)).clamp_min(2 ** -16))


class _LaplaceBitsSum(torch.autograd.Function):
    """``laplace_bits(y, mu, log_scale).sum()`` with a hand-written backward: autograd's graph of
    the same dozen elementwise ops costs about twice the time on CPU (bench/grid_speed.py)."""

    @staticmethod
    def forward(ctx, y, mu, log_scale):
        inv_b = torch.exp(-log_scale)
        d1 = (y - mu).add_(0.5)
        d0 = d1 - 1.0
        m1 = torch.expm1(d1.abs().mul_(inv_b).neg_())  # e^(-|d|/b) - 1
        m0 = torch.expm1(d0.abs().mul_(inv_b).neg_())
        p = (torch.sign(d0) * m0).sub_(torch.sign(d1) * m1).mul_(0.5)
        live = p > 2 ** -16
        p.clamp_min_(2 ** -16)
        ctx.save_for_backward(inv_b, d1, d0, m1, m0, p, live)
        return -torch.log2(p).sum()

    @staticmethod
    def backward(ctx, grad):
        inv_b, d1, d0, m1, m0, p, live = ctx.saved_tensors
        k = torch.where(live, grad / (p * math.log(2)), 0.0)  # -dbits/dP
        p1 = (m1 + 1).mul_(inv_b).mul_(0.5)  # densities at the interval's ends
        p0 = (m0 + 1).mul_(inv_b).mul_(0.5)
        dy = (p1 - p0).mul_(k)  # dP/dy = p1 - p0 = -dP/dmu
        ds = (p1 * d1).sub_(p0 * d0).mul_(k)  # dP/dlog_scale = -(p1 d1 - p0 d0)
        return -dy, dy, ds


def laplace_bits_sum(y, mu, log_scale):
    """Sum of :func:`laplace_bits` (equal to float rounding), faster to differentiate."""
    return _LaplaceBitsSum.apply(y, mu, log_scale)


class _MSE(torch.autograd.Function):
    """``torch.mean((x - target) ** 2)`` with ``target`` constant, in two passes forward and one
    backward instead of autograd's six (bench/grid_speed.py)."""

    @staticmethod
    def forward(ctx, x, target):
        # contiguous in one pass whatever the layouts (the synthesis gives channels-last, the target is permuted)
        d = torch.sub(x, target, out=torch.empty_like(target, memory_format=torch.contiguous_format))
        ctx.save_for_backward(d)
        return torch.dot(d.view(-1), d.view(-1)) / d.numel()

    @staticmethod
    def backward(ctx, grad):
        (d,) = ctx.saved_tensors
        return d * (grad * (2.0 / d.numel())), None


def mse(x, target):
    """Mean squared error of ``x`` against a constant ``target`` (the training distortion)."""
    return _MSE.apply(x, target)


def _init(shape: tuple[int, ...], gen, device: str) -> torch.Tensor:
    """Uniform in +-1/sqrt(fan in) for weights (PyTorch's default scale), zero for biases."""
    fan_in = math.prod(shape[1:]) if len(shape) > 1 else 1
    bound = 1 / math.sqrt(fan_in) if len(shape) > 1 else 0.0
    return (torch.rand(shape, generator=gen) * 2 - 1).mul_(bound).to(device)


def soft_round(x, t: float):
    """Agustsson and Theis' soft rounding: tends to round(x) as t -> 0."""
    m = torch.floor(x) + 0.5
    return m + torch.tanh((x - m) / t) / (2 * math.tanh(1 / (2 * t)))


class _NoisySoftRound(torch.autograd.Function):
    """``soft_round(soft_round(x, t) + noise, t)`` (equal to float rounding) with its derivative
    computed in the forward pass and kept as one tensor: autograd's graph of the same ops took
    about twice the time on CPU (bench/grid_speed.py, 2026-12-07)."""

    @staticmethod
    def forward(ctx, x, noise, t: float):
        c = 1 / (2 * math.tanh(1 / (2 * t)))
        m = torch.floor(x).add_(0.5)
        th = torch.tanh((x - m).div_(t))
        deriv = 1 - th * th  # soft_round'(x) * t / c
        z = th.mul_(c).add_(m).add_(noise)  # soft_round(x) + noise
        torch.floor(z, out=m).add_(0.5)
        th = torch.tanh((z - m).div_(t))
        deriv.mul_(1 - th * th).mul_((c / t) ** 2)
        ctx.save_for_backward(deriv)
        return th.mul_(c).add_(m)

    @staticmethod
    def backward(ctx, grad):
        (deriv,) = ctx.saved_tensors
        return grad * deriv, None, None


def noisy_soft_round(x, noise, t: float):
    """Soft rounding, uniform noise, soft rounding again (the training relaxation of the latents)."""
    return _NoisySoftRound.apply(x, noise, t)


class _ReplicatePad1(torch.autograd.Function):
    """``F.pad(x, (1, 1, 1, 1), mode="replicate")`` of a (N, C, H, W) tensor with a hand-written
    backward: PyTorch's took 2-5 ms a step on a channels-last 768x512 image here (2026-12-07)."""

    @staticmethod
    def forward(ctx, x):
        return F.pad(x, (1, 1, 1, 1), mode="replicate")

    @staticmethod
    def backward(ctx, g):
        gx = g[:, :, 1:-1, 1:-1].clone()
        gx[:, :, 0, :] += g[:, :, 0, 1:-1]
        gx[:, :, -1, :] += g[:, :, -1, 1:-1]
        gx[:, :, :, 0] += g[:, :, 1:-1, 0]
        gx[:, :, :, -1] += g[:, :, 1:-1, -1]
        for i in (0, -1):
            for j in (0, -1):
                gx[:, :, i, j] += g[:, :, i, j]
        return gx


def replicate_pad1(x):
    """Pad by one pixel on each side, repeating the edge (training's pad for the 3x3 convolutions)."""
    return _ReplicatePad1.apply(x)


@functools.lru_cache(maxsize=64)
def _taps(n_in: int, n_out: int, mode: str, device: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(n_out, k) source indices and weights of ``F.interpolate`` along one axis (align_corners
    false), read off the interpolation of an identity matrix, so they are PyTorch's own."""
    eye = torch.eye(n_in, dtype=torch.float64)[None, None]
    a = F.interpolate(eye, size=(n_out, n_in), mode=mode, align_corners=False)[0, 0]
    k = int((a != 0).sum(dim=1).max())
    index = torch.topk(a.abs(), k, dim=1).indices
    return index.to(device), torch.gather(a, 1, index).float().to(device)


def upsample_fast(grids: list, params: dict[str, Any], height: int, width: int) -> torch.Tensor:
    """(inputs, h, w) at the synthesis size of an H x W image: :func:`inrcodec.methods.grid.upsample`
    as two separable gathers, equal to float rounding (the decoder keeps ``F.interpolate``); the
    backward pass is about twice as fast on CPU as interpolate's (bench/grid_speed.py)."""
    mode = resize_mode(params)
    full = (height, width)
    height, width = synthesis_size(params, height, width)
    out = []
    for g in grids:
        if params["upsampling"] == 3 and tuple(g.shape) == full:
            out.extend(blocks(g, *full))
            continue
        if tuple(g.shape) == (height, width):
            out.append(g)
            continue
        ih, wh = _taps(g.shape[0], height, mode, str(g.device))
        iw, ww = _taps(g.shape[1], width, mode, str(g.device))
        rows = sum(torch.index_select(g, 0, ih[:, j]) * wh[:, j, None] for j in range(ih.shape[1]))  # (H, w)
        rows = rows.t().contiguous()
        out.append(sum(torch.index_select(rows, 0, iw[:, j]) * ww[:, j, None] for j in range(iw.shape[1])).t())
    return torch.stack(out)


class _Contexts(torch.autograd.Function):
    @staticmethod
    def forward(ctx, sel, n: int, *ys):
        rows = [sel if i == 0 and sel is not None else None for i in range(len(ys))]  # None: every row
        ctx.n, ctx.rows, ctx.shapes = n, rows, [tuple(y.shape) for y in ys]
        counts = [(y.shape[0] if r is None else r.numel()) * y.shape[1] for y, r in zip(ys, rows)]
        out = ys[0].new_empty(n, sum(counts))
        o = 0
        for y, r, m in zip(ys, rows, counts):
            h, w = y.shape
            padded = F.pad(y, (3, 1, 3, 0))
            view = out[:, o:o + m].view(n, m // w, w)
            for t, (dy, dx) in enumerate(NEIGHBOURS[:n]):
                src = padded[:, 3 + dx:3 + dx + w]
                if r is None:
                    view[t].copy_(src[3 + dy:3 + dy + h])
                else:
                    torch.index_select(src, 0, r + 3 + dy, out=view[t])
            o += m
        return out

    @staticmethod
    def backward(ctx, grad):
        grad, n = grad.contiguous(), ctx.n
        grads, o = [], 0
        for (h, w), r in zip(ctx.shapes, ctx.rows):
            k = h if r is None else r.numel()
            view = grad[:, o:o + k * w].view(n, k, w)
            padded = grad.new_zeros(h + 3, w + 4)
            for t, (dy, dx) in enumerate(NEIGHBOURS[:n]):
                dst = padded[:, 3 + dx:3 + dx + w]
                if r is None:
                    dst[3 + dy:3 + dy + h] += view[t]
                else:
                    dst.index_add_(0, r + 3 + dy, view[t])
            grads.append(padded[3:, 3:3 + w])
            o += k * w
        return (None, None, *grads)


def contexts(sel, n: int, *ys):
    """(n, latents): the ``n`` causal neighbours (``NEIGHBOURS``, zero outside the grid) of every
    latent of the grids ``ys``, grid after grid, row-major; of the first grid only its rows
    ``sel`` (a LongTensor, or None for all). Written into one buffer; the backward pass fills one
    zero gradient per grid where autograd's slices and stack filled one per neighbour."""
    return _Contexts.apply(sel, n, *ys)


class GridModel(torch.nn.Module):
    """Latents, synthesis and a float ARM (what the encoder trains)."""

    def __init__(self, params: dict[str, Any], height: int, width: int, channels: int, seed: int, device: str,
                 arm_init: float):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.noise = torch.Generator(device=device).manual_seed(seed + 1)  # training noise, reproducible
        self.params, self.height, self.width = params, height, width
        self.grids = torch.nn.ParameterList(
            [torch.zeros(s, device=device) for s in grid_shapes(height, width, params["levels"], params["first_level"])])
        self.syn = torch.nn.ParameterList([_init(s, gen, device) for s in synthesis_shapes(params, channels)])
        self.arm = torch.nn.ParameterList([_init(s, gen, device) for s in arm_shapes(params)])
        with torch.no_grad():
            k = 2 * (params["syn_layers"] + 1)
            self.syn[k - 1].fill_(0.5)  # the last 1x1 layer starts at mid-grey
            for t in self.syn[k:]:  # residual convolutions start as identity
                t.zero_()
            self.arm[-2].zero_()  # the ARM starts at mean 0 and a narrow scale, as the zero latents are
            self.arm[-1].copy_(torch.tensor([0.0, arm_init]))

    def tensors(self) -> list:
        """Every trained tensor (grids, synthesis, ARM)."""
        return list(self.parameters())

    def quantized(self, mode: str, temperature: float) -> list:
        """The latents as the decoder will see them (hard) or their training relaxation (noise)."""
        out = []
        for g in self.grids:
            g = g.clamp(-LATENT_MAX, LATENT_MAX)
            if mode == "noise":
                noise = torch.rand(g.shape, generator=self.noise, device=g.device).sub_(0.5)
                out.append(noisy_soft_round(g, noise, temperature))
            else:
                out.append(g + (torch.round(g) - g).detach())
        return out

    def forward(self, mode: str, temperature: float = 0.1, coarse: bool = False, rate_rows: float = 1.0,
                rate_mode: str | None = None):
        """(image (C, H, W), estimated bits of every latent); ``coarse`` renders at half the
        size per side (the cheap first phase of training); ``rate_rows`` < 1 estimates the
        largest grid's bits from that fraction of its rows (see :meth:`rate`); ``rate_mode``
        (default ``mode``) is the relaxation the rate is estimated on."""
        ys = self.quantized(mode, temperature)
        h, w = half_size(self.height, self.width) if coarse else (self.height, self.width)
        image = synthesis_layers(upsample_fast(ys, self.params, h, w), self.syn, self.params, h, w, replicate_pad1)
        ys_rate = ys if rate_mode in (None, mode) else self.quantized(rate_mode, temperature)
        return image, self.rate(ys_rate, rate_rows)

    def rate(self, ys: list, rows: float = 1.0):
        """Estimated bits of the latents ``ys`` under the float ARM (channel-major: the latents
        are columns, which runs the small matmuls about twice as fast as rows on CPU). With
        ``rows`` < 1, the first (largest) grid counts only a random ``rows`` of its rows, scaled
        up: an unbiased estimate for training that saves ARM time where the full-size grid
        holds most latents."""
        n = self.params["context"]
        sel, scale = None, 1.0
        h = ys[0].shape[0]
        if rows < 1.0 and h >= 8:
            k = max(1, round(rows * h))
            sel = torch.randperm(h, generator=self.noise, device=ys[0].device)[:k]
            scale = h / k
        a = contexts(sel, n, *ys)
        sym = [ys[0].index_select(0, sel) if sel is not None else ys[0]] + list(ys[1:])
        sym = [y.reshape(-1) for y in sym]
        w1, b1, w2, b2, w3, b3 = self.arm
        a = torch.relu(torch.addmm(b1[:, None], w1, a))
        a = torch.relu(torch.addmm(b2[:, None], w2, a))
        out = torch.addmm(b3[:, None], w3, a)
        mu = out[0].clamp(-LATENT_MAX, LATENT_MAX)
        log_scale = out[1].clamp(LOG_SCALE_MIN, LOG_SCALE_MAX - 0.01)
        symbols = torch.cat(sym)
        if scale == 1.0:
            return laplace_bits_sum(symbols, mu, log_scale)
        m = sym[0].numel()
        return scale * laplace_bits_sum(symbols[:m], mu[:m], log_scale[:m]) + \
            laplace_bits_sum(symbols[m:], mu[m:], log_scale[m:])
