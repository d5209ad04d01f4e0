"""Entropy coding of integer latent grids with an autoregressive model (numpy only, no torch).

Every latent is coded with a probability that depends on already-decoded neighbours in its
own grid: a small MLP (the ARM) maps ``len(context)`` causal neighbours to a Laplace mean and
log-scale. To make decoding identical on every machine, nothing that drives the range coder
is computed in floating point from the stream:

- the ARM runs in int64 fixed point: its inputs are integer latents, its weights integers at
  step ``2**-shift``, each layer is ``(W @ a) >> shift + b`` with ReLU as ``max(0, .)``;
- its two outputs pick a row of :func:`laplace_table` (integer symbol frequencies of a
  quantized Laplace for ``MEAN_STEPS`` fractional means and ``SCALES`` log-spaced scales);
  the table is built from correctly rounded ``decimal`` exponentials and IEEE basic
  arithmetic, and pinned by ``TABLE_SHA256``: a machine that built another table refuses to
  code rather than decode garbage;
- constriction codes each latent with ``Categorical(perfect=False)`` from that row's exact
  integer frequencies.

Latents lie in ``[-LATENT_MAX, LATENT_MAX]``. Coding order is by wavefront so that a decoder
can batch: latent (r, c) of any grid has ``t = c + 2 r``; every neighbour in ``NEIGHBOURS``
has a smaller ``t``, so all latents of one ``t`` (over every grid) decode together. Symbols
are ordered by (t, grid, row).
"""
from __future__ import annotations

import decimal
import functools
import hashlib

import numpy as np

# Causal neighbours (dy, dx) in the order the context uses them (the first ``context`` of them).
NEIGHBOURS: list[tuple[int, int]] = [(0, -1), (-1, 0), (-1, -1), (-1, 1), (0, -2), (-2, 0), (-2, -1),
                                     (-2, 1), (-1, -2), (0, -3), (-3, 0), (-2, -2)]
LATENT_MAX = 63  # latents are clipped to [-63, 63]
MEAN_STEPS = 16  # fractional positions of the mean within an integer
LOG_SCALE_MIN, LOG_SCALE_MAX = -4.0, 4.0  # natural log of the Laplace scale
SCALES_PER_E = 8  # scale rows per unit of log-scale
SCALES = int((LOG_SCALE_MAX - LOG_SCALE_MIN) * SCALES_PER_E)
FREQ_BITS = 16  # a row's frequencies are floor(p * 2^16) + 1
TABLE_SHA256 = "3b47b78b41ba60e018a204e4059cbc25059b3c1faefbc5d165b913b2809315b8"
_PAD = 3  # rows above and columns left of a grid that contexts may read (zeros)


def grid_shapes(height: int, width: int, levels: int, first: int = 0) -> list[tuple[int, int]]:
    """Shapes of the grids at 1/2^first .. 1/2^(first+levels-1) of the image, finest first."""
    return [(-(-height // 2 ** i), -(-width // 2 ** i)) for i in range(first, first + levels)]


@functools.lru_cache(maxsize=1)
def laplace_table() -> np.ndarray:
    """(MEAN_STEPS, SCALES, 4*LATENT_MAX+1) int64 frequencies of symbol ``r = y - round(mean)``.

    Row (f, s) is a Laplace of scale ``exp(LOG_SCALE_MIN + (s + 0.5) / SCALES_PER_E)`` centred
    at ``delta = (f + 0.5) / MEAN_STEPS - 0.5`` integrated over [r - 0.5, r + 0.5]: for r >= 1
    ``0.5 exp(-(r - 0.5 - delta) / b) (1 - exp(-1 / b))``, mirrored for r <= -1, and the rest at
    r = 0. The exponentials come from ``decimal`` (correctly rounded); powers are built by
    repeated IEEE multiplication, so the table is the same on every machine.
    """
    ctx = decimal.Context(prec=30)
    half = (4 * LATENT_MAX + 1) // 2
    deltas = [(f + 0.5) / MEAN_STEPS - 0.5 for f in range(MEAN_STEPS)]  # exact binary fractions
    rows = np.zeros((MEAN_STEPS, SCALES, 2 * half + 1), np.int64)
    for s in range(SCALES):
        inv_b = ctx.exp(-decimal.Decimal(LOG_SCALE_MIN + (s + 0.5) / SCALES_PER_E))
        e1 = float(ctx.exp(-inv_b))
        for f, delta in enumerate(deltas):
            up = float(ctx.exp(-(decimal.Decimal(0.5) - decimal.Decimal(delta)) * inv_b))  # P(x > 0.5) * 2
            down = float(ctx.exp(-(decimal.Decimal(0.5) + decimal.Decimal(delta)) * inv_b))  # P(x < -0.5) * 2
            p = np.empty(2 * half + 1)
            p[half] = 1.0 - 0.5 * up - 0.5 * down
            a, b = 0.5 * up * (1.0 - e1), 0.5 * down * (1.0 - e1)
            for r in range(1, half + 1):
                p[half + r], p[half - r] = a, b
                a, b = a * e1, b * e1
            rows[f, s] = np.floor(p * (1 << FREQ_BITS)).astype(np.int64) + 1
    return rows


def check_table() -> None:
    """Raise RuntimeError if this machine built a table other than the specified one."""
    digest = hashlib.sha256(laplace_table().astype("<i8").tobytes()).hexdigest()
    if digest != TABLE_SHA256:
        raise RuntimeError(f"the latent probability table built on this machine ({digest[:16]}...) differs "
                           "from the specified one: refusing to code latents")


def arm_forward(ctx: np.ndarray, layers: list[tuple[np.ndarray, np.ndarray]], shift: int) -> np.ndarray:
    """Fixed-point ARM: (n, C) int64 neighbours -> (n, 2) int64 (mean, log-scale) at step 2^-shift.

    ``layers`` are (weight (out, in), bias (out,)) int64 pairs at step 2^-shift; every layer but
    the last is followed by ReLU.
    """
    a = ctx.astype(np.int64) << shift
    for k, (w, b) in enumerate(layers):
        a = ((a @ w.T) >> shift) + b
        if k < len(layers) - 1:
            a = np.maximum(a, 0)
    return a


def table_rows(out: np.ndarray, shift: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(centre, mean step, scale row) per latent from the ARM's fixed-point outputs."""
    one = np.int64(1) << shift
    m = np.clip(out[:, 0], -LATENT_MAX * one, LATENT_MAX * one)
    ls = np.clip(out[:, 1], -64 * one, 64 * one) - int(LOG_SCALE_MIN) * one
    centre = (m + (one >> 1)) >> shift
    frac = (((m - (centre << shift)) + (one >> 1)) * MEAN_STEPS) >> shift
    scale = np.clip((ls * SCALES_PER_E) >> shift, 0, SCALES - 1)
    return centre, np.clip(frac, 0, MEAN_STEPS - 1), scale


def frequencies(centre: np.ndarray, frac: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """(n, 2*LATENT_MAX+1) float64 frequencies of y = -LATENT_MAX..LATENT_MAX (exact integers)."""
    start = LATENT_MAX - centre  # index of y = -LATENT_MAX in a row of r = y - centre
    cols = start[:, None] + np.arange(2 * LATENT_MAX + 1)
    return laplace_table()[frac[:, None], scale[:, None], cols].astype(np.float64)


class CodingOrder:
    """Where each latent lives in one zero-padded buffer holding every grid, in coding order.

    ``position[i]`` is the buffer index of the i-th coded latent and :meth:`neighbours` those of
    its context; ``bounds`` are where each wavefront starts (and the end). About 17 bytes per
    latent, so the decoder's memory is bounded by its limit on latents.
    """

    def __init__(self, shapes: list[tuple[int, int]], context: int) -> None:
        self.shapes = shapes
        offsets, size, pos, grid, keys, steps = [], 0, [], [], [], []
        for g, (h, w) in enumerate(shapes):
            pw = w + 2 * _PAD
            offsets.append(size)
            r, c = np.divmod(np.arange(h * w, dtype=np.int64), w)
            pos.append(size + (r + _PAD) * pw + c + _PAD)
            grid.append(np.full(h * w, g, np.int8))
            keys.append(c + 2 * r)
            steps.append([dy * pw + dx for dy, dx in NEIGHBOURS[:context]])
            size += (h + _PAD) * pw
        # (t, grid, row) order: a stable sort by t of latents listed by grid, then row-major
        t = np.concatenate(keys)
        order = np.argsort(t, kind="stable")
        self.position = np.concatenate(pos)[order]
        self.grid = np.concatenate(grid)[order]
        self._steps = np.array(steps, np.int64)
        t = t[order]
        self.bounds = np.flatnonzero(np.diff(t, prepend=-1, append=t[-1] + 1))
        self.size, self._offsets = size, offsets

    def neighbours(self, a: int, b: int) -> np.ndarray:
        """(b - a, context) buffer indices of the contexts of coded latents a..b-1."""
        return self.position[a:b, None] + self._steps[self.grid[a:b]]

    def buffer(self, grids: list[np.ndarray]) -> np.ndarray:
        """A zero-padded int64 buffer holding ``grids``."""
        buf = np.zeros(self.size, np.int64)
        for view, g in zip(self._views(buf), grids, strict=True):
            view[...] = g
        return buf

    def unpack(self, buf: np.ndarray) -> list[np.ndarray]:
        """The grids held in ``buf``."""
        return [view.copy() for view in self._views(buf)]

    def _views(self, buf: np.ndarray) -> list[np.ndarray]:
        out = []
        for (h, w), off in zip(self.shapes, self._offsets):
            padded = buf[off:off + (h + _PAD) * (w + 2 * _PAD)].reshape(h + _PAD, w + 2 * _PAD)
            out.append(padded[_PAD:, _PAD:_PAD + w])
        return out


def encode_latents(encoder, grids: list[np.ndarray], layers: list[tuple[np.ndarray, np.ndarray]], shift: int,
                   context: int, chunk: int = 1 << 15) -> None:
    """Code integer ``grids`` (values in [-LATENT_MAX, LATENT_MAX]) into an :class:`inrcodec.entropy.Encoder`."""
    check_table()
    order = CodingOrder([g.shape for g in grids], context)
    buf = order.buffer(grids)
    if np.abs(buf).max(initial=0) > LATENT_MAX:
        raise ValueError(f"latents outside [-{LATENT_MAX}, {LATENT_MAX}]")
    for a in range(0, order.position.size, chunk):
        rows = table_rows(arm_forward(buf[order.neighbours(a, a + chunk)], layers, shift), shift)
        encoder.add_categorical(buf[order.position[a:a + chunk]] + LATENT_MAX, frequencies(*rows))


def decode_latents(decoder, shapes: list[tuple[int, int]], layers: list[tuple[np.ndarray, np.ndarray]],
                   shift: int, context: int) -> list[np.ndarray]:
    """Inverse of :func:`encode_latents`, one wavefront at a time."""
    check_table()
    order = CodingOrder(shapes, context)
    buf = np.zeros(order.size, np.int64)
    for a, b in zip(order.bounds[:-1], order.bounds[1:]):
        rows = table_rows(arm_forward(buf[order.neighbours(a, b)], layers, shift), shift)
        buf[order.position[a:b]] = decoder.take_categorical(frequencies(*rows)) - LATENT_MAX
    return order.unpack(buf)
