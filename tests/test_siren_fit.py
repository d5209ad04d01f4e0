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


def test_batches_take_the_size_asked_for_up_to_the_image(small_image):
    h, w, _ = small_image.shape
    cfg = SirenConfig(2, 4, frequencies=3)
    for batch, rows in ((100, 100), (h * w + 1, h * w), (None, min(siren_fit.BATCH_PIXELS, h * w))):
        draw = siren_fit.pixel_batches(small_image, torch.device("cpu"), torch.Generator().manual_seed(0), cfg, batch)
        inputs, target = draw()
        assert inputs.shape == (rows, cfg.inputs) and target.shape == (rows, 3)


def test_l1_norm_sums_absolute_values():
    ts = [torch.tensor([1.0, -2.0]), torch.tensor([[-0.5]])]
    assert float(siren_fit.l1_norm(ts)) == 3.5


def test_a_network_too_slow_for_the_time_is_narrowed():
    config = SirenConfig(3, 40, 3, 30.0, frequencies=4)
    assert siren_fit.cap_for_time(config, seconds=1e6, min_steps=100) == config
    # no machine runs 10^6 steps in a second: narrowed as far as allowed
    assert siren_fit.cap_for_time(config, seconds=1.0, min_steps=10 ** 6, min_width=8).width == 8
    assert siren_fit.step_seconds(config, batch=256, steps=1) > 0


def test_widths_just_below_a_multiple_of_16_train_padded():
    widths = {w: siren_fit.training_config(SirenConfig(4, w, frequencies=16)).width for w in (28, 41, 63, 64, 94, 138)}
    assert widths == {28: 28, 41: 41, 63: 64, 64: 64, 94: 96, 138: 144}


def test_padded_units_stay_exactly_zero_through_adam_and_l1(small_image):
    config = SirenConfig(3, 63, frequencies=2)
    padded = siren_fit.training_config(config)
    start = [t.detach().numpy() for t in Siren(config, torch.Generator().manual_seed(0)).tensors()]
    model = Siren(padded)
    model.load_tensors(siren_fit.pad_tensors(start, padded))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    draw = siren_fit.pixel_batches(small_image, torch.device("cpu"), torch.Generator().manual_seed(1), config)
    for _ in range(20):
        x, y = draw()
        opt.zero_grad()
        (torch.mean((model.body(x) - y) ** 2) + 1e-3 * siren_fit.l1_norm(model.tensors())).backward()
        opt.step()
    full = [t.detach().numpy() for t in model.tensors()]
    kept = siren_fit.trim_tensors(full, config)
    assert sum(np.abs(f).sum() for f in full) == sum(np.abs(k).sum() for k in kept) > 0  # the rest is zero
    assert not all(np.array_equal(k, s) for k, s in zip(kept, start))  # it trained
    small = Siren(config)
    small.load_tensors(kept)
    x, _ = draw()
    torch.testing.assert_close(small.body(x), model.body(x))  # the same network


def test_a_fit_at_a_padded_width_returns_the_configs_shapes(small_image):
    from inrcodec import train

    config = SirenConfig(2, 63)
    result = siren_fit.fit(small_image, config, [16] * 6, train.LoopOptions(steps=20, warmup_steps=0), l1=1e-4)
    assert [t.shape for t in result.best] == config.tensor_shapes()
