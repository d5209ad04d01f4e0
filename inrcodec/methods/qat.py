"""QAT: a SIREN trained for its quantizer (Quantization Networks' soft quantizer, or straight-through).

The stream is a COIN stream (same section, tensors and decoding; the decode side below is
COIN's), but the weights were trained for their quantizer: each tensor stores integer levels in
[-L, L] (L = 2^(bits-1) - 1; 2 bits is ternary, 1 bit is -1 and +1) and its learned ``alpha`` as the step
(offset 0). The encoder first fits in float (half the run, as COIN), then fine-tunes weights and
steps through the quantizer (the other half): by default hard rounding with a straight-through
gradient (measured better here), or the soft quantizer with a rising temperature. It keeps the
snapshot whose hard-quantized network (what the decoder sees) scores best.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from ..errors import DataError, OptionError
from ..quantize import from_bf16_bits, max_level, weight_bits
from ..siren import SirenConfig, sine_layers
from . import METHOD_IDS, EncodeOptions, Fitted, coin
from .coin import SECTION, describe, layout, pack_section, read_section, reconstruct, work_per_pixel  # noqa: F401

ID = METHOD_IDS["qat"]
NAME = "qat"
SUMMARY = "SIREN trained for its quantizer (straight-through, or Quantization Networks' soft one), 1 to 16 bits"
VARIANTS = ("qat (rate control at 8 bits, Fourier features), qat-siren (the plain SIREN), qat<bits> (e.g. qat1, "
            "qat4), qat<bits>w (biases kept at 16 bits)")
# The depth measured best at 0.3 bpp: 6 Kodak images, 400 float + 400 QAT steps, rate control
# per depth (bench/qat_study.py b, README): 8 bits (first layer 14) 25.66 dB, 4 bits 23.39,
# 16 bits 24.08; other budgets not measured yet (kodim23 at 2000 steps agreed: 30.01 vs 27.02).
DEFAULT_BITS = 8
FIRST_LAYER_BITS = 14  # 4-bit weights on a 96x64 crop: 28.19 dB with the first layer at 14 bits, 22.26 without
# Coded bits per weight measured after QAT on a 96x64 crop of kodim23 (5x27, 600 steps); other
# depths use the planner's depth - 0.5.
CODED_BITS: dict[int, float] = {1: 1.0, 2: 0.9, 3: 2.1, 4: 3.3}
BIAS_BITS = 16  # biases that are not quantization-aware keep this post-training depth
_OPTION_KEYS = {"arch", "bits", "quantize_biases", "first_layer_bits", "lr", "qat_lr_scale", "quantizer",
                "compile", "fourier", "l1", "bf16"}
# Fourier features (Struempler et al.'s encoding: coin.FOURIER_LAYERS sine layers, every tensor
# at the planned depth, an L1 penalty): the default network; --fourier 0 gives the plain SIREN.
DEFAULT_FOURIER = coin.FOURIER_FREQUENCIES
# Coded bits per 8-bit parameter after QAT with the L1 penalty: 6.95 on six Kodak images at
# 0.3 bpp (bench/fourier_probe.py); other depths: depth - 1, not measured.
L1_BITS_SAVED = 1.0
# Below this planned width the default falls back to the plain SIREN (a guess, not measured:
# the features' first layer, 2 + 4F inputs wide, would take most of a small budget).
MIN_FOURIER_WIDTH = 16
# Pixels per training step, both phases: 8,192 at twice the steps of 16,384 (the same pixel
# evaluations and about the same time: bench/results/qat-sweep-2026-12-06b.log, -06c.log) gave,
# on kodim01/23/05/12, +0.38 dB at 3.7% less rate at -b 0.6 (4x94, 10,000 against 5,000 steps;
# +0.17 to +0.61, each file smaller), +0.20 dB at 2.5% less at -b 0.3 (4x63; +0.14 to +0.27) and
# +0.14 dB at -b 0.15 (4x41; +0.06 to +0.21); 4,096 x 20,000 was mixed at 0.6 (kodim05 -0.26
# against 16,384). COIN and MCNC keep siren_fit's 16,384 (not measured there).
BATCH_PIXELS = 8192
# A network that trains fewer pixels than this within the effort's time is narrowed (the file then
# comes out under the budget): at the fast preset (60 s, one thread) on 24 Kodak images, 4x94 at
# 0.6 bpp trained 588 steps to 27.36 dB, 4x138 at 1.2 bpp 350 steps to 26.84 (bench/results/kodak).
# With it, four images at 1.2: 26.44 dB at 0.87 bpp against 26.32 at 1.19; at 0.6 unchanged
# (bench/results/qat-time-cap, README). Counted in pixels (450 steps of 16,384), so that the
# minimum follows BATCH_PIXELS wherever that is set.
MIN_TRAINING_PIXELS = 450 * 16384
QAT_LR_SCALE = 0.25  # the quantization-aware phase's learning rate, as a fraction of the float phase's
# Schedule of the two phases, measured on kodim23 at 0.3 bpp, 1250 steps (Fourier network): no
# warm-up +0.27 dB, and a float phase whose cosine ends at half the rate (the QAT phase goes on
# from there, decaying to zero) +0.42 dB more: 30.36 dB against 29.67.
WARMUP_STEPS = 0
FLOAT_COSINE_SPAN = 0.5
# Straight-through rounding beat the soft quantizer on kodim23 at 0.3 bpp, 2000 steps
# (bench/qat_probe.py): 8 bits 30.01 against 28.78 dB, 4 bits 27.02 against 24.61 dB. The soft
# quantizer of Quantization Networks stays available as quantizer "soft".
DEFAULT_QUANTIZER = "ste"


def check_options(options: EncodeOptions) -> None:
    """Refuse QAT options that no image can satisfy."""
    from .coin import check_siren_options

    check_siren_options(options, NAME, _OPTION_KEYS, ("bits", "first_layer_bits"), min_bits=1)
    if options.method_options.get("quantizer", DEFAULT_QUANTIZER) not in ("soft", "ste"):
        raise OptionError("qat's quantizer is soft (Quantization Networks) or ste (straight-through)")


def tensor_bits(config: SirenConfig, bits: int, quantize_biases: bool = True,
                first_layer_bits: int | None = None) -> list[int]:
    """Depth of every tensor: weights at ``bits`` (the first layer's at ``first_layer_bits`` if
    given), biases at ``bits`` too or, without ``quantize_biases``, at BIAS_BITS."""
    out = []
    for k in range(len(config.layer_shapes())):
        w = first_layer_bits if (k == 0 and first_layer_bits) else bits
        out += [w, w if quantize_biases else BIAS_BITS]
    return out


def build_stream(ints: list[np.ndarray], alphas: list[int], bits: list[int], config: SirenConfig,
                 height: int, width: int) -> bytes:
    """Entropy code integer levels with their alpha (bf16 bits) as step, offset 0."""
    from ..bitstream import Stream, TensorRecord, pack
    from ..entropy import encode_tensors

    models, payload = encode_tensors(ints, bits)
    records = [TensorRecord(b, m, 0, a, s) for b, a, (m, s) in zip(bits, alphas, models)]
    return pack(Stream(ID, config.out_channels, width, height, pack_section(config), records, payload))


def encode(image: np.ndarray, options: EncodeOptions) -> Fitted:
    """Float fit, quantization-aware fine-tuning, then the stream (coarsened if over budget)."""
    from .. import siren_fit, train
    from ..decoder import decode
    from ..metrics import psnr

    height, width, channels = image.shape
    opts = options.method_options
    bits = opts.get("bits") or DEFAULT_BITS
    qb = opts.get("quantize_biases", True)
    frequencies = opts.get("fourier", DEFAULT_FOURIER if opts.get("arch") else default_frequencies(height, width))

    def knobs(f: int) -> tuple[int | None, float]:  # first layer's depth and L1 weight, as given or for f
        return (opts.get("first_layer_bits", None if f else FIRST_LAYER_BITS),
                opts.get("l1", coin.FOURIER_L1 if f else 0.0))

    first, l1 = knobs(frequencies)
    # bfloat16 products where the machine has them: level with float32 at equal steps, 60-67% more
    # steps in the same time at -b 0.6 (bench/results/qat-sweep-2026-12-07b.log)
    bf16 = opts.get("bf16")
    bf16 = siren_fit.native_bf16(options.device) if bf16 is None else bool(bf16)
    warnings: list[str] = []
    if opts.get("arch") is not None:
        config = coin.fixed_config(opts["arch"], channels, frequencies, height, width)
    else:
        config, warnings = plan(options.bpp, height, width, channels, bits, qb, first, frequencies, l1)
        if frequencies and "fourier" not in opts and config.width < MIN_FOURIER_WIDTH:
            # a budget too small for the features' wide first layer: the plain SIREN
            frequencies = 0
            first, l1 = knobs(0)
            config, warnings = plan(options.bpp, height, width, channels, bits, qb, first, 0, l1)
    if options.steps is None and opts.get("arch") is None:
        planned = config
        seconds = min(train.EFFORT_SECONDS[options.effort], options.time_limit or math.inf)
        min_steps = MIN_TRAINING_PIXELS // BATCH_PIXELS
        config = siren_fit.cap_for_time(config, seconds, min_steps, options.device,
                                        min(config.width, MIN_FOURIER_WIDTH),
                                        min(BATCH_PIXELS, height * width))
        if config != planned:
            warnings.append(f"a {planned.describe()} network would train fewer than {min_steps} steps in "
                            f"{seconds:.0f} s on this machine: used {config.describe()}, under the budget "
                            "(a larger effort uses all of it)")
    tb = tensor_bits(config, bits, qb, first)
    half_steps = None if options.steps is None else max(1, options.steps // 2)
    budget = train.EFFORT_SECONDS[options.effort] / 2
    lr = opts.get("lr", 1e-3)
    later = None if options.steps is None else max(1, options.steps - half_steps)
    first_limit = None if options.time_limit is None else options.time_limit / 2  # split like the budget
    loop = train.LoopOptions(steps=half_steps, budget_seconds=budget, time_limit=first_limit, lr=lr,
                             warmup_steps=WARMUP_STEPS, cosine_span=FLOAT_COSINE_SPAN,
                             on_progress=train.phase_progress(options.on_progress, steps_after=later,
                                                              seconds_after=budget if later is None else None))
    float_fit = siren_fit.fit(image, config, [16] * len(tb), loop, options.seed, options.device, opts.get("compile"),
                              l1=l1, batch=BATCH_PIXELS, bf16=bf16)
    spent = float_fit.seconds
    qat_loop = dataclasses.replace(loop, lr=lr * opts.get("qat_lr_scale", QAT_LR_SCALE), cosine_span=1.0,
                                   steps=later, time_limit=None if options.time_limit is None
                                   else max(0.0, options.time_limit - spent),
                                   on_progress=train.phase_progress(options.on_progress, float_fit.steps, spent))
    qat = fine_tune(image, config, tb, float_fit.best, qat_loop, opts.get("quantizer", DEFAULT_QUANTIZER),
                    options.seed, options.device, l1, opts.get("compile"), bf16)
    limit = options.bpp * height * width / 8 if options.bpp is not None else math.inf
    data, coarsened = code_within(qat.best, tb, config, height, width, limit)
    if coarsened > 1:
        warnings.append(f"the {bits}-bit file was over the budget; widened its steps {coarsened:.3f}x")
    # Never ship a collapse when a plain stream exists: the float fit quantized after training
    # (COIN's way, largest depth that fits the budget, or without one no larger than the QAT
    # file) is written instead if it decodes better.
    qat_psnr = psnr(decode(data), image) if len(data) <= limit else -math.inf
    plain = _plain_stream(float_fit.best, config, limit if math.isfinite(limit) else len(data), height, width)
    fell_back = plain is not None and psnr(decode(plain), image) > qat_psnr
    if fell_back:
        warnings.append(f"the {bits}-bit QAT network decoded at {qat_psnr:.2f} dB, below the float fit quantized "
                        "after training; wrote that instead (a COIN stream)")
        data = plain
    if len(data) > limit:
        raise DataError(f"no {bits}-bit stream of a {config.describe()} network fits "
                        f"{options.bpp} bpp")
    flat = coin._flat_psnr(image)
    if max(qat_psnr, qat.best_score) < flat + 1.0:
        warnings.append(f"the result is no better than a flat image ({flat:.2f} dB): {bits}-bit QAT does not "
                        "train this network yet (2 bits is known to fail; see the README)")
    sizes = [math.prod(s) for s in config.tensor_shapes()]
    if fell_back:
        from ..decoder import open_stream

        tb = [t.bits for t in open_stream(data).stream.tensors]
    depth = weight_bits(tb, sizes)
    kind = "weights quantized after training (QAT fell back)" if fell_back else "QAT weights"
    return Fitted(data=data, config=f"{config.describe()} SIREN, {depth}-bit {kind}"
                  + ("" if qb or fell_back else ", 16-bit biases"),
                  steps=float_fit.steps + qat.steps, best_step=float_fit.steps + qat.best_step,
                  restarts=float_fit.restarts + qat.restarts, warnings=warnings,
                  details={"architecture": config.describe(), "bits": depth, "l1": l1,
                           "tensor_bits": tb, "parameters": config.num_params(),
                           "float_psnr": float_fit.best_score, "qat_psnr": qat.best_score, "bf16": bf16,
                           "fell_back": fell_back})


def default_frequencies(height: int, width: int) -> int:
    """DEFAULT_FOURIER, or fewer on small images: frequencies above the longer side's Nyquist
    limit (pi x (size - 1) / 2 on coordinates in [-1, 1]) alias on the pixel grid. A rule, not
    a measurement: Kodak keeps all 16."""
    nyquist = (max(height, width) - 1) / 2
    return sum(1 for i in range(DEFAULT_FOURIER) if SirenConfig.freq_scale ** i <= nyquist)


def plan(bpp: float, height: int, width: int, channels: int, bits: int, quantize_biases: bool = True,
         first_layer_bits: int | None = FIRST_LAYER_BITS, frequencies: int = 0,
         l1: float = 0.0) -> tuple[SirenConfig, list[str]]:
    """The SIREN to fine-tune at ``bits`` for a whole-file budget: COIN's depth and width (or,
    with Fourier features, coin.FOURIER_LAYERS layers) for the coded bits per weight after QAT
    (CODED_BITS: well below the depth at 1 to 4 bits; lower with an L1 penalty), narrowed until
    the estimated file, first layer and biases at their own depths, fits. A file that still
    comes out over the budget is coarsened (:func:`code_within`)."""
    config, warnings = coin.plan_architecture(bpp, height, width, channels, bits, uniform=True,
                                              bits_per_weight=_coded_bits(bits, l1), frequencies=frequencies)
    budget = bpp * height * width

    def estimate(cfg: SirenConfig) -> float:
        sizes = [math.prod(s) for s in cfg.tensor_shapes()]
        tb = tensor_bits(cfg, bits, quantize_biases, first_layer_bits)
        return 8 * coin.header_bytes(cfg) + 32 + sum(n * _coded_bits(b, l1) for n, b in zip(sizes, tb))

    while config.width > 1 and estimate(config) > budget:
        config = dataclasses.replace(config, width=config.width - 1)
    return config, warnings


def _coded_bits(bits: int, l1: float = 0.0) -> float:
    """Expected entropy-coded bits per parameter at a depth, after QAT."""
    if l1 and bits > 4:
        return bits - L1_BITS_SAVED
    return CODED_BITS.get(bits, max(1.0, bits - 0.5))


def code_within(best: list[tuple[np.ndarray, int, np.ndarray, float]], bits: list[int], config: SirenConfig,
                height: int, width: int, limit: float) -> tuple[bytes, float]:
    """The stream of :func:`fine_tune`'s ``best``; if it is over ``limit`` bytes, every tensor's
    step is widened by the smallest factor (to within 1%) whose file fits: fewer levels in use,
    more zeros. Returns (stream, factor; 1.0 when nothing was coarsened)."""

    def coded(c: float) -> bytes:
        # 1-bit tensors have no coarser levels: they stay as they are.
        ints = [q if b == 1 else np.clip(np.rint(np.float32(beta / c) * w), -max_level(b), max_level(b)).astype(np.int32)
                for (q, _, w, beta), b in zip(best, bits)]
        alphas = [alpha if b == 1 else _scaled_bf16(alpha, c) for (_, alpha, _, _), b in zip(best, bits)]
        return build_stream(ints, alphas, bits, config, height, width)

    data = build_stream([k[0] for k in best], [k[1] for k in best], bits, config, height, width)
    if len(data) <= limit:
        return data, 1.0
    lo, hi = 1.0, 1.1
    while len(coded(hi)) > limit and hi < 1e3:  # bracket: 10% steps, as far as 1000x
        lo, hi = hi, hi * 1.1
    while hi / lo > 1.01:  # then the smallest factor that fits, to within 1%
        mid = (lo * hi) ** 0.5
        lo, hi = (mid, hi) if len(coded(mid)) > limit else (lo, mid)
    return coded(hi), hi


def fine_tune(image: np.ndarray, config: SirenConfig, bits: list[int], tensors: list[np.ndarray], loop,
              quantizer: str = DEFAULT_QUANTIZER, seed: int = 0, device: str = "cpu", l1: float = 0.0,
              compile: bool | None = None, bf16: bool = False):
    """Quantization-aware fine-tuning of fitted float ``tensors`` at ``bits`` (one depth per tensor),
    with an optional L1 penalty on the float weights (as in the float fit) and, with ``bf16``,
    bfloat16 products after the first layer (:func:`inrcodec.siren.linear`). The straight-through
    forward is compiled as the float fit's is (:func:`inrcodec.siren_fit.worth_compiling`); the
    soft one, whose temperature changes every step, is not.

    ``loop`` is a :class:`inrcodec.train.LoopOptions` (its ``lr`` already scaled for this phase).
    Snapshots are scored by the PSNR of the hard-quantized network (what the decoder sees),
    starting with the float fit quantized; the result's ``best`` holds, per tensor, the integer
    levels and alpha (bf16 bits) that are written, and the float weight and beta (to coarsen from
    if the file is over the budget).
    """
    import torch

    from .. import siren_fit, train
    from ..siren import Siren
    from ..softquant import SoftQuantizer, temperature_at

    dev = torch.device(device)
    straight_through = quantizer == "ste"
    # Trained at siren_fit.training_config's faster width where the padded weights stay exactly
    # zero: straight-through rounding keeps 0 at 0; the soft quantizer's sigmoids and 1 bit's
    # sign (0 counts as +1) would not.
    padded = siren_fit.training_config(config) if straight_through and min(bits) > 1 else config
    model = Siren(padded).to(dev)
    model.load_tensors(siren_fit.pad_tensors(tensors, padded))

    def trimmed() -> list[torch.Tensor]:
        return siren_fit.trim_tensors(model.tensors(), config)

    quantizers = torch.nn.ModuleList(SoftQuantizer(t, b) for t, b in zip(trimmed(), bits)).to(dev)
    evaluator = Siren(config).to(dev)  # the hard-quantized network, for scoring snapshots
    batches = siren_fit.pixel_batches(image, dev, torch.Generator().manual_seed(seed + 1), config, BATCH_PIXELS)
    module = torch.nn.ModuleDict({"model": model, "quantizers": quantizers})
    opt = torch.optim.Adam(module.parameters(), lr=loop.lr)

    def forward(h: torch.Tensor, temperature: float | None) -> torch.Tensor:
        return quantized_body(h, model.tensors(), quantizers, config.w0, temperature, bf16)

    run_forward = torch.compile(forward) if straight_through and siren_fit.worth_compiling(loop, compile) else forward

    def loss_fn(progress: float) -> torch.Tensor:
        coords, target = batches()
        temperature = None if straight_through else temperature_at(progress)
        loss = torch.mean((run_forward(coords, temperature) - target) ** 2)
        return loss + l1 * siren_fit.l1_norm(model.tensors()) if l1 else loss

    def score_fn() -> float:
        evaluator.load_tensors([q.dequantized(t).cpu().numpy() for q, t in zip(quantizers, trimmed())])
        return siren_fit.subgrid_psnr(evaluator, image)

    def keep_fn() -> list[tuple[np.ndarray, int, np.ndarray, float]]:
        """Per tensor: the hard levels and alpha (what is written), and the float weight and beta
        (to coarsen from if the file is over the budget)."""
        out = []
        for q, t in zip(quantizers, trimmed()):
            levels, alpha = q.hard(t)
            beta = 1.0 / float(from_bf16_bits(alpha)) if q.tied else float(q.log_beta.detach().exp())
            out.append((levels.cpu().numpy().reshape(-1), alpha, t.detach().cpu().numpy().reshape(-1), beta))
        return out

    # Fine-tuning starts from the float fit quantized (what post-training quantization gives):
    # that point is scored too, so the phase can only improve on it.
    return train.run(module, opt, loss_fn, score_fn, keep_fn, dataclasses.replace(loop, score_at_start=True))


def quantized_body(h, tensors: list, quantizers, w0: float, temperature: float | None, bf16: bool = False):
    """A SIREN's layers on its inputs ``h`` (as ``Siren.body``), every tensor through its
    quantizer at ``temperature`` (None: straight-through hard levels)."""
    q = [quantizer(t, temperature) for t, quantizer in zip(tensors, quantizers)]
    return sine_layers(h, q[0::2], q[1::2], w0, bf16)


def _plain_stream(tensors: list[np.ndarray], config: SirenConfig, limit: float, height: int,
                  width: int) -> bytes | None:
    """COIN's stream of float tensors: the largest depth (first layer 14) whose file fits."""
    from ..ratecontrol import largest_fitting

    streams: dict[int, bytes] = {}

    def size_at(b: int) -> int:
        streams[b] = coin.build_stream(tensors, config, coin.tensor_bits(config, b), height, width)
        return len(streams[b])

    b = largest_fitting(range(16, 1, -1), size_at, limit)
    return None if b is None else streams[b]


def _scaled_bf16(bits: int, factor: float) -> int:
    from ..quantize import from_bf16_bits, to_bf16_bits

    return to_bf16_bits(float(from_bf16_bits(bits)) * factor)


def bench_options(name: str, rate: float) -> dict[str, Any] | None:
    """Bench names: ``qat``, ``qat<bits>``, ``qat<bits>w`` (biases at 16 bits); None for others."""
    if name == "qat":
        return {"bpp": rate}
    if name == "qat-siren":  # the plain SIREN (no Fourier features), the default before 2026-12-01
        return {"bpp": rate, "fourier": 0}
    depth, biases = (name[3:-1], False) if name.endswith("w") else (name[3:], True)
    if name.startswith("qat") and depth.isdigit() and 1 <= int(depth) <= 16:
        return {"bpp": rate, "bits": int(depth), "quantize_biases": biases}
    return None
