"""MCNC's manifold: a bit-exact seeded generator, points on the sphere, batched chunk expansion."""
from __future__ import annotations

import hashlib

import numpy as np
import torch

from inrcodec.mcnc import Manifold, expand, generator_tensors, phi, seeded_init


def test_generator_is_pinned_bit_for_bit():
    w = generator_tensors(Manifold(seed=7, d=1600, k=16))
    assert [t.shape for t in w] == [(64, 16), (64,), (64, 64), (64,), (1600, 64), (1600,)]
    assert all(t.dtype == np.float32 for t in w)
    digest = hashlib.sha256(b"".join(t.tobytes() for t in w)).hexdigest()
    assert digest == "4cadf875173720466588647f6cd0adf48ddc1f5736f6a4dc87bdbb47623e9acd"
    assert not np.array_equal(generator_tensors(Manifold(seed=8, d=1600, k=16))[0], w[0])


def test_seeded_init_follows_sirens_bounds():
    first, bias, second, _ = seeded_init([(32, 2), (32, 32)], seed=1, w0=30.0)
    assert np.abs(first).max() <= 0.5 and np.abs(bias).max() <= 1 / np.sqrt(2)
    assert np.abs(second).max() <= np.sqrt(6 / 32) / 30 and np.abs(second).max() > 0.9 * np.sqrt(6 / 32) / 30


def test_phi_lands_on_the_sphere_and_expand_truncates_the_last_chunk():
    spec = Manifold(seed=3, d=50, k=4, m=2)
    weights = [torch.from_numpy(t) for t in generator_tensors(spec)]
    alpha = torch.empty(3, 2, 4).uniform_(-spec.bound, spec.bound)
    u = phi(spec, weights, alpha)
    assert u.shape == (3, 2, 50) and torch.allclose(u.norm(dim=-1), torch.ones(3, 2))
    beta = torch.tensor([[1.0, 0.0], [2.0, 0.0], [0.0, 3.0]])
    theta = expand(spec, weights, alpha, beta, 120)
    assert theta.shape == (120,) and spec.chunks(120) == 3 and spec.coded(120) == 3 * 2 * 5
    assert torch.allclose(theta[:50], u[0, 0]) and torch.allclose(theta[50:100], 2 * u[1, 0])
    assert torch.allclose(theta[100:], 3 * u[2, 1, :20])


def test_gradients_reach_alpha_and_beta():
    spec = Manifold(seed=0, d=20, k=3)
    weights = [torch.from_numpy(t) for t in generator_tensors(spec)]
    alpha = torch.zeros(5, 1, 3, requires_grad=True)
    beta = torch.ones(5, 1, requires_grad=True)
    expand(spec, weights, alpha, beta, 90, theta0=torch.ones(90)).square().sum().backward()
    assert torch.isfinite(alpha.grad).all() and alpha.grad.abs().sum() > 0 and beta.grad.abs().sum() > 0
