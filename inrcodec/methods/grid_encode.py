"""Encoder of the latent-grid method (training code; the decoder never imports this).

Loss: MSE + lambda * (estimated bits of the latents) / pixels, on the model of
:mod:`inrcodec.methods.grid_model`: soft rounding plus uniform noise (temperature annealed) for
most of the run, then hard rounding with a straight-through gradient. Rate control: a first
lambda from the image's own rate-distortion slope at the budget (measured with JPEG2000),
corrected every few steps from the hard-rounded rate estimate; after training the synthesis
weights are quantized at the depth with the best rate-distortion cost, the ARM at its
fixed-point step, and the real file is measured: if it is over the budget, a few more hard
steps at a larger lambda follow, within the effort's time, and as a last resort the smallest
latents are set to zero until it fits. High budgets on images large enough get a full-size
grid (:data:`HIGH_RATE`).
"""
from __future__ import annotations

import dataclasses
import math
import time

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import DataError, OptionError
from ..latents import LATENT_MAX, encode_latents, grid_shapes
from . import EncodeOptions, Fitted
from .grid import SECTION, half_size, layout, pack_section, synthesize
from .grid_model import GridModel, mse

# No full-resolution grid: at 0.3 bpp and 800 steps, grids from 1/2 to 1/64 were 2.2 dB closer to
# JPEG2000 than from 1/1 to 1/64, in half the time (bench/results/grid-study.md, 3 Kodak images).
# One 3x3 residual convolution: as good as two with the schedule below, 15% cheaper a step
# (bench/results/grid-ablate.md). Sub-pixel synthesis (upsampling 2: the 1x1 layers at half size,
# each position giving a 2x2 block): twice the steps in the same time and +0.39 to +1.06 dB on
# kodim01/12/23 at 0.3 bpp, normal effort, 2 threads (2026-12-02, bench/results/grid-study.md).
DEFAULTS: dict[str, int] = {"levels": 6, "first_level": 1, "upsampling": 2, "syn_layers": 1, "syn_width": 16,
                            "res_convs": 1, "context": 8, "arm_width": 8, "arm_shift": 8}
EFFORT_SECONDS = {"fast": 45.0, "normal": 150.0, "best": 540.0}  # training; quantization and coding come on top
# Whole-encode targets (issue 14: normal at most 3 minutes, best 10): rounds that bring a file
# over the budget back under it get the time left to these, and at least EXTRA_SECONDS_MIN.
EFFORT_LIMIT = {"fast": 60.0, "normal": 175.0, "best": 590.0}
# Both are for a 768x512 image; a larger one gets them in proportion to its pixels, up to
# ``effort_scale_max`` times (a schedule option, default EFFORT_SCALE_MAX), as a step's cost
# grows with the pixels: at a 768x512 image's time a 1536x1024 one trained 944 steps and fell
# 7.5 dB under JPEG2000 at -b 0.3 (an upscaled kodim23, 2026-12-07,
# bench/results/grid-robustness-2026-12-07.log). Smaller images keep the whole time.
REFERENCE_PIXELS = 768 * 512
EFFORT_SCALE_MAX = 4.0
EXTRA_SECONDS_MIN = 0.03
# The extra rounds train on the soft relaxation (noise) at a tenth of the run's first learning
# rates. Hard-rounded, restarting at a fifth made the rate estimate jump (kodim05, -b 0.6: the
# file 26.91 -> 25.13 dB, bench/results/grid-study-2026-12-02l.log), and at a hundredth rounds
# could raise the rate and collapse a file 0.1% over (kodim23 -b 0.3: 34.06 -> 22.98 dB through
# the dead zone). Replaying files 1% and 3% over on kodim23/05/01: hard at 1/100 fit in none
# of 6 (-0.5 to -0.8 dB), soft at 1/10 in all 6 (-0.00 to -0.23 dB), soft at 1/30 in 5
# (grid-study-2026-12-03b.log, -03c.log).
EXTRA_LR = 0.1
# Learning rates (Adam, cosine decay): on 256x384 crops at 1000 steps the latents want 0.1 (0.05:
# -0.44 dB, 0.2: -0.23, 0.025: -1.4) and the networks 0.02 (0.05: -0.15, 0.01: -0.34, 0.1: -2.2).
DEFAULT_LR = 0.02
DEFAULT_LATENT_LR = 0.1
# Adam's second-moment memory: about 20 steps (beta2 0.95) rather than torch's 1,000 (0.999), in runs
# of 2,000-5,000 steps whose gradients shrink as lambda, the temperature and the learning rate move.
# At equal steps, PSNR minus JPEG2000's at each file's rate, 0.999 -> 0.99: -b 0.6 (block grid,
# 2,500 steps) +0.42 / +0.31 / +0.11 / +0.09 dB on kodim23/03/01/13; -b 0.3 (3,500 steps) +0.16 /
# +0.03 / +0.02 on kodim23/12/01; -b 0.15 +0.22 / 0.00 on kodim23/01; -b 0.1 +0.05 on kodim23
# (bench/results/grid-study-2026-12-07k.log to -07n.log). 0.99 -> 0.95: +0.22 / +0.03 / +0.11 / +0.01
# at 0.6, +0.13 / +0.32 on kodim23/12 at 0.3, -0.06 / +0.06 at 0.15, -0.01 at 0.1; 0.9 fell below
# 0.95 on four of five pairs (2026-12-07, -07q.log to -07s.log).
ADAM_BETAS = (0.9, 0.95)
# Encoder-side schedule (options of the same names override): hard rounding from this fraction
# of the run, the soft-rounding temperature from t_start to t_end until then, the ARM's
# initial log-scale (a short run cannot afford to learn the scale from 1: 1.35 bits per zero),
# and the first lambda over the image's JPEG2000 slope at the budget (the controller ended at
# 0.45, 0.39 and 0.64 of it on kodim01/12/23 at 0.3 bpp, 2026-11-23, bench/results/grid-study.md).
# The controller: each correction multiplies lambda by (estimated / target rate)^control_gain,
# aiming rate_margin under the budget; 0.3 and no margin ended 3-4% over it on kodim01/12/23 and
# paid for it in extra rounds at a far larger lambda (-1.1 dB on average against 0.8 and 3%,
# 2026-12-02, bench/results/grid-study.md); a 1% margin instead of 3% brought the files from
# 0.281-0.287 to 0.290-0.294 bpp at -b 0.3 with no extra round (same study). ``coarse``: the
# fraction of the training time spent rendering at half the size per side (a step there costs
# about a third) before the full-size phase; off: +0.2/+0.4 dB on kodim23/12 with the old
# controller, -0.9 on kodim23 with this one. Training only the networks on frozen rounded
# latents in the hard phase gained nothing (-0.02 dB on kodim01/12/23, 2026-12-02): not kept.
# ``rate_lead``: the rate goes on falling after the controller's aim is met (lambda rose while the
# rate lagged), leaving files 2-4% under the budget; aiming 6% above the target at the first
# correction, falling linearly to none at the end, used 2.5% more of the budget for +0.13 dB at
# the same efficiency on kodim23/03/01/13 at -b 0.6 (3300 steps; 12% overshot), and 1.2% more for
# +0.04 dB on kodim12/23/01 at -b 0.3 (4500 steps; bench/results/grid-study-2026-12-06a.log, -06b.log).
SCHEDULE: dict[str, float] = {"hard_from": 0.9, "t_start": 0.35, "t_end": 0.08, "arm_init": -2.0,
                              "prior_gain": 0.45, "coarse": 0.0, "control_gain": 0.8, "rate_margin": 0.01,
                              "extra_soft": 1.0, "extra_lr": EXTRA_LR, "rate_rows": 1.0, "control_trend": 0.0,
                              "hard_rate_soft": 0.0, "control_integral": 0.0, "rate_lead": 0.06,
                              "effort_scale_max": EFFORT_SCALE_MAX}
# At high rates the default grids run out of capacity (kodim23, 2,000 steps: 34.04 dB at 0.48 bpp
# for lambda 5e-6 and 2e-5 alike), and a full-size grid taken as 2x2 blocks holds more; its
# lambda sits about 3x higher, so it starts from 1.4x the JPEG2000 slope (0.45x stayed over the
# budget through the extra rounds). At -b 0.6, normal effort: +0.82 dB closer to JPEG2000 than
# the default on kodim01/03/13/20/23 (2026-12-02, bench/results/grid-study-2026-12-02g.log).
# Not on small images, where the networks take much of the budget: on a 128x96 crop of kodim23 at
# -b 1.0 (networks 0.48 bpp), normal effort, it gave 33.78 dB against the default's 40.11
# (2026-12-02, bench/results/grid-study-2026-12-02h.log).
HIGH_RATE_BPP = 0.45
HIGH_RATE_NETWORKS = 0.1
# Its training counts the full-size grid's rate on a random half of its rows each step (unbiased,
# the controller reads the whole): the ARM is about half of a step there, and the 40-50% more
# steps brought six images at -b 0.6 +0.18 dB closer to JPEG2000 on average, each of them
# (kodim01/03/09/13/20/23, 2026-12-04, bench/results/grid-study-2026-12-04b.log, -04c.log).
# A quarter of its rows gave another +0.13 dB on average, each of kodim23/20/09/03 (14-27% more
# steps); an eighth was no better (-0.34 dB on kodim23, bench/results/grid-study-2026-12-04f.log, -04g.log).
# Its synthesis has 32 hidden channels where the default has 16: at 16 a half-size position (2x2
# pixels) had as many as Cool-chic gives one pixel. At 3300 steps on kodim23 / kodim03 at -b 0.6:
# +0.20 / +0.51 dB closer to JPEG2000 at each file's rate, 48 channels +0.41 / +0.04, for 3 and 10 ms
# more a step (2026-12-07, bench/results/grid-study-2026-12-07a.log, grid-speed-2026-12-07.log).
# At the normal effort, back to back with 16 on eight images: +0.13 dB on average (-0.12 to +0.33),
# seven closer, 0-10% fewer steps (grid-study-2026-12-07b.log, -07c.log).
HIGH_RATE: dict[str, float] = {"levels": 7, "first_level": 0, "upsampling": 3, "syn_width": 32, "prior_gain": 1.4,
                               "rate_rows": 0.25}
_OPTION_KEYS = set(DEFAULTS) | set(SCHEDULE) | {"lam", "lr", "lr_latents", "adam_beta1", "adam_beta2"}
_RATE_EXPONENT = 0.56  # bpp goes about as lambda^-0.56 (Cool-chic's published lambda-rate pairs)
_CONTROL_TICKS = 20  # lambda corrections per run (the rate answers lambda only after many steps)
_CONTROL_FROM = 0.2  # progress before which the rate is not yet representative
_CONTROL_MAX_STEP = 0.2  # largest change of log(lambda) per correction
# In an extra round the rate answers lambda slowly (a hundredth of the learning rates), and
# uncapped corrections compounded: lambda x9 over three rounds on kodim23 at 0.3 (2026-12-02,
# bench/results/grid-study-2026-12-02p.log); at most x1.49 a round (9 corrections of 0.044) over
# the overshoot's own step, which the kodim05 replays (x1.1-1.25 a round) stayed within.
_EXTRA_MAX_STEP = 0.044
# When the real file's overhead is measured (one stream built): real files exceeded the estimated
# latent bits plus the assumed overhead by 0.0024 bpp on average on 24 Kodak images at 0.3 bpp
# (2026-12-02), enough for kodim09 to miss the budget by a hair and pay three extra rounds.
_CALIBRATE_AT = 0.5


def effort_scale(pixels: int, most: float = EFFORT_SCALE_MAX) -> float:
    """How many times the effort's time an image of ``pixels`` gets (1 up to 768x512, then in
    proportion, at most ``most``)."""
    return min(most, max(1.0, pixels / REFERENCE_PIXELS))


def overhead_bits(params: dict[str, int], channels: int) -> int:
    """Assumed bits of a file beyond its latents: header, records, weights at about 9 bits."""
    from ..bitstream import overhead_bytes, size_of

    n_weights = sum(math.prod(s) for s in layout(params, channels))
    return 8 * overhead_bytes(size_of(SECTION), len(layout(params, channels))) + 9 * n_weights + 32


def _decodable(params: dict[str, int], shape: tuple[int, ...]) -> bool:
    """Whether a stream of this structure stays within the default decoder's parameter limit
    (a full-size grid has four times the latents of one from 1/2)."""
    from ..bitstream import DecodeLimits
    from .grid import decoded_parameters

    latents = sum(h * w for h, w in grid_shapes(shape[0], shape[1], params["levels"], params["first_level"]))
    return decoded_parameters({**params, "latents": latents}, shape[2]) <= DecodeLimits().max_parameters


def settings(options: EncodeOptions, shape: tuple[int, ...] | None = None) -> tuple[dict[str, int], dict[str, float]]:
    """The grid parameters and schedule of an encode: the defaults, or the high-rate ones for an
    image of ``shape`` (H, W, C) under a budget of at least ``HIGH_RATE_BPP`` where the networks
    take under ``HIGH_RATE_NETWORKS`` of it and the default decoder accepts the stream (unless a
    lambda or any grid structure is given), with the default synthesis width where the high-rate
    one would pass that share; then the options given, which win key by key; on an image too
    small for that many grids, as many as it holds."""
    opts = options.method_options
    base: dict[str, float] = {**DEFAULTS, **SCHEDULE}
    structure = ("levels", "first_level", "upsampling")
    if (shape is not None and options.bpp is not None and options.bpp >= HIGH_RATE_BPP and "lam" not in opts
            and not any(k in opts for k in structure)):
        limit = HIGH_RATE_NETWORKS * options.bpp * shape[0] * shape[1]
        high = {**DEFAULTS, **{k: int(v) for k, v in HIGH_RATE.items() if k in DEFAULTS}}
        # the widest synthesis that fits (a 481x321 photo at -b 0.6 keeps the default 16 channels, as
        # measured on BSDS500: 32 would take 6.5% of its budget)
        for width in (high["syn_width"], DEFAULTS["syn_width"]):
            cand = {**high, "syn_width": width}
            if overhead_bits(cand, shape[2]) < limit and _decodable(cand, shape):
                base.update(HIGH_RATE)
                base["syn_width"] = width
                break
    base.update({k: v for k, v in opts.items() if k in base})
    params = {k: int(base[k]) for k in DEFAULTS}
    side = max(1, min(shape[:2])) if shape is not None else 0
    if side and params["levels"] > 1 and side < 2 ** (params["first_level"] + params["levels"] - 1):
        params["levels"] = max(1, min(params["levels"], int(math.log2(side)) - params["first_level"] + 1))
    return params, {k: float(base[k]) for k in SCHEDULE}


def too_small(shape: tuple[int, ...], options: EncodeOptions, params: dict[str, int] | None = None) -> str | None:
    """Why the budget is too small for the grid on an image of ``shape`` (H, W, C): its networks
    alone leave under 0.02 bpp for the latents; None if there is room (or no budget)."""
    if options.bpp is None:
        return None
    h, w, c = shape
    params = params if params is not None else settings(options, shape)[0]
    overhead = overhead_bits(params, c)
    if options.bpp * h * w > overhead + 0.02 * h * w:
        return None
    return (f"a budget of {options.bpp} bpp on {w}x{h} is too small for the grid method: its networks alone "
            f"take about {overhead / (h * w):.3f} bpp (--method coin fits smaller networks)")


def check_grid_options(options: EncodeOptions) -> None:
    """Known keys, values inside the section's ranges, and a budget or a lambda."""
    opts = options.method_options
    unknown = set(opts) - _OPTION_KEYS
    if unknown:
        raise OptionError(f"grid takes no option {', '.join(sorted(unknown))}")
    for f in SECTION:
        if f.name in opts:
            try:
                f.check(int(opts[f.name]))
            except Exception as exc:
                raise OptionError(f"grid option {f.name}: {exc}") from None
    params = settings(options)[0]
    if params["upsampling"] == 3 and params["first_level"] != 0:
        raise OptionError("grid option upsampling 3 needs first_level 0 (a full-size grid)")
    for key in ("lr", "lr_latents"):
        if key in opts and not (math.isfinite(opts[key]) and 0 < opts[key] <= 10):
            raise OptionError(f"grid option {key} must be in (0, 10], got {opts[key]}")
    for key, lo in (("adam_beta1", 0.0), ("adam_beta2", 0.5)):
        if key in opts and not (math.isfinite(opts[key]) and lo <= opts[key] < 1):
            raise OptionError(f"grid option {key} must be in [{lo}, 1), got {opts[key]}")
    for key, (lo, hi) in {"hard_from": (0, 1), "t_start": (0.01, 1), "t_end": (0.01, 1), "arm_init": (-8, 2),
                          "prior_gain": (0.01, 100), "coarse": (0, 0.8),
                          "control_gain": (0, 2), "rate_margin": (0, 0.5), "extra_soft": (0, 1), "extra_lr": (1e-4, 1),
                          "rate_rows": (0.05, 1), "control_trend": (0, 4),
                          "hard_rate_soft": (0, 1), "control_integral": (0, 2),
                          "rate_lead": (0, 0.5), "effort_scale_max": (1, 16)}.items():
        if key in opts and not (math.isfinite(opts[key]) and lo <= opts[key] <= hi):
            raise OptionError(f"grid option {key} must be in [{lo}, {hi}], got {opts[key]}")
    lam = opts.get("lam")
    if lam is not None and not (math.isfinite(lam) and lam > 0):
        raise OptionError(f"lambda must be a positive number, got {lam}")
    if lam is None and options.bpp is None:
        raise OptionError("give a bpp budget or a lambda")


def lambda_prior(bpp: float) -> float:
    """A first lambda for a budget, the same for every image: Cool-chic's published lambda-rate
    pairs on Kodak (0.004 -> 0.22 bpp, 0.001 -> 0.48 bpp), interpolated in log-log."""
    return 0.004 * (bpp / 0.22) ** (-1 / _RATE_EXPONENT)


def image_lambda(image: np.ndarray, bpp: float) -> float | None:
    """The image's own rate-distortion slope near ``bpp``, -dMSE/dbpp (MSE of [0, 1] values),
    measured with JPEG2000 at bpp / 1.25 and bpp * 1.25: the lambda at which a codec with a
    curve of that shape sits at the budget. Images differ tenfold here (a texture needs a far
    larger lambda than a smooth photo for the same rate); None where JPEG2000 is unavailable or
    cannot reach the rates."""
    from ..baselines import available_codecs, search_quality

    codec = available_codecs()[0].get("jpeg2000")
    if codec is None:
        return None
    pixels = image.shape[0] * image.shape[1]
    points = []
    for rate in (bpp / 1.25, bpp * 1.25):
        found = search_quality(codec, image, rate)
        if found is None:
            return None
        err = (found[2].astype(np.float64) - image.astype(np.float64)) / 255
        points.append((len(found[1]) * 8 / pixels, float(np.mean(err ** 2))))
    (r0, m0), (r1, m1) = points
    slope = (m0 - m1) / (r1 - r0) if r1 > r0 else 0.0
    return slope if math.isfinite(slope) and slope > 0 else None


def start_lambda(image: np.ndarray, bpp: float, sched: dict) -> float:
    """The lambda a budgeted fit starts from: the image's own slope times the schedule's
    ``prior_gain``, or :func:`lambda_prior` where the slope cannot be measured."""
    lam = image_lambda(image, bpp)
    return sched["prior_gain"] * lam if lam is not None else lambda_prior(bpp)


def _psnr_db(mse: float) -> float:
    """PSNR (dB, 3 decimals) of an MSE of [0, 1] values."""
    return round(10 * math.log10(1 / max(mse, 1e-12)), 3)


def _mse_8bit(x, target) -> float:
    """MSE of [0, 1] values between ``target`` and ``x`` as the decoder outputs it (clamped, 8-bit)."""
    return float(torch.mean(((x.clamp(0, 1) * 255).round() / 255 - target) ** 2))


def _train(model: GridModel, optimizer, loss_fn, score_fn, keep_fn, options: EncodeOptions, coarse: float,
           scale: float = 1.0):
    """The training run: a fraction ``coarse`` of the time (or of ``options.steps``, counting a
    half-size step as a third) at half the size, the rest at full size, on one clock for the
    learning rate (cosine), the temperature and the rate controller; the effort's time times
    ``scale`` (:func:`effort_scale`)."""
    from .. import train

    effort = EFFORT_SECONDS[options.effort] * scale
    loop = train.LoopOptions(steps=options.steps, budget_seconds=effort, time_limit=options.time_limit,
                             warmup_steps=20, eval_fractions=(0.5, 0.8, 0.9, 0.97, 1.0),
                             guard_rise=False, on_progress=options.on_progress)
    if coarse <= 0:
        return train.run(model, optimizer, loss_fn, score_fn, keep_fn, loop)
    t0 = time.perf_counter()
    fixed = loop.steps is not None
    steps = (max(1, round(3 * coarse * loop.steps)), max(1, round((1 - coarse) * loop.steps))) if fixed else (None, None)
    first = dataclasses.replace(loop, steps=steps[0], budget_seconds=effort * coarse, cosine_span=coarse,
                                eval_fractions=(1.0,),
                                on_progress=train.phase_progress(loop.on_progress, steps_after=steps[1],
                                                                 seconds_after=None if fixed else effort * (1 - coarse),
                                                                 cost_after=3.0))
    one = train.run(model, optimizer, lambda p: loss_fn(coarse * p, True), score_fn, keep_fn, first)
    spent = time.perf_counter() - t0
    second = dataclasses.replace(loop, steps=steps[1], budget_seconds=max(1.0, effort - spent), cosine_start=coarse,
                                 cosine_span=1 - coarse, warmup_steps=0, score_at_start=True,
                                 time_limit=None if loop.time_limit is None else max(1.0, loop.time_limit - spent),
                                 on_progress=train.phase_progress(loop.on_progress, one.steps, spent))
    two = train.run(model, optimizer, lambda p: loss_fn(coarse + (1 - coarse) * p), score_fn, keep_fn, second)
    return dataclasses.replace(two, steps=one.steps + two.steps, seconds=time.perf_counter() - t0,
                               best_step=one.steps + two.best_step, restarts=one.restarts + two.restarts)


def build_stream(model: GridModel, syn_bits: int, channels: int) -> bytes:
    """Quantize (synthesis at ``syn_bits``, ARM at its fixed-point step, latents rounded) and code."""
    from ..bitstream import Stream, TensorRecord, pack
    from ..entropy import Encoder
    from ..quantize import QuantizedTensor, quantize, to_bf16_bits
    from .grid import ID

    p = model.params
    shift = p["arm_shift"]
    enc = Encoder()
    records = []
    for t in model.syn:
        qt = quantize(t.detach().cpu().numpy(), syn_bits)
        m, s = enc.add(qt.q, syn_bits)
        records.append(TensorRecord(syn_bits, m, qt.offset_bf16, qt.step_bf16, s))
    arm_ints = [np.rint(t.detach().cpu().double().numpy() * 2.0 ** shift).astype(np.int64) for t in model.arm]
    for q in arm_ints:
        qt = QuantizedTensor(np.clip(q, -32767, 32767).reshape(-1).astype(np.int32), 0, to_bf16_bits(2.0 ** -shift))
        m, s = enc.add(qt.q, 16)
        records.append(TensorRecord(16, m, qt.offset_bf16, qt.step_bf16, s))
    arm_ints = [np.clip(q, -32767, 32767) for q in arm_ints]
    layers = [(arm_ints[0], arm_ints[1]), (arm_ints[2], arm_ints[3]), (arm_ints[4], arm_ints[5])]
    grids = [np.rint(g.detach().cpu().clamp(-LATENT_MAX, LATENT_MAX).numpy()).astype(np.int64) for g in model.grids]
    encode_latents(enc, grids, layers, shift, p["context"])
    return pack(Stream(ID, channels, model.width, model.height, pack_section(p), records, enc.payload()))


def _synthesis_depths(model: GridModel, image: np.ndarray) -> list[tuple[int, float, int]]:
    """(bits, MSE, bits of the coded synthesis tensors) for each synthesis depth, 6..12 bits.

    Only the synthesis tensors differ between depths, so each is scored by rendering with its
    dequantized tensors and coding those tensors alone."""
    from ..entropy import encode_tensors
    from ..quantize import quantize

    h, w, _ = image.shape
    target = torch.from_numpy(image.astype(np.float32) / 255).permute(2, 0, 1)
    out = []
    with torch.no_grad():
        ys = [y.cpu() for y in model.quantized("hard", 0.1)]
        for bits in (6, 7, 8, 9, 10, 12):
            qts = [quantize(t.detach().cpu().numpy(), bits) for t in model.syn]
            syn = [torch.from_numpy(q.dequantize().reshape(t.shape)) for q, t in zip(qts, model.syn)]
            mse = _mse_8bit(synthesize(ys, syn, model.params, h, w), target)
            out.append((bits, mse, 8 * len(encode_tensors([q.q for q in qts], [bits] * len(qts))[1])))
    return out


def _choose_stream(model: GridModel, image: np.ndarray, lam: float) -> bytes:
    """The stream whose synthesis depth has the lowest MSE + lambda * bpp (built once)."""
    pixels = image.shape[0] * image.shape[1]
    bits = min(_synthesis_depths(model, image), key=lambda d: d[1] + lam * d[2] / pixels)[0]
    return build_stream(model, bits, image.shape[2])


def _coarser_synthesis(model: GridModel, image: np.ndarray, budget_bits: float) -> bytes | None:
    """For a file a little over the budget: the synthesis depth of lowest MSE whose whole file
    fits, or None. Tried before the dead zone: where the networks are a large part of the file
    (small images) a coarser synthesis sheds more bits for less than zeroed latents do."""
    too_big = math.inf  # coded synthesis bits of a depth whose file did not fit: no larger one can
    for bits, _, syn_bits in sorted(_synthesis_depths(model, image), key=lambda d: d[1]):
        if syn_bits >= too_big:
            continue
        stream = build_stream(model, bits, image.shape[2])
        if len(stream) * 8 <= budget_bits:
            return stream
        too_big = syn_bits
    return None


def _dead_zone_fit(model: GridModel, image: np.ndarray, lam: float, budget_bits: float) -> tuple[float, bytes]:
    """The last resort when training could not bring the file under the budget: the n latents
    of smallest trained magnitude among those that round to non-zero become zero, with n
    bisected (about 14 streams) for the smallest that fits. A file rather than a refusal, but a
    costly one: the trained ARM codes small latents cheaply, so on kodim23 zeroing 10% of them
    saved 1.2% of the rate for 0.6 dB (bench/results/grid-study-2026-12-02j.log). Returns the
    fraction of those latents zeroed and the stream (over the budget only if even all-zero
    latents are)."""
    original = [g.detach().clone() for g in model.grids]
    mags = torch.cat([g.abs().flatten() for g in original])
    mags = torch.sort(mags[mags >= 0.5]).values
    total = int(mags.numel())

    def stream(n: int) -> bytes:
        t = float(mags[n - 1]) if n > 0 else 0.0
        with torch.no_grad():
            for g, g0 in zip(model.grids, original):
                g.copy_(torch.where(g0.abs() <= t, torch.zeros_like(g0), g0) if n > 0 else g0)
        return _choose_stream(model, image, lam)

    lo, hi = 0, total
    best = (hi, stream(hi))
    while hi - lo > max(1, total // 4096):
        mid = (lo + hi) // 2
        data = stream(mid)
        if len(data) * 8 <= budget_bits:
            hi, best = mid, (mid, data)
        else:
            lo = mid
    stream(best[0])  # leave the model as the stream it returns
    return round(best[0] / max(total, 1), 4), best[1]


class _Fit:
    """One image's training state: the model, its targets, lambda and the rate controller.

    The controller multiplies lambda by (estimated / target latent bits)^control_gain once a
    tick, from the hard-rounded rate estimate; ``file_bits`` (None: no budget, or a fixed
    lambda) is what the whole file should take, and the latent target is that less the
    overhead, assumed at first and measured once a real stream is built."""

    def __init__(self, model: GridModel, image: np.ndarray, sched: dict[str, float], lam: float,
                 budget_bits: float | None, overhead: float, device: str):
        self.model, self.sched, self.lam = model, sched, lam
        h, w, self.channels = image.shape
        self.pixels = h * w
        self.effort_scale = effort_scale(self.pixels, sched["effort_scale_max"])  # of the effort's times
        self.target = torch.from_numpy(image.astype(np.float32) / 255).permute(2, 0, 1).to(device)
        self.target_coarse = (F.interpolate(self.target[None], size=half_size(h, w), mode="area")[0]
                              if sched["coarse"] > 0 else None)
        self.budget_bits = budget_bits
        self.file_bits = None if budget_bits is None else budget_bits * (1 - sched["rate_margin"])
        self.overhead = overhead  # bits of a file beyond its estimated latent bits
        self.latent_target = None if self.file_bits is None else self.file_bits - overhead
        self.step, self.tick = 0, -1
        self.last_est: float | None = None  # the previous tick's estimate (for ``control_trend``)
        self.integral = 0.0  # sum of the log rate errors from _CALIBRATE_AT on (for ``control_integral``)
        self.trace: list[tuple[int, float, float]] = []  # (step, estimated latent bpp, lambda after the correction)
        self.evals: list[tuple[int, float, float]] = []  # (step, hard PSNR, estimated file bpp) of each scored snapshot
        self.overhead_bpp: float | None = None  # measured

    def estimate(self) -> float:
        """The latent bits of the hard-rounded grids, as the ARM estimates them."""
        with torch.no_grad():
            return float(self.model.rate(self.model.quantized("hard", 0.1)))

    def correct(self, at: float, ticks: int = _CONTROL_TICKS, start: float = _CONTROL_FROM,
                max_step: float = _CONTROL_MAX_STEP, training: bool = True) -> None:
        """One lambda correction when ``at`` (progress in [0, 1]) enters a new tick (``training``:
        of the training run, where the lead and the integral apply; else of an extra round)."""
        tick = int(at * ticks)
        if self.latent_target is None or at < start or tick == self.tick:
            return
        self.tick = tick
        est = self.estimate()
        if at >= _CALIBRATE_AT and self.overhead_bpp is None and self.file_bits is not None:
            # once: what a real file costs beyond the estimated latent bits (weights, header, the
            # integer ARM's coding against the float estimate), measured rather than assumed
            self.measure_overhead(8 * len(build_stream(self.model, 8, self.channels)), est)
            self.latent_target = self.file_bits - self.overhead
        # control_trend > 0: correct on the rate extrapolated by that many ticks of its last
        # change, as the rate answers lambda late (lambda overshot while the rate was falling)
        log_est = math.log(max(est, 1.0))
        ahead = log_est + (self.sched["control_trend"] * (log_est - self.last_est) if self.last_est is not None else 0.0)
        self.last_est = log_est
        # rate_lead > 0: aim that fraction above the target at the controller's first tick, falling
        # linearly to none at the end, as the rate goes on falling late in a run at a steady lambda
        lead = self.sched["rate_lead"] * max(0.0, 1 - at) / (1 - start) if training else 0.0
        error = ahead - math.log(max(self.latent_target * (1 + lead), 1.0))
        # control_integral > 0: also the sum of the errors since half-way, against the rate's
        # steady drift down at a constant lambda; not earlier, where the start's excess would wind it up
        if training and at >= _CALIBRATE_AT:
            self.integral += error
        step = self.sched["control_gain"] * error + self.sched["control_integral"] * self.integral
        self.lam *= math.exp(min(max_step, max(-max_step, step)))
        self.trace.append((self.step, round(est / self.pixels, 4), float(f"{self.lam:.4g}")))

    def measure_overhead(self, file_bits: float, latent_bits: float) -> None:
        """What a real file of ``file_bits`` cost beyond its ``latent_bits`` as estimated."""
        self.overhead = file_bits - latent_bits
        self.overhead_bpp = round(self.overhead / self.pixels, 5)

    def loss(self, progress: float, coarse: bool = False, extra_round: float | None = None) -> torch.Tensor:
        """MSE + lambda * bpp at this point of the schedule (half size when ``coarse``); in an
        extra round (its progress given) the schedule's end, with the round's own corrections."""
        self.step += 1
        hard = progress >= self.sched["hard_from"] and not (extra_round is not None and self.sched["extra_soft"])
        t0, t1 = self.sched["t_start"], self.sched["t_end"]
        temperature = t0 + (t1 - t0) * min(1.0, progress / max(self.sched["hard_from"], 1e-9))
        x, bits = self.model.forward("hard" if hard else "noise", temperature, coarse, self.sched["rate_rows"],
                                     "noise" if hard and self.sched["hard_rate_soft"] else None)
        if extra_round is None:
            self.correct(progress)
        else:
            self.correct(extra_round, ticks=10, start=0.1, max_step=_EXTRA_MAX_STEP, training=False)
        return mse(x, self.target_coarse if coarse else self.target) + self.lam * bits / self.pixels

    def score(self) -> float:
        """How good the hard-rounded model is, comparably across the run while lambda moves:
        without a budget, minus its RD cost; with one, minus its MSE and lambda times the bpp its
        estimated file would go over the budget (less half the margin), about what the extra
        rounds pay to shed them. Scoring at the lambda of the moment kept the snapshot from the
        hard phase's first step on 47 of 48 Kodak files at 0.15/0.3 and made one run keep its
        half-way state, 7% over the budget (bench cache and grid-study-2026-12-02l.log): lambda
        rises late in a run, so the same model scores worse later."""
        with torch.no_grad():
            x, bits = self.model.forward("hard")
            mse = _mse_8bit(x, self.target)
        self.evals.append((self.step, _psnr_db(mse), round((float(bits) + self.overhead) / self.pixels, 5)))
        if self.budget_bits is None:
            return -(mse + self.lam * float(bits) / self.pixels)
        limit = self.budget_bits * (1 - 0.5 * self.sched["rate_margin"])
        return -(mse + self.lam * max(0.0, float(bits) + self.overhead - limit) / self.pixels)

    def keep(self) -> list:
        return [t.detach().clone() for t in self.model.tensors()]


def _extra_rounds(fit: _Fit, optimizer, lrs: list[float], image: np.ndarray, options: EncodeOptions,
                  data: bytes, seconds_left: float) -> tuple[bytes, int]:
    """Bring a file over the budget back under it with a few more steps (soft-rounded unless
    ``extra_soft`` is 0).

    Each round aims a little further under the budget (2%, 3%, 4%): lambda is raised by as much
    as the bits to shed call for (the rate goes about as lambda^-0.56, so a 2.5% cut is about
    x1.05), and the controller keeps correcting it during the round (capped), at
    ``EXTRA_LR`` of the learning rates. A round that shed less than half of what it aimed at
    makes the next round's step in lambda twice as large (in the log), and so on: without it a
    file that drifted up while lambda rose ended in the dead zone at a loss of 11 dB
    (tests/test_methods_grid.py). Returns the stream and the rounds run."""
    from .. import train

    budget_bits = options.bpp * fit.pixels
    extra, stalls, before, shed = 0, 0, 0.0, 0.0
    while len(data) * 8 > budget_bits and extra < 3:
        extra += 1
        if extra > 1 and before - len(data) * 8 < 0.5 * shed:
            stalls += 1
        est = fit.estimate()
        fit.measure_overhead(len(data) * 8, est)
        aim = budget_bits * (1 - fit.sched["rate_margin"] * (1 + extra))
        fit.latent_target = max(0.5 * est, est - (len(data) * 8 - aim))
        fit.lam *= (est / fit.latent_target) ** ((1 + stalls) / _RATE_EXPONENT)
        before, shed = len(data) * 8, len(data) * 8 - aim
        fit.tick, fit.last_est = -1, None
        if options.steps is not None:
            more = train.LoopOptions(steps=max(50, options.steps // 5), warmup_steps=1, eval_fractions=(1.0,),
                                     guard_rise=False)
        else:
            effort = EFFORT_SECONDS[options.effort] * fit.effort_scale
            more = train.LoopOptions(budget_seconds=max(EXTRA_SECONDS_MIN * effort, min(0.2 * effort, seconds_left)),
                                     warmup_steps=1, eval_fractions=(1.0,), guard_rise=False)
        for g, lr in zip(optimizer.param_groups, lrs):
            g["lr"] = lr * fit.sched["extra_lr"]
        t0 = time.perf_counter()
        train.run(fit.model, optimizer, lambda p: fit.loss(1.0, extra_round=p), fit.score, fit.keep, more)
        seconds_left -= time.perf_counter() - t0
        data = _choose_stream(fit.model, image, fit.lam)
    return data, extra


def encode(image: np.ndarray, options: EncodeOptions) -> Fitted:
    """Fit, then code; rate control by lambda for ``options.bpp``."""
    return encode_from(image, options, None)


@dataclasses.dataclass
class _Trained:
    """A finished training run: the fit (its model holds the best snapshot), what the extra
    rounds continue with, and how the run was set up."""

    fit: _Fit
    params: dict[str, int]
    optimizer: torch.optim.Optimizer
    lrs: list[float]
    result: object  # train.LoopResult
    lam0: float
    init: str | None  # "given": the networks started from ``start``; None: random ones


def _trained(image: np.ndarray, options: EncodeOptions, start: list[np.ndarray] | None) -> _Trained:
    """Set up the model, lambda and optimizer for ``image`` and train (see :func:`encode_from`)."""
    from . import grid_init

    check_grid_options(options)
    opts = dict(options.method_options)
    params, sched = settings(options, image.shape)
    h, w, c = image.shape
    model = GridModel(params, h, w, c, options.seed, options.device, sched["arm_init"])
    init = None
    if start is not None and grid_init.fits(model, start):
        grid_init.start_from(model, start)
        init = "given"  # no learned initialization is shipped yet (grid_init)
    pixels = h * w
    overhead = overhead_bits(params, c)
    budget = options.bpp
    short = too_small(image.shape, options, params)
    if short:
        raise DataError(short)
    if "lam" in opts:
        lam0 = float(opts["lam"])
    else:
        lam0 = start_lambda(image, budget, sched)
    fit = _Fit(model, image, sched, lam0, None if budget is None or "lam" in opts else budget * pixels, overhead,
               options.device)
    lrs = [opts.get("lr_latents", DEFAULT_LATENT_LR), opts.get("lr", DEFAULT_LR)]
    optimizer = torch.optim.Adam([{"params": list(model.grids), "lr": lrs[0]},
                                  {"params": list(model.syn) + list(model.arm), "lr": lrs[1]}],
                                 betas=(float(opts.get("adam_beta1", ADAM_BETAS[0])),
                                        float(opts.get("adam_beta2", ADAM_BETAS[1]))))
    result = _train(model, optimizer, fit.loss, fit.score, fit.keep, options, sched["coarse"], fit.effort_scale)
    with torch.no_grad():
        for t, best in zip(model.tensors(), result.best):
            t.copy_(best)
    return _Trained(fit, params, optimizer, lrs, result, lam0, init)


def encode_from(image: np.ndarray, options: EncodeOptions, start: list[np.ndarray] | None) -> Fitted:
    """:func:`encode` with the networks started from ``start`` (a stream's, see
    :func:`grid_init.networks_of`) where their shapes fit; else, or with None, random ones."""
    t_start = time.perf_counter()
    run = _trained(image, options, start)
    fit, model, params, result = run.fit, run.fit.model, run.params, run.result
    h, w, c = image.shape
    pixels = h * w
    budget = options.bpp
    with torch.no_grad():  # what training reached, before the networks are quantized (for diagnosis)
        x, bits = model.forward("hard")
        mse = _mse_8bit(x, fit.target)
    details = {"fit_psnr": _psnr_db(mse),
               "fit_latent_bpp": round(float(bits) / pixels, 5)}
    data = _choose_stream(model, image, fit.lam)
    details["first_file_bpp"] = round(len(data) * 8 / pixels, 5)  # before any extra round
    extra = 0
    if budget is not None and len(data) * 8 > budget * pixels:
        left = EFFORT_LIMIT[options.effort] * fit.effort_scale - (time.perf_counter() - t_start)
        data, extra = _extra_rounds(fit, run.optimizer, run.lrs, image, options, data, left)
    warnings = []
    dead_zone = 0.0
    if budget is not None and len(data) * 8 > budget * pixels:
        data = _coarser_synthesis(model, image, budget * pixels) or data
    if budget is not None and len(data) * 8 > budget * pixels:
        dead_zone, data = _dead_zone_fit(model, image, fit.lam, budget * pixels)
        warnings.append(f"over the budget after {extra} extra rounds: {100 * dead_zone:.1f}% of the non-zero "
                        f"latents (the smallest) were set to zero to fit")
    if budget is not None and len(data) * 8 > budget * pixels:
        raise DataError(f"could not fit {w}x{h} within {budget} bpp with the grid method "
                        f"(best: {len(data) * 8 / pixels:.4f} bpp)")
    config = (f"{params['levels']} grids from 1/{2 ** params['first_level']}, "
              f"{('bilinear', 'bicubic', 'sub-pixel', 'sub-pixel + 2x2 blocks')[params['upsampling']]} synthesis {params['syn_layers']}x"
              f"{params['syn_width']} + {params['res_convs']} 3x3, ARM {params['context']}->{params['arm_width']}")
    details.update({"init": run.init, "lambda": fit.lam, "lambda_start": run.lam0, "extra_rounds": extra, "dead_zone": dead_zone,
                    "rate_trace": fit.trace, "evals": fit.evals, "overhead_bpp_assumed": round(overhead_bits(params, c) / pixels, 5),
                    "overhead_bpp": fit.overhead_bpp})
    return Fitted(data=data, config=config, steps=result.steps, best_step=result.best_step, restarts=result.restarts,
                  warnings=warnings, details=details)
