"""Fitting helpers: mini-batches read the network's own inputs, scoring stays on a bounded subgrid."""
from __future__ import annotations

import numpy as np
import torch

from inrcodec import siren_fit
from inrcodec.siren import Siren, SirenConfig, coordinate_grid


def test_batches_hold_the_inputs_the_network_reads(small_image):
    h, w, _ = small_image.shape
    for cfg in (SirenConfig(2, 4), SirenConfig(2, 4, frequencies=5)):
        draw = siren_fit.pixel_batches(small_image, torch.device("cpu"), torch.Generator().manual_seed(0), cfg)
        inputs, target = draw()
        assert inputs.shape == (min(16384, h * w), cfg.inputs) and target.shape == (inputs.shape[0], 3)
        # every drawn row is some pixel's inputs, with that pixel's colour
        table = Siren(cfg).inputs(coordinate_grid(h, w))
        colours = torch.from_numpy(small_image.reshape(-1, 3).astype(np.float32) / 255)
        idx = [int(torch.nonzero((table == row).all(1))[0]) for row in inputs[:20]]
        assert torch.equal(colours[idx], target[:20])


def test_l1_norm_sums_absolute_values():
    ts = [torch.tensor([1.0, -2.0]), torch.tensor([[-0.5]])]
    assert float(siren_fit.l1_norm(ts)) == 3.5


def test_a_network_too_slow_for_the_time_is_narrowed():
    config = SirenConfig(3, 40, 3, 30.0, frequencies=4)
    assert siren_fit.cap_for_time(config, seconds=1e6, min_steps=100) == config
    # no machine runs 10^6 steps in a second: narrowed as far as allowed
    assert siren_fit.cap_for_time(config, seconds=1.0, min_steps=10 ** 6, min_width=8).width == 8
    assert siren_fit.step_seconds(config, batch=256, steps=1) > 0
