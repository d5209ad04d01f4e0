"""Starting a latent-grid fit from another stream's networks (training code; the decoder never
imports this): the groundwork of a learned initialization (issue 14), used by
:func:`inrcodec.methods.grid_encode.encode_from` and ``bench/grid_make_init.py``.

Only the encoder reads such a start: a stream carries the networks it ends with, so decoding
needs nothing shipped. Nothing is shipped yet: one BSDS500 photo's networks gained +0.23 / +0.52
dB on kodim23 / kodim12 at 0.3 bpp, a chain of three gained nothing (2026-12-02,
bench/results/grid-study-2026-12-02o.log, -p.log), and networks trained jointly on eight BSDS500
training photos (:func:`pretrain`) gained nothing either: 0.00 / -0.06 / -0.10 dB on kodim23 /
kodim12 / kodim01 (2026-12-03, -q.log). A random start's own spread is as large: seed 1
against seed 0 gave -0.79 / -0.22 dB on kodim23 / kodim12 (same log), so none of these single
runs tells an initialization apart; judging one needs several seeds per image.
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


def pretrain(images: list[np.ndarray], bpp: float, steps: int, seed: int = 0, device: str = "cpu",
             on_progress=None) -> bytes:
    """Train one synthesis and ARM on several images at once (each with its own latents and
    lambda controller, the loss their mean) at the default structure for ``bpp``, and return
    the first image's stream: its networks are the shared ones, for :func:`networks_of`.

    The images must be 3-channel and large enough for the default grids; a fixed step count
    (the run does not depend on the machine's speed)."""
    from .. import train
    from . import EncodeOptions
    from .grid_encode import DEFAULT_LATENT_LR, DEFAULT_LR, _choose_stream, _Fit, overhead_bits, settings, start_lambda
    from .grid_model import GridModel

    if not images:
        raise ValueError("pretrain needs at least one image")
    params, sched = settings(EncodeOptions(bpp=bpp, method="grid"), None)
    fits_ = []
    for i, image in enumerate(images):
        h, w, c = image.shape
        model = GridModel(params, h, w, c, seed + 2 * i, device, sched["arm_init"])
        if fits_:  # one set of networks for all
            model.syn, model.arm = fits_[0].model.syn, fits_[0].model.arm
        fits_.append(_Fit(model, image, sched, start_lambda(image, bpp, sched), bpp * h * w, overhead_bits(params, c),
                          device))
    every = torch.nn.ModuleList([f.model for f in fits_])
    optimizer = torch.optim.Adam([{"params": [g for f in fits_ for g in f.model.grids], "lr": DEFAULT_LATENT_LR},
                                  {"params": list(fits_[0].model.syn) + list(fits_[0].model.arm), "lr": DEFAULT_LR}])

    def loss(progress: float) -> torch.Tensor:
        return sum(f.loss(progress) for f in fits_) / len(fits_)

    def score() -> float:
        return sum(f.score() for f in fits_) / len(fits_)

    loop = train.LoopOptions(steps=steps, warmup_steps=20, eval_fractions=(0.5, 0.8, 0.9, 0.97, 1.0),
                             guard_rise=False, on_progress=on_progress)
    result = train.run(every, optimizer, loss, score, lambda: [t.detach().clone() for t in every.parameters()], loop)
    with torch.no_grad():
        for t, best in zip(every.parameters(), result.best):
            t.copy_(best)
    return _choose_stream(fits_[0].model, images[0], fits_[0].lam)
