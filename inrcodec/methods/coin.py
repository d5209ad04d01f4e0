"""COIN (Dupont et al., 2021): a SIREN fitted to the image, quantized after training.

Decode side (module level, no training code): the method section is the architecture, the
coded tensors are every layer's weight and bias, and decoding renders the network.
Encode side (:func:`encode`, imports torch's optimizer and the training loop when called):
size a SIREN for the budget, fit it, then pick the largest weight depth whose real file fits.

Bit depth is per tensor: the first sine layer's weight and bias keep ``FIRST_LAYER_BITS``
(3 x width of the parameters but nearly all of the quantization loss), the rest take the
planned depth, unless ``uniform_bits`` (as in COIN).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..bitstream import BitstreamError, DecodeLimits, Field, Stream, bf16_value, overhead_bytes, size_of, unpack_fields
from ..errors import DataError, OptionError
from ..quantize import to_bf16_bits, weight_bits
from ..siren import SirenConfig
from . import METHOD_IDS, EncodeOptions, Fitted

ID = METHOD_IDS["coin"]
NAME = "coin"
SUMMARY = "SIREN fitted per image, weights quantized after training (COIN)"
SECTION: list[Field] = [
    Field("hidden_layers", "B", "number of sine layers L (COIN's num_layers)", 1, 64),
    Field("width", "H", "features per hidden layer W", 1),
    Field("w0", "B", "SIREN frequency w0 (integer; 30 for COIN)", 1),
]
# Optional tail: Fourier features of the coordinates (Struempler et al.); absent means none.
FOURIER_SECTION: list[Field] = [
    Field("frequencies", "B", "Fourier frequencies F: the first layer reads 2 + 4F features", 1, 32),
    Field("freq_scale_bf16", "H", "ratio of successive frequencies, bfloat16 bits (1 to 4)"),
]
FREQ_SCALE_RANGE = (1.0, 4.0)
VARIANTS = ("coin (rate control, 8-bit weights, first layer 14), coin-fourier (Fourier features, 4 layers), coin-paper (COIN's network for the rate, "
            "16-bit; rates 0.07/0.15/0.3/0.6/1.2), coin<bits> (rate control at that depth, e.g. coin8), "
            "coin<bits>u (every tensor at that depth, e.g. coin8u)")

# --- decode side ------------------------------------------------------------------------


def read_section(stream: Stream) -> dict[str, Any]:
    """Architecture from the method section (validated from ``SECTION`` and the optional
    ``FOURIER_SECTION`` tail; ``frequencies`` is 0 without it)."""
    params, tail = unpack_fields(SECTION, stream.section, "COIN method section")
    params |= {"frequencies": 0, "freq_scale_bf16": 0}
    if tail:
        fourier, tail = unpack_fields(FOURIER_SECTION, tail, "COIN Fourier fields")
        scale = bf16_value(fourier["freq_scale_bf16"])
        if not FREQ_SCALE_RANGE[0] <= scale <= FREQ_SCALE_RANGE[1]:  # NaN fails too
            raise BitstreamError(f"invalid Fourier frequency ratio {scale} (allowed: 1..4)")
        params |= fourier
    if tail:
        raise BitstreamError(f"COIN method section has {len(tail)} unexpected bytes")
    return params


def siren_config(params: dict[str, Any], channels: int) -> SirenConfig:
    """The network a COIN section describes."""
    scale = bf16_value(params["freq_scale_bf16"]) if params.get("frequencies") else SirenConfig.freq_scale
    return SirenConfig(params["hidden_layers"], params["width"], channels, float(params["w0"]),
                       params.get("frequencies", 0), scale)


def layout(params: dict[str, Any], channels: int) -> list[tuple[int, ...]]:
    """Weight then bias of each layer, first to last; weights row-major (out, in)."""
    return siren_config(params, channels).tensor_shapes()


def work_per_pixel(params: dict[str, Any], channels: int) -> int:
    """Multiply-adds per pixel of the SIREN's forward pass."""
    return siren_config(params, channels).macs_per_pixel()


def reconstruct(stream: Stream, params: dict[str, Any], tensors: list[np.ndarray], device: str) -> np.ndarray:
    """Render the decoded SIREN at every pixel."""
    import torch

    from ..siren import Siren, render

    with torch.device("meta"):
        model = Siren(siren_config(params, stream.channels))  # shapes only: every value comes from the stream
    model = model.to_empty(device=device)
    model.load_tensors(tensors)
    return render(model, stream.height, stream.width)


def describe(stream: Stream, params: dict[str, Any]) -> dict[str, Any]:
    """Architecture, size and bit depths (``bits``: the depth most parameters use)."""
    cfg = siren_config(params, stream.channels)
    sizes = [math.prod(s) for s in cfg.tensor_shapes()]
    tensor_bits = [t.bits for t in stream.tensors]
    out = {"architecture": cfg.describe(), "w0": params["w0"], "parameters": sum(sizes),
           "bits": weight_bits(tensor_bits, sizes), "tensor_bits": tensor_bits}
    if cfg.frequencies:
        out |= {"fourier_frequencies": cfg.frequencies, "fourier_scale": cfg.freq_scale}
    return out


def pack_section(config: SirenConfig) -> bytes:
    """The method section of a stream of ``config``."""
    from ..bitstream import pack_fields

    out = pack_fields(SECTION, {"hidden_layers": config.hidden_layers, "width": config.width, "w0": int(config.w0)})
    if config.frequencies:
        scale_bits = to_bf16_bits(config.freq_scale)
        if bf16_value(scale_bits) != config.freq_scale:
            raise ValueError(f"Fourier frequency ratio {config.freq_scale} is not a bfloat16 value")
        out += pack_fields(FOURIER_SECTION, {"frequencies": config.frequencies, "freq_scale_bf16": scale_bits})
    return out


# --- encode side ------------------------------------------------------------------------

DEFAULT_BITS = 8  # planned depth under rate control: beat 7, 10, 12 at 0.3 bpp (README, bit depth)
# 8-bit weights everywhere cost a fitted 10x40 on kodim23 3.2 dB; the first layer's weight and
# bias alone cost 1.0 and 2.3 dB at 8 bits (every other tensor < 0.06 dB), and keeping only
# them at 14 bits leaves a 0.31 dB loss for 1% more bytes (README, bit depth).
FIRST_LAYER_BITS = 14
# COIN's architectures (hidden layers x width) at its five Kodak rates, 16-bit weights.
COIN_ARCHITECTURES: dict[float, tuple[int, int]] = {
    0.07: (5, 20), 0.15: (5, 30), 0.3: (10, 28), 0.6: (10, 40), 1.2: (13, 49),
}
# Bits per weight that entropy coding saves below the bit depth: 0.7 on fitted 10x28 Kodak
# SIRENs at 16 bits. Kept a little under that so a fixed depth rarely overshoots; it only
# sizes the network, the final stream is always measured.
_BITS_SAVED_BY_ENTROPY_CODING = 0.5
_OPTION_KEYS = {"arch", "bits", "uniform_bits", "lr", "compile", "fourier", "l1"}
# Struempler et al.'s encoding: 16 frequencies at a ratio of 1.4, four sine layers whatever the
# rate, an L1 penalty on every parameter (theirs is 1e-5 on [-1, 1] targets: the same weight
# against our [0, 1] MSE is a quarter of it).
FOURIER_FREQUENCIES = 16
FOURIER_LAYERS = 4
FOURIER_L1 = 2.5e-6


def tensor_bits(config: SirenConfig, bits: int, uniform: bool = False) -> list[int]:
    """Bit depth of every tensor (stream order) for ``bits``-bit weights. The first layer of a
    Fourier-feature network reads features, not raw coordinates: it takes the planned depth."""
    n = len(config.tensor_shapes())
    first = bits if uniform or config.frequencies else max(bits, FIRST_LAYER_BITS)
    return [first, first] + [bits] * (n - 2)


def build_stream(tensors: list[np.ndarray], config: SirenConfig, bits: list[int], height: int, width: int) -> bytes:
    """Quantize float tensors at their ``bits`` (one per tensor), entropy code them, pack a COIN stream."""
    from ..bitstream import Stream, TensorRecord, pack
    from ..entropy import encode_tensors
    from ..quantize import quantize

    qts = [quantize(t, b) for t, b in zip(tensors, bits, strict=True)]
    models, payload = encode_tensors([t.q for t in qts], bits)
    records = [TensorRecord(b, m, t.offset_bf16, t.step_bf16, s) for t, b, (m, s) in zip(qts, bits, models)]
    return pack(Stream(ID, config.out_channels, width, height, pack_section(config), records, payload))


def header_bytes(config: SirenConfig) -> int:
    """Bytes of a COIN stream that are not payload words."""
    section = size_of(SECTION) + (size_of(FOURIER_SECTION) if config.frequencies else 0)
    return overhead_bytes(section, len(config.tensor_shapes()))


def depth_for_params(n_params: float) -> int:
    """Sine-layer count for a parameter budget, following COIN's choices (5, 10, 13 layers)."""
    if n_params < 5000:
        return 5
    if n_params < 20000:
        return 10
    return 13


def _largest(ok, hi: int) -> int:
    """Largest w in [1, hi] with ok(w) for a monotone predicate (0 if even 1 fails)."""
    lo = 0
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if ok(mid):
            lo = mid
        else:
            hi = mid - 1
    return lo


def width_for(depth: int, n_params: float, channels: int, frequencies: int = 0) -> int:
    """Largest width whose SIREN of ``depth`` sine layers has at most ``n_params`` parameters (at least 1)."""
    return max(1, _largest(lambda w: SirenConfig(depth, w, channels, frequencies=frequencies).num_params() <= n_params,
                           (1 << 16) - 1))


def plan_architecture(bpp: float, height: int, width: int, channels: int, bits: int, uniform: bool = False,
                      limits: DecodeLimits = DecodeLimits(),
                      bits_per_weight: float | None = None, frequencies: int = 0) -> tuple[SirenConfig, list[str]]:
    """The SIREN to train for a whole-file budget of ``bpp`` at ``bits``-bit weights, and warnings.

    The network is capped so that the default decoder accepts the stream (its work and
    parameter limits); a budget larger than that cap can use is said in a warning.
    ``bits_per_weight`` overrides the estimate of coded bits per weight (default: bits - 0.5).
    With ``frequencies`` (Fourier features) the depth is FOURIER_LAYERS at every rate.
    """
    def depth_for(n: float) -> int:
        return FOURIER_LAYERS if frequencies else depth_for_params(n)

    def config(d: int, w: int) -> SirenConfig:
        return SirenConfig(d, w, channels, frequencies=frequencies)

    budget_bits = bpp * height * width
    probe = config(depth_for(budget_bits / bits), 8)
    payload_bits = budget_bits - 8 * header_bytes(probe) - 32  # 32: range coder's last word
    per_weight = bits_per_weight or max(1.0, bits - _BITS_SAVED_BY_ENTROPY_CODING)
    n_params = payload_bits / per_weight
    if n_params >= 20 and not uniform and not frequencies and bits < FIRST_LAYER_BITS:
        # The first layer (3 x width parameters) is paid at FIRST_LAYER_BITS: price it with a
        # first guess of the width, then size the network as usual.
        w = width_for(depth_for_params(n_params), n_params, channels)
        n_params -= 3 * w * (FIRST_LAYER_BITS - bits) / per_weight
    if n_params < 20 + 8 * frequencies:  # Fourier inputs: 4 more weights per frequency in each of 2 units
        raise DataError(f"a budget of {bpp} bpp on {width}x{height} is too small for any network")
    depth = depth_for(n_params)
    cfg = config(depth, width_for(depth, n_params, channels, frequencies))
    pixels = height * width
    cap = _largest(lambda w: (config(depth, w).macs_per_pixel() * pixels <= limits.max_work
                              and config(depth, w).num_params() <= limits.max_parameters), cfg.width)
    if cap < 1:
        raise DataError(f"a {width}x{height} image is too large to decode within the default work limit")
    warnings = []
    if cap < cfg.width:
        warnings.append(f"a {bpp} bpp budget would plan a {depth}x{cfg.width} network, over the decoder's default "
                        f"limits for {width}x{height}; used {depth}x{cap}")
        cfg = config(depth, cap)
    return cfg, warnings


def check_options(options: EncodeOptions) -> None:
    """Refuse COIN options that no image can satisfy."""
    check_siren_options(options, NAME, _OPTION_KEYS)


def check_siren_options(options: EncodeOptions, name: str, keys: set[str], bit_keys: tuple[str, ...] = ("bits",),
                        min_bits: int = 2) -> None:
    """The checks every SIREN method shares: known keys, depths in ``min_bits``..16, an architecture in range."""
    unknown = set(options.method_options) - keys
    if unknown:
        raise OptionError(f"{name} takes no option {', '.join(sorted(unknown))}")
    for key in bit_keys:
        bits = options.method_options.get(key)
        if bits is not None and not min_bits <= bits <= 16:
            raise OptionError(f"--{key.replace('_', '-')} must be in {min_bits}..16 for {name}, got {bits}")
    fourier = options.method_options.get("fourier")
    if fourier is not None and not 0 <= fourier <= 32:
        raise OptionError(f"--fourier must be in 0..32 frequencies, got {fourier}")
    l1 = options.method_options.get("l1")
    if l1 is not None and not (0 <= l1 < 1):
        raise OptionError(f"--l1 must be in [0, 1), got {l1}")
    arch = options.method_options.get("arch")
    if arch is not None and not (1 <= arch[0] <= 64 and 1 <= arch[1] <= 1024):
        raise OptionError(f"--arch {arch[0]}x{arch[1]}: layers must be 1..64 and width 1..1024")
    if arch is None and options.bpp is None:
        raise OptionError("give a bpp budget or an architecture")


def encode(image: np.ndarray, options: EncodeOptions) -> Fitted:
    """Plan, fit and code; the largest weight depth whose file fits the budget is written."""
    from .. import train
    from ..ratecontrol import largest_fitting
    from ..siren_fit import fit

    height, width, channels = image.shape
    opts = options.method_options
    uniform = bool(opts.get("uniform_bits", False))
    planned_bits = opts.get("bits") or DEFAULT_BITS
    frequencies = opts.get("fourier") or 0
    l1 = opts.get("l1", FOURIER_L1 if frequencies else 0.0)
    warnings: list[str] = []
    if opts.get("arch") is not None:
        config = fixed_config(opts["arch"], channels, frequencies, height, width)
    else:
        config, warnings = plan_architecture(options.bpp, height, width, channels, planned_bits, uniform,
                                             frequencies=frequencies)
    lr = opts.get("lr", 1e-3)
    loop = train.LoopOptions(steps=options.steps, budget_seconds=train.EFFORT_SECONDS[options.effort],
                             time_limit=options.time_limit, lr=lr, on_progress=options.on_progress)
    eval_bits = tensor_bits(config, planned_bits, uniform)
    # A SIREN that falls into the flat basin early never leaves it, and the guard sees no fall
    # (kodim02, 10x28 at lr 1e-2: 20.64 dB, a flat image's PSNR): such a run stops at half-way
    # and is retried at a quarter of the learning rate, at most twice.
    flat = _flat_psnr(image)
    loop.floor_score = flat + 1.0 if flat < 35.0 else None  # near-flat images: flat is a fine result
    result = fit(image, config, eval_bits, loop, options.seed, options.device, opts.get("compile"), l1=l1)
    for _ in range(2):
        if not result.stalled:
            break
        lr /= 4
        loop.lr = lr
        retry = fit(image, config, eval_bits, loop, options.seed, options.device, opts.get("compile"), l1=l1)
        warnings.append(f"the fit stalled at {result.best_score:.2f} dB (a flat image gives {flat:.2f}); "
                        f"retried at learning rate {lr:g}: {retry.best_score:.2f} dB")
        result = retry if retry.best_score >= result.best_score else result
    # The budget is a promise: with a fixed depth that overshoots (the pre-training size
    # estimate is approximate), fall back to the largest depth that fits and say so.
    budget = options.bpp * height * width / 8 if options.bpp is not None else math.inf
    streams = {b: None for b in range(opts.get("bits") or 16, 1, -1)}

    def size_at(b: int) -> int:
        streams[b] = build_stream(result.best, config, tensor_bits(config, b, uniform), height, width)
        return len(streams[b])

    bits = largest_fitting(list(streams), size_at, budget)
    if bits is None:
        raise DataError(f"no stream of a {config.describe()} network fits {options.bpp} bpp")
    if opts.get("bits") is not None and bits != opts["bits"]:
        warnings.append(f"{opts['bits']}-bit weights exceed the {options.bpp} bpp budget; used {bits} bits")
    if result.final_score < result.best_score - 1.0:
        warnings.append(f"the fit fell from {result.best_score:.2f} dB (step {result.best_step}) to "
                        f"{result.final_score:.2f} dB by the end; wrote the step {result.best_step} snapshot")
    tb = tensor_bits(config, bits, uniform)
    sizes = [math.prod(s) for s in config.tensor_shapes()]
    depth = weight_bits(tb, sizes)
    first = "" if tb[0] == depth else f" (first layer {tb[0]})"
    return Fitted(data=streams[bits], config=f"{config.describe()} SIREN, {depth}-bit weights{first}",
                  steps=result.steps, best_step=result.best_step, restarts=result.restarts, warnings=warnings,
                  details={"architecture": config.describe(), "bits": depth,
                           "tensor_bits": tb, "parameters": config.num_params(), "lr": lr, "l1": l1})


def fixed_config(arch: tuple[int, int], channels: int, frequencies: int, height: int, width: int) -> SirenConfig:
    """The SIREN of ``--arch`` (with ``frequencies`` Fourier features), if the default decoder accepts it."""
    config = SirenConfig(arch[0], arch[1], channels, frequencies=frequencies)
    if config.macs_per_pixel() * height * width > DecodeLimits().max_work:
        raise DataError(f"a {config.describe()} network on {width}x{height} exceeds the decoder's default work limit")
    return config


def _flat_psnr(image: np.ndarray) -> float:
    """PSNR of the image's mean colour everywhere: what a collapsed fit reaches."""
    from ..metrics import psnr

    flat = np.broadcast_to(np.rint(image.reshape(-1, image.shape[2]).mean(0)), image.shape).astype(np.uint8)
    return psnr(flat, image)


def bench_options(name: str, rate: float) -> dict[str, Any] | None:
    """Bench names: ``coin``, ``coin-paper``, ``coin<bits>``, ``coin<bits>u`` (None for others)."""
    if name == "coin":
        return {"bpp": rate}
    if name == "coin-fourier":
        return {"bpp": rate, "fourier": FOURIER_FREQUENCIES}
    if name == "coin-paper":
        if rate not in COIN_ARCHITECTURES:
            raise OptionError(f"coin-paper is defined at COIN's rates {sorted(COIN_ARCHITECTURES)}, not {rate}")
        return {"bpp": None, "arch": COIN_ARCHITECTURES[rate], "bits": 16, "uniform_bits": True}
    depth, uniform = (name[4:-1], True) if name.endswith("u") else (name[4:], False)
    if name.startswith("coin") and depth.isdigit() and 2 <= int(depth) <= 16:
        return {"bpp": rate, "bits": int(depth), "uniform_bits": uniform}
    return None
