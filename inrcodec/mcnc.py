"""MCNC (Thrash et al., 2024): a network's parameters on a low-dimensional manifold, shared by
the image codec and mlpzip. Decode side only: no optimizer, no training loop.

The flat parameter vector theta (P values) is ``theta0 + delta``; delta is cut into
``ceil(P / d)`` chunks of d values (the last one's surplus is dropped), and each chunk is
``sum_i beta_i * phi(alpha_i)`` over its m pairs, with alpha_i in [-L, L]^k and beta_i a
scalar. phi: R^k -> S^(d-1) is a frozen random sine MLP normalized onto the unit sphere:

    h = sin(w0 (A_1 alpha + c_1)), ..., h = sin(w0 (A_G h + c_G)), u = A_out h + c_out, phi = u / |u|

with G hidden layers of width H. Its weights are regenerated from a seed with the format's
SplitMix64 (``docs/bitstream.md``): layer by layer, weight (row-major, out x in) then bias, all
from one stream, the weight of a layer with n inputs uniform in +-1/n for the first layer and
+-sqrt(6/n)/w0 after it (SIREN's initialization), every bias uniform in +-1/sqrt(n). So the
generator is bit-identical on every machine. What is stored is alpha and beta (quantized and
entropy coded by the caller) and the fields of :class:`Manifold`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .bitstream import BitstreamError, Field, bf16_value
from .prng import uniform_float32


@dataclass(frozen=True)
class Manifold:
    """The generator and chunking: seed, chunk size d, manifold dimension k, input bound L,
    pairs per chunk m, and the generator's hidden width, hidden layers and sine frequency."""

    seed: int
    d: int
    k: int
    bound: float = 20.0
    m: int = 1
    hidden: int = 64
    layers: int = 2
    w0: float = 30.0

    def chunks(self, n_params: int) -> int:
        """Number of chunks covering ``n_params`` values."""
        return max(1, math.ceil(n_params / self.d))

    def coded(self, n_params: int) -> int:
        """Numbers stored per network: m (k + 1) per chunk."""
        return self.chunks(n_params) * self.m * (self.k + 1)

    def layer_shapes(self) -> list[tuple[int, int]]:
        """(out, in) of the generator's linear layers, first to last."""
        dims = [self.k] + [self.hidden] * self.layers + [self.d]
        return [(dims[j + 1], dims[j]) for j in range(len(dims) - 1)]

    def macs_per_chunk(self) -> int:
        """Multiply-adds of one phi evaluation."""
        return self.m * sum(o * i for o, i in self.layer_shapes())


THETA0_START = 1 << 40  # SplitMix64 output index where a seeded theta0 starts (images and MLPs)

# How a stream stores a Manifold (image method 3's section and .mlpz layout 2 both use these rows).
MANIFOLD_FIELDS: list[Field] = [
    Field("seed", "I", "generator seed (SplitMix64)"),
    Field("chunk", "I", "chunk size d", 1, 1 << 24),
    Field("k", "H", "manifold dimension k", 1, 4096),
    Field("bound_bf16", "H", "input bound L, bfloat16 bits"),
    Field("pairs", "B", "pairs (alpha, beta) per chunk m", 1, 16),
    Field("gen_hidden", "H", "generator hidden width", 1, 4096),
    Field("gen_layers", "B", "generator hidden layers", 1, 8),
    Field("gen_w0", "B", "generator sine frequency", 1),
]


def manifold_from_fields(row: dict) -> Manifold:
    """The Manifold that MANIFOLD_FIELDS values describe (BitstreamError for a bad bound)."""
    bound = bf16_value(row["bound_bf16"])
    if not (math.isfinite(bound) and bound > 0):
        raise BitstreamError(f"MCNC input bound L is {bound} (must be finite and positive)")
    return Manifold(row["seed"], row["chunk"], row["k"], bound, row["pairs"], row["gen_hidden"], row["gen_layers"],
                    float(row["gen_w0"]))


def manifold_fields(spec: Manifold) -> dict:
    """MANIFOLD_FIELDS values of ``spec`` (its bound rounded to bfloat16)."""
    from .quantize import to_bf16_bits

    return {"seed": spec.seed, "chunk": spec.d, "k": spec.k, "bound_bf16": to_bf16_bits(spec.bound), "pairs": spec.m,
            "gen_hidden": spec.hidden, "gen_layers": spec.layers, "gen_w0": int(spec.w0)}


def seeded_init(shapes: list[tuple[int, int]], seed: int, w0: float, start: int = 0) -> list[np.ndarray]:
    """SIREN's initialization of linear layers of these (out, in) shapes, from SplitMix64 output
    ``start`` on: per layer the weight (row-major) uniform in +-1/in for the first layer and
    +-sqrt(6/in)/w0 after it, then the bias uniform in +-1/sqrt(in); float32, bit-exact."""
    out, pos = [], start
    for j, (o, i) in enumerate(shapes):
        bound = 1.0 / i if j == 0 else math.sqrt(6.0 / i) / w0
        out.append(uniform_float32(seed, o * i, -bound, bound, start=pos).reshape(o, i))
        pos += o * i
        b = 1.0 / math.sqrt(i)
        out.append(uniform_float32(seed, o, -b, b, start=pos))
        pos += o
    return out


def generator_tensors(spec: Manifold) -> list[np.ndarray]:
    """The generator's weights and biases (float32), regenerated from ``spec.seed``."""
    return seeded_init(spec.layer_shapes(), spec.seed, spec.w0)


def phi(spec: Manifold, weights: list, alpha):
    """Points on the unit sphere S^(d-1) for ``alpha`` (..., k): one matmul chain for every
    chunk at once (torch tensors in and out; ``weights`` from :func:`generator_tensors`)."""
    import torch

    h = alpha
    n = len(weights) // 2
    for j in range(n):
        h = torch.nn.functional.linear(h, weights[2 * j], weights[2 * j + 1])
        if j < n - 1:
            h = torch.sin(spec.w0 * h)
    return h / h.norm(dim=-1, keepdim=True).clamp_min(1e-12)


def expand(spec: Manifold, weights: list, alpha, beta, n_params: int, theta0=None):
    """The flat parameters theta (n_params,) from alpha (chunks, m, k) and beta (chunks, m)."""
    delta = (beta.unsqueeze(-1) * phi(spec, weights, alpha)).sum(dim=1).reshape(-1)[:n_params]
    return delta if theta0 is None else theta0 + delta
