"""Starting a latent-grid fit from another stream's networks (training code; the decoder never
imports this): the groundwork of a learned initialization (issue 14), used by
:func:`inrcodec.methods.grid_encode.encode_from` and ``bench/grid_make_init.py``.

Only the encoder reads such a start: a stream carries the networks it ends with, so decoding
needs nothing shipped. Nothing is shipped yet: one BSDS500 photo's networks gained +0.23 / +0.52
dB on kodim23 / kodim12 at 0.3 bpp, a chain of three gained nothing (2026-12-02,
bench/results/grid-study-2026-12-02o.log, -p.log).
"""
from __future__ import annotations

import numpy as np
import torch


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
