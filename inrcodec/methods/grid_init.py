"""Learned initializations of the latent-grid encoder's networks (training code; the decoder
never imports this).

An initialization is a grid stream fitted to BSDS500 training photos in a chain, each fit
starting from the previous one's networks (``bench/grid_make_init.py``); the encoder starts its
synthesis and ARM from that stream's where their shapes match the image's (same structure and
channel count), and from random ones otherwise. Only the encoder reads it: a stream carries
the networks it ends with, so decoding needs nothing shipped. Each file is named here by its
SHA-256, and the encoder records the hash it started from.
"""
from __future__ import annotations

import functools
import hashlib
from pathlib import Path

import numpy as np
import torch

DATA = Path(__file__).resolve().parents[1] / "data"
SHIPPED: dict[str, str] = {}  # file in inrcodec/data -> its SHA-256


@functools.lru_cache(maxsize=None)
def _networks(name: str) -> tuple[list[np.ndarray], str] | None:
    """The networks (synthesis then ARM, as the stream stores them) of a shipped initialization
    and its hash; None where the file is missing or not the one named here."""
    from ..decoder import decode_parameters

    path = DATA / name
    if not path.is_file():
        return None
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != SHIPPED[name]:
        return None
    opened, tensors = decode_parameters(data)
    return tensors[:len(opened.stream.tensors)], digest


def networks_of(data: bytes) -> list[np.ndarray]:
    """The synthesis and ARM tensors of a grid stream (to start another fit from them)."""
    from ..decoder import decode_parameters

    opened, tensors = decode_parameters(data)
    return tensors[:len(opened.stream.tensors)]


def fits(model, tensors: list[np.ndarray]) -> bool:
    """Whether ``tensors`` have exactly the shapes of ``model``'s synthesis and ARM."""
    nets = list(model.syn) + list(model.arm)
    return len(nets) == len(tensors) and all(tuple(t.shape) == v.shape for t, v in zip(nets, tensors))


def start_from(model, tensors: list[np.ndarray]) -> None:
    """Copy ``tensors`` into ``model``'s synthesis and ARM (shapes checked by :func:`fits`)."""
    with torch.no_grad():
        for t, v in zip(list(model.syn) + list(model.arm), tensors):
            t.copy_(torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32)).to(t.device))


def shipped_for(model) -> tuple[list[np.ndarray], str] | None:
    """The first shipped initialization whose shapes fit ``model``, with its hash, or None."""
    for name in SHIPPED:
        found = _networks(name)
        if found is not None and fits(model, found[0]):
            return found
    return None
