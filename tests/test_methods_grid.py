"""The latent-grid method: round trip, rate control, options, limits, info."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from inrcodec.bitstream import LimitError, Stream, TensorRecord, pack
from inrcodec.decoder import decode, decode_parameters, describe
from inrcodec.encoder import encode
from inrcodec.errors import OptionError
from inrcodec.latents import NEIGHBOURS
from inrcodec.methods import EncodeOptions, grid
from inrcodec.methods.grid_encode import (DEFAULTS, HIGH_RATE, HIGH_RATE_BPP, SCHEDULE, effort_scale, image_lambda,
                                          lambda_prior, settings)
from inrcodec.methods.grid_model import (GridModel, contexts, laplace_bits, laplace_bits_sum, mse, noisy_soft_round,
                                         replicate_pad1, soft_round, upsample_fast)
from inrcodec.metrics import psnr


def test_encode_decode_gives_the_psnr_the_encoder_reports(small_image):
    res = encode(small_image, EncodeOptions(bpp=None, method="grid", steps=60,
                                            method_options={"lam": 0.002, "levels": 3}))
    opened, tensors = decode_parameters(res.data)
    n_records = len(opened.stream.tensors)
    grids = tensors[n_records:]
    assert [g.shape for g in grids] == [(20, 28), (10, 14), (5, 7)]  # from 1/2 by default
    assert all(np.array_equal(g, np.rint(g)) for g in grids)
    assert psnr(decode(res.data), small_image) == pytest.approx(res.psnr, abs=1e-9)
    assert res.psnr > 20
    d = describe(res.data)
    assert d["method"] == "grid" and d["grids"] == [[20, 28], [10, 14], [5, 7]] and d["within_limits"]


@pytest.mark.parametrize("upsampling", [0, 1, 2, 3])
@pytest.mark.parametrize("size", [(48, 64), (37, 53), (5, 3)])
def test_training_upsampling_equals_the_decoders(upsampling, size):
    h, w = size
    gen = torch.Generator().manual_seed(0)
    first = 0 if upsampling == 3 else 1
    grids = [torch.randn(-(-h // 2 ** i), -(-w // 2 ** i), generator=gen) for i in range(first, 5)]
    params = {"upsampling": upsampling}
    ref = grid.upsample(grids, params, h, w)[0]
    assert torch.allclose(upsample_fast(grids, params, h, w), ref, atol=1e-5)


def test_a_full_size_grid_enters_as_its_2x2_blocks():
    h, w = 5, 7
    full = torch.arange(h * w, dtype=torch.float32).reshape(h, w)
    x = grid.upsample([full, torch.zeros(3, 4)], {"upsampling": 3}, h, w)[0]
    assert x.shape == (5, 3, 4)  # four block channels, then the half-size grid
    assert x[0, 1, 2] == full[2, 4] and x[1, 1, 2] == full[2, 5] and x[2, 1, 2] == full[3, 4]
    assert x[3, 1, 2] == full[3, 5] and x[2, 2, 3] == full[4, 6] and x[3, 2, 3] == full[4, 6]  # odd edge repeated


def test_full_size_blocks_round_trip(small_image):
    res = encode(small_image, EncodeOptions(bpp=None, method="grid", steps=40, method_options={
        "lam": 0.002, "levels": 4, "first_level": 0, "upsampling": 3}))
    assert psnr(decode(res.data), small_image) == pytest.approx(res.psnr, abs=1e-9) and res.psnr > 20
    assert describe(res.data)["grids"][0] == list(small_image.shape[:2])


def test_blocks_need_a_full_size_grid(small_image):
    from inrcodec.errors import OptionError

    with pytest.raises(OptionError, match="first_level 0"):
        encode(small_image, EncodeOptions(bpp=None, method="grid", steps=5, method_options={"lam": 0.002, "upsampling": 3}))


def test_a_stream_with_blocks_but_no_full_size_grid_is_refused():
    from inrcodec.bitstream import BitstreamError

    params = dict(DEFAULTS, upsampling=3, first_level=1)
    records = [TensorRecord(8, 0, 0, 0x3C00, 0x3F80)] * len(grid.layout(params, 3))
    with pytest.raises(BitstreamError, match="first_level 0"):
        decode(pack(Stream(grid.ID, 3, 64, 48, grid.pack_section(params), records, b"")))


def test_a_coarse_first_phase_decodes_to_what_the_encoder_reports(small_image):
    res = encode(small_image, EncodeOptions(bpp=None, method="grid", steps=60,
                                            method_options={"lam": 0.002, "levels": 3, "coarse": 0.5}))
    assert res.steps == 90 + 30  # half the steps' worth at a third of the cost each, then full size
    assert psnr(decode(res.data), small_image) == pytest.approx(res.psnr, abs=1e-9) and res.psnr > 20


def test_rate_control_fits_the_budget(kodim23):
    image = np.ascontiguousarray(kodim23[100:196, 200:328])
    res = encode(image, EncodeOptions(bpp=0.8, method="grid", steps=80))  # the default structure: see settings
    assert res.bpp <= 0.8 and res.psnr > 22 and res.details["dead_zone"] == 0


def test_the_block_grid_is_the_default_from_the_high_rate_budget():
    def structure(bpp, shape=(512, 768, 3), **opts):
        params, sched = settings(EncodeOptions(bpp=bpp, method="grid", method_options=opts), shape)
        return (params["upsampling"], params["first_level"], params["levels"], sched["prior_gain"], sched["rate_rows"],
                params["syn_width"])

    assert structure(HIGH_RATE_BPP * 0.99) == (DEFAULTS["upsampling"], DEFAULTS["first_level"], DEFAULTS["levels"],
                                               SCHEDULE["prior_gain"], 1.0, DEFAULTS["syn_width"])
    high = (HIGH_RATE["upsampling"], HIGH_RATE["first_level"], HIGH_RATE["levels"], HIGH_RATE["prior_gain"],
            HIGH_RATE["rate_rows"], HIGH_RATE["syn_width"])
    assert structure(HIGH_RATE_BPP) == high == (3, 0, 7, 1.4, 0.25, 32)
    assert structure(1.0, prior_gain=2.0) == high[:3] + (2.0, 0.25, 32)  # options win key by key
    assert structure(1.0, rate_rows=1.0)[4] == 1.0
    assert structure(1.0, syn_width=16)[5] == 16
    # where the wider synthesis would take over a tenth of the budget, the block grid keeps the default width
    assert structure(0.6, shape=(321, 481, 3))[::5] == (3, DEFAULTS["syn_width"])
    assert structure(1.0, shape=(321, 481, 3))[::5] == (3, 32)
    assert structure(1.0, upsampling=2)[:3] == (2, DEFAULTS["first_level"], DEFAULTS["levels"])  # a given structure: no preset
    assert structure(1.0, lam=1e-4)[0] == DEFAULTS["upsampling"]
    assert structure(1.0, shape=(96, 128, 3))[0] == DEFAULTS["upsampling"]  # the networks take half the budget
    assert structure(1.0, shape=(4096, 4096, 3))[0] == DEFAULTS["upsampling"]  # over the decoder's parameter limit


def test_a_file_still_over_the_budget_sheds_its_smallest_latents(kodim23):
    # no lambda correction from a lambda far too small: the rate stays far over the budget through
    # the extra rounds, and only the dead zone can bring the file under it
    image = np.ascontiguousarray(kodim23[100:196, 200:328])
    res = encode(image, EncodeOptions(bpp=0.65, method="grid", steps=60,
                                      method_options={"control_gain": 0.0, "prior_gain": 0.01}))
    assert res.details["extra_rounds"] == 3 and 0 < res.details["dead_zone"] < 1
    assert res.bpp <= 0.65 and any("set to zero" in w for w in res.warnings)
    assert psnr(decode(res.data), image) == pytest.approx(res.psnr, abs=1e-9)
    flat = psnr(np.broadcast_to(image.mean(axis=(0, 1)).round().astype(np.uint8), image.shape), image)
    assert res.psnr > flat + 3


def test_a_file_a_little_over_the_budget_keeps_its_fit_through_the_extra_rounds(kodim23):
    # a first file ~6% over (lambda fixed a little low); hard-rounded rounds at 1/100 of the
    # learning rates raised the rate here and the dead zone then cost 8 dB (21.75 from 29.94)
    image = np.ascontiguousarray(kodim23[100:292, 200:456])
    res = encode(image, EncodeOptions(bpp=0.4, method="grid", steps=300,
                                      method_options={"control_gain": 0.0, "prior_gain": 0.45}))
    assert res.details["first_file_bpp"] > 0.41 and res.details["extra_rounds"] >= 1
    assert res.bpp <= 0.4 and res.details["dead_zone"] == 0 and not res.warnings
    assert res.psnr > res.details["fit_psnr"] - 0.5


def test_a_file_just_over_the_budget_can_fit_with_a_coarser_synthesis(small_image):
    # the last resort before zeroing latents: from the finest depth's file, 4 bytes less must fit
    from inrcodec.methods.grid_encode import _coarser_synthesis, _synthesis_depths, _trained, build_stream

    run = _trained(small_image, EncodeOptions(bpp=None, method="grid", steps=40, method_options={"lam": 1e-5}), None)
    finest = max(_synthesis_depths(run.fit.model, small_image), key=lambda d: d[2])[0]
    data = build_stream(run.fit.model, finest, small_image.shape[2])
    budget = (len(data) - 4) * 8
    smaller = _coarser_synthesis(run.fit.model, small_image, budget)
    assert smaller is not None and len(smaller) * 8 <= budget
    assert psnr(decode(smaller), small_image) > psnr(decode(data), small_image) - 1.0
    assert _coarser_synthesis(run.fit.model, small_image, 8 * 10) is None  # nothing fits 10 bytes


def test_a_budget_below_the_networks_is_refused(small_image):
    from inrcodec.errors import DataError

    with pytest.raises(DataError, match="too small for the grid method"):
        encode(small_image, EncodeOptions(bpp=0.05, method="grid", steps=5))


@pytest.mark.parametrize("options", [{"levels": 0}, {"levels": 9}, {"context": 13}, {"arm_shift": 2},
                                     {"lam": -1.0}, {"lr": 0.0}, {"coarse": 0.9}, {"lr_latents": float("nan")}, {"colour": 1},
                                     {"rate_rows": 0.0}, {"rate_rows": 1.5}, {"control_trend": -1.0},
                                     {"control_trend": 5.0}, {"control_integral": -0.1},
                                     {"control_integral": 3.0}, {"rate_lead": -0.1}, {"rate_lead": 0.6},
                                     {"effort_scale_max": 0.5}, {"effort_scale_max": 17.0},
                                     {"adam_beta2": 1.0}, {"adam_beta2": 0.2},
                                     {"adam_beta1": -0.1}, {"adam_beta1": 1.0}])
def test_bad_options(options):
    with pytest.raises(OptionError):
        grid.check_options(EncodeOptions(method="grid", method_options=options))


def test_a_large_image_gets_the_efforts_time_in_proportion_to_its_pixels_up_to_a_cap():
    assert effort_scale(96 * 64) == 1.0  # smaller images keep the whole time
    assert effort_scale(768 * 512) == 1.0
    assert effort_scale(1024 * 768) == pytest.approx(2.0)
    assert effort_scale(1536 * 1024) == 4.0
    assert effort_scale(4000 * 3000) == 4.0
    assert effort_scale(1536 * 1024, most=1.0) == 1.0
    assert SCHEDULE["effort_scale_max"] == 4.0


def test_a_budget_or_a_lambda_is_needed():
    with pytest.raises(OptionError, match="lambda"):
        grid.check_options(EncodeOptions(bpp=None, method="grid"))


def test_an_image_too_large_for_the_latent_limit_is_refused_before_decoding():
    params = dict(DEFAULTS)
    shapes = grid.layout(params, 3)
    records = [TensorRecord(8, 0, 0, 0x3C00, 0x3F80)] * len(shapes)
    bomb = pack(Stream(grid.ID, 3, 65536, 65536, grid.pack_section(params), records, b""))
    with pytest.raises(LimitError):
        decode(bomb)
    assert not describe(bomb)["within_limits"]


def test_laplace_bits_match_the_interval_probability():
    y = torch.tensor([0.0, 1.0, -3.0, 0.2, 5.0])
    mu = torch.tensor([0.0, 0.3, -2.5, 0.0, 1.0])
    log_scale = torch.tensor([0.0, -1.0, 0.5, -3.0, 1.0])
    lap = torch.distributions.Laplace(mu.double(), torch.exp(log_scale).double())
    p = lap.cdf(y.double() + 0.5) - lap.cdf(y.double() - 0.5)
    assert torch.allclose(laplace_bits(y, mu, log_scale).double(), -torch.log2(p), rtol=1e-4)


def test_the_fused_rate_has_autograds_value_and_gradients():
    gen = torch.Generator().manual_seed(3)
    n = 4000  # centred and tail intervals, narrow and wide scales, some at the probability floor
    args = [(torch.randn(n, generator=gen, dtype=torch.float64) * 4).requires_grad_(),
            (torch.randn(n, generator=gen, dtype=torch.float64) * 2).requires_grad_(),
            (torch.rand(n, generator=gen, dtype=torch.float64) * 8 - 4).requires_grad_()]
    ref = laplace_bits(*args).sum()
    want = torch.autograd.grad(ref, args)
    got_value = laplace_bits_sum(*args)
    got = torch.autograd.grad(got_value, args)
    assert float(got_value) == pytest.approx(float(ref), rel=1e-9)
    for g, w in zip(got, want):
        assert torch.allclose(g, w, rtol=1e-6, atol=1e-9)
    assert torch.autograd.gradcheck(laplace_bits_sum, [a.detach()[:50].requires_grad_() for a in args])


@pytest.mark.parametrize("t", [0.35, 0.1, 0.08])
def test_the_fused_relaxation_has_autograds_value_and_gradient(t):
    gen = torch.Generator().manual_seed(4)
    x = (torch.randn(3000, generator=gen, dtype=torch.float64) * 5).requires_grad_()
    noise = torch.rand(3000, generator=gen, dtype=torch.float64) - 0.5
    ref = soft_round(soft_round(x, t) + noise, t)
    got = noisy_soft_round(x, noise, t)
    weights = torch.randn(3000, generator=gen, dtype=torch.float64)
    assert torch.allclose(got, ref, rtol=0, atol=1e-12)
    assert torch.allclose(torch.autograd.grad((got * weights).sum(), x)[0],
                          torch.autograd.grad((ref * weights).sum(), x)[0], rtol=1e-9, atol=1e-12)
    assert torch.autograd.gradcheck(lambda v: noisy_soft_round(v, noise[:40], t), [x.detach()[:40].requires_grad_()])


@pytest.mark.parametrize("channels_last", [False, True])
def test_the_training_mse_has_autograds_value_and_gradient(channels_last):
    gen = torch.Generator().manual_seed(6)
    x = torch.randn(1, 3, 10, 14, generator=gen, dtype=torch.float64)
    x = (x.contiguous(memory_format=torch.channels_last) if channels_last else x)[0].requires_grad_()
    target = torch.rand(10, 14, 3, generator=gen, dtype=torch.float64).permute(2, 0, 1)  # as the encoder's
    ref, got = torch.mean((x - target) ** 2), mse(x, target)
    assert float(got) == pytest.approx(float(ref), rel=1e-12)
    assert torch.allclose(torch.autograd.grad(got, x)[0], torch.autograd.grad(ref, x)[0], rtol=1e-12, atol=0)


@pytest.mark.parametrize("channels_last", [False, True])
def test_the_training_pad_has_the_replicate_pads_value_and_gradient(channels_last):
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(1, 3, 6, 9, generator=gen, dtype=torch.float64)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    x.requires_grad_()
    g = torch.randn(1, 3, 8, 11, generator=gen, dtype=torch.float64)
    ref = torch.nn.functional.pad(x, (1, 1, 1, 1), mode="replicate")
    got = replicate_pad1(x)
    assert torch.equal(got, ref)
    assert torch.allclose(torch.autograd.grad(got, x, g)[0], torch.autograd.grad(ref, x, g)[0], rtol=0, atol=1e-12)
    assert torch.autograd.gradcheck(replicate_pad1, [x.detach().requires_grad_()])


@pytest.mark.parametrize("sampled", [False, True])
def test_the_arms_contexts_have_autograds_value_and_gradient(sampled):
    gen = torch.Generator().manual_seed(7)
    ys = [torch.randn(s, generator=gen, dtype=torch.float64).requires_grad_() for s in ((9, 13), (5, 7), (1, 2))]
    sel = torch.tensor([7, 0, 3, 8]) if sampled else None

    def reference(y, rows):  # each neighbour a slice of the zero-padded grid, stacked
        padded = torch.nn.functional.pad(y, (3, 1, 3, 0))
        taps = [padded[3 + dy:3 + dy + y.shape[0], 3 + dx:3 + dx + y.shape[1]] for dy, dx in NEIGHBOURS[:8]]
        taps = [t if rows is None else t.index_select(0, rows) for t in taps]
        return torch.stack(taps).reshape(8, -1)

    ref = torch.cat([reference(y, sel if i == 0 else None) for i, y in enumerate(ys)], dim=1)
    got = contexts(sel, 8, *ys)
    assert torch.equal(got, ref)
    weights = torch.randn(ref.shape, generator=gen, dtype=torch.float64)
    for g, w in zip(torch.autograd.grad((got * weights).sum(), ys), torch.autograd.grad((ref * weights).sum(), ys)):
        assert torch.allclose(g, w, rtol=0, atol=1e-12)
    assert torch.autograd.gradcheck(lambda *v: contexts(sel, 8, *v), [y.detach().requires_grad_() for y in ys])


def test_the_rate_from_a_sample_of_rows_is_unbiased_and_counts_only_those_rows():
    params = {**DEFAULTS, **{k: int(v) for k, v in HIGH_RATE.items() if k in DEFAULTS}}
    model = GridModel(params, 64, 96, 3, 0, "cpu", SCHEDULE["arm_init"])
    with torch.no_grad():
        for g in model.grids:
            g.normal_(0, 2)
    ys = model.quantized("hard", 0.1)
    full = float(model.rate(ys))
    assert float(model.rate(ys, 1.0)) == full
    draws = [float(model.rate(ys, 0.5)) for _ in range(200)]
    assert len(set(draws)) > 100  # a new sample of rows each call
    assert np.mean(draws) == pytest.approx(full, rel=0.005)
    # rows outside the sample get no rate gradient
    leaf = [y.detach().requires_grad_() for y in ys]
    model.rate(leaf, 0.25).backward()
    grad_rows = (leaf[0].grad.abs().sum(dim=1) > 0).sum().item()
    assert 16 <= grad_rows <= 16 * 3 + 3  # the 16 sampled rows and the rows of their contexts


def test_lambda_prior_falls_with_the_budget():
    assert lambda_prior(0.15) > lambda_prior(0.3) > lambda_prior(0.6) > 0
    assert 0.0015 < lambda_prior(0.3) < 0.003


def test_image_lambda_is_the_images_own_slope(kodim23):
    """A busy texture needs a far larger lambda than a smooth photo for the same rate."""
    smooth = np.ascontiguousarray(kodim23[200:328, 300:428])
    texture = np.random.default_rng(0).integers(0, 256, smooth.shape, dtype=np.uint8)
    lam_smooth, lam_texture = image_lambda(smooth, 0.3), image_lambda(smooth, 0.6)
    assert 0 < lam_texture < lam_smooth  # the slope flattens as the rate grows
    assert image_lambda(texture, 0.3) > 3 * lam_smooth
    assert image_lambda(smooth, 1e-4) is None  # no JPEG2000 file that small


def test_bench_names():
    assert grid.bench_options("grid", 0.3) == {"bpp": 0.3}
    assert grid.bench_options("coin", 0.3) is None


def test_under_the_budget_a_snapshot_scores_by_its_mse_alone_whatever_lambda(kodim23):
    # lambda rises through a run; scoring at the lambda of the moment made the same model score
    # worse later, so the snapshot from before the hard phase always won
    from inrcodec.methods.grid_encode import _Fit
    from inrcodec.methods.grid_model import GridModel

    image = np.ascontiguousarray(kodim23[100:164, 200:264])
    h, w, c = image.shape
    params, sched = settings(EncodeOptions(bpp=2.0, method="grid"), image.shape)
    fit = _Fit(GridModel(params, h, w, c, 0, "cpu", sched["arm_init"]), image, sched, 1e-3, 2.0 * h * w, 500.0, "cpu")
    under = fit.score()
    fit.lam *= 10
    assert fit.score() == under < 0
    fit.budget_bits = 100.0  # far under the file: the score pays lambda per bpp over
    over_1, fit.lam = fit.score(), 2 * fit.lam
    over_2 = fit.score()
    assert over_2 < over_1 < under
    assert over_2 - under == pytest.approx(2 * (over_1 - under), rel=1e-6)


def test_with_a_trend_the_controller_corrects_on_the_rate_extrapolated_from_its_last_change(kodim23):
    from inrcodec.methods.grid_encode import _Fit
    from inrcodec.methods.grid_model import GridModel

    image = np.ascontiguousarray(kodim23[100:164, 200:264])
    h, w, c = image.shape
    steps = {}
    for trend in (0.0, 1.0):
        opts = {"control_trend": trend, "rate_lead": 0.0}
        params, sched = settings(EncodeOptions(bpp=2.0, method="grid", method_options=opts), image.shape)
        fit = _Fit(GridModel(params, h, w, c, 0, "cpu", sched["arm_init"]), image, sched, 1e-3, 2.0 * h * w, 500.0,
                   "cpu")
        est = fit.estimate()
        fit.latent_target = est / 1.1  # 10% over: lambda goes up
        fit.last_est = math.log(est * 1.05)  # and the rate fell 5% since the last tick
        fit.correct(0.3)
        steps[trend] = math.log(fit.lam / 1e-3)
        assert fit.last_est == pytest.approx(math.log(est))
    gain = SCHEDULE["control_gain"]
    assert steps[0.0] == pytest.approx(gain * math.log(1.1), rel=1e-4)
    assert steps[1.0] == pytest.approx(gain * (math.log(1.1) - math.log(1.05)), rel=1e-4)


def test_the_integral_term_adds_the_errors_summed_from_half_way_on(kodim23):
    from inrcodec.methods.grid_encode import _Fit
    from inrcodec.methods.grid_model import GridModel

    image = np.ascontiguousarray(kodim23[100:164, 200:264])
    h, w, c = image.shape
    opts = {"control_integral": 0.5, "rate_lead": 0.0}
    params, sched = settings(EncodeOptions(bpp=2.0, method="grid", method_options=opts), image.shape)
    fit = _Fit(GridModel(params, h, w, c, 0, "cpu", sched["arm_init"]), image, sched, 1e-3, 2.0 * h * w, 500.0, "cpu")
    fit.overhead_bpp = 0.0  # as if measured: no stream is built at half-way
    est = fit.estimate()
    fit.latent_target = est * 1.05  # 5% under the target: lambda goes down
    error = math.log(est) - math.log(est * 1.05)
    gain = SCHEDULE["control_gain"]
    steps = []
    for at in (0.3, 0.5, 0.55):  # before half-way no sum; then one and two errors summed
        lam = fit.lam
        fit.correct(at)
        steps.append(math.log(fit.lam / lam))
    assert steps[0] == pytest.approx(gain * error, rel=1e-4)
    assert steps[1] == pytest.approx(gain * error + 0.5 * error, rel=1e-4)
    assert steps[2] == pytest.approx(gain * error + 0.5 * 2 * error, rel=1e-4)


def test_a_fit_can_start_from_another_streams_networks(kodim23):
    from inrcodec.methods import grid_init
    from inrcodec.methods.grid_encode import encode_from

    image = np.ascontiguousarray(kodim23[100:196, 200:328])
    first = encode(image, EncodeOptions(bpp=1.5, method="grid", steps=20))
    assert first.details["init"] is None
    start = grid_init.networks_of(first.data)
    given = encode_from(image, EncodeOptions(bpp=1.5, method="grid", steps=20), start)
    assert given.details["init"] == "given" and given.data != first.data
    assert psnr(decode(given.data), image) > 20
    grey = encode_from(np.ascontiguousarray(image[:, :, :1]), EncodeOptions(bpp=1.5, method="grid", steps=20), start)
    assert grey.details["init"] is None  # other network shapes: random networks


def test_pretraining_on_two_images_gives_one_set_of_networks_a_fit_can_start_from(kodim23):
    from inrcodec.methods import grid_init
    from inrcodec.methods.grid_encode import encode_from

    a = np.ascontiguousarray(kodim23[100:196, 200:328])
    b = np.ascontiguousarray(kodim23[300:396, 400:528])
    data = grid_init.pretrain([a, b], bpp=1.5, steps=20)
    assert psnr(decode(data), a) > 15  # image 0's own stream
    start = grid_init.networks_of(data)
    given = encode_from(b, EncodeOptions(bpp=1.5, method="grid", steps=20), start)
    assert given.details["init"] == "given"
    with pytest.raises(ValueError):
        grid_init.pretrain([], bpp=1.5, steps=20)


def test_with_a_lead_the_controller_aims_above_the_target_early_and_at_it_at_the_end(kodim23):
    from inrcodec.methods.grid_encode import _CONTROL_FROM, _Fit
    from inrcodec.methods.grid_model import GridModel

    image = np.ascontiguousarray(kodim23[100:164, 200:264])
    h, w, c = image.shape
    params, sched = settings(EncodeOptions(bpp=2.0, method="grid", method_options={"rate_lead": 0.1}), image.shape)
    steps = []
    for at in (_CONTROL_FROM, 0.6, 1.0):
        fit = _Fit(GridModel(params, h, w, c, 0, "cpu", sched["arm_init"]), image, sched, 1e-3, 2.0 * h * w, 500.0,
                   "cpu")
        fit.overhead_bpp = 0.0  # as if measured: no stream is built
        fit.latent_target = fit.estimate()  # on target: only the lead moves lambda
        fit.correct(at)
        steps.append(math.log(fit.lam / 1e-3))
    lead = [0.1 * (1 - at) / (1 - _CONTROL_FROM) for at in (_CONTROL_FROM, 0.6, 1.0)]
    gain = SCHEDULE["control_gain"]
    assert steps == pytest.approx([-gain * math.log(1 + x) for x in lead], abs=1e-6)
    assert steps[0] < steps[1] < steps[2] == 0.0  # lambda lowered most at the start, not at all at the end


def test_every_structure_trains_with_a_lead():
    for bpp in (0.3, 0.6):
        assert settings(EncodeOptions(bpp=bpp, method="grid"), (512, 768, 3))[1]["rate_lead"] == 0.06
