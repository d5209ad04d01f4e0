"""MCNC's encoder (training code): plan a SIREN and a manifold for the budget, train alpha and
beta only, quantize them after training, and code the stream of :mod:`inrcodec.methods.mcnc`.

Defaults: k = 8, a SIREN of 3 hidden layers with 4 parameters per coded number, L = 0.3, a
generator of 2 hidden layers of 64 at w0 = 30, alpha at 8 bits and beta at 16. L and the depth
are measured (bench/results/mcnc-study.md, 6 Kodak images at 0.3 bpp, 600 steps): the paper's
L = 20 does not train through this generator (12.9 dB), L = 1 gives 21.8, 0.3 gives 22.0. Five
hidden layers beat three by 1.1 dB at equal steps but take 25% longer per step; not yet
compared at equal time, so three stays. k, the ratio, m, theta0 and the bits are untuned.
"""
from __future__ import annotations

import math

import numpy as np

from .. import siren_fit
from ..errors import DataError
from ..mcnc import Manifold
from ..siren import SirenConfig
from . import EncodeOptions, Fitted
from .mcnc import ID, SECTION, expander, split

OPTION_KEYS = {"arch", "bits", "k", "chunk", "bound", "pairs", "ratio", "theta0", "lr", "depth"}
DEFAULT_K, DEFAULT_RATIO, DEFAULT_BITS, DEFAULT_BOUND, DEFAULT_DEPTH = 8, 4.0, 8, 0.3, 3
BETA_BITS = 16
GEN_HIDDEN, GEN_LAYERS, GEN_W0 = 64, 2, 30


def plan(bpp: float, height: int, width: int, channels: int, bits: int, k: int, m: int, ratio: float,
         chunk: int | None, depth: int = DEFAULT_DEPTH) -> tuple[SirenConfig, int]:
    """The SIREN (``depth`` hidden layers) and chunk size d whose coded alpha (``bits`` each) and
    beta fill the budget."""
    from ..bitstream import overhead_bytes, size_of
    from .coin import width_for

    payload_bits = bpp * height * width - 8 * overhead_bytes(size_of(SECTION), 2) - 32
    chunks = math.floor(payload_bits / (m * (k * bits + BETA_BITS)))
    if chunks < 1:
        raise DataError(f"a budget of {bpp} bpp on {width}x{height} is too small for one MCNC chunk of k={k}")
    n_params = chunks * chunk if chunk else ratio * chunks * m * (k + 1)
    cfg = SirenConfig(depth, width_for(depth, n_params, channels), channels)
    return cfg, chunk or math.ceil(cfg.num_params() / chunks)


def pack_section(cfg: SirenConfig, spec: Manifold, theta0: int) -> bytes:
    """The method section of a stream of ``cfg`` on ``spec``."""
    from ..bitstream import pack_fields
    from ..mcnc import manifold_fields

    return pack_fields(SECTION, {"hidden_layers": cfg.hidden_layers, "width": cfg.width, "w0": int(cfg.w0),
                                 **manifold_fields(spec), "theta0": theta0})


def build_stream(alpha: np.ndarray, beta: np.ndarray, bits: int, cfg: SirenConfig, spec: Manifold, theta0: int,
                 height: int, width: int) -> bytes:
    """Quantize alpha at ``bits`` and beta at BETA_BITS, entropy code them, pack the stream."""
    from ..bitstream import Stream, TensorRecord, pack
    from ..entropy import encode_tensors
    from ..quantize import quantize

    qts = [quantize(alpha, bits), quantize(beta, BETA_BITS)]
    depths = [bits, BETA_BITS]
    models, payload = encode_tensors([q.q for q in qts], depths)
    records = [TensorRecord(b, m, q.offset_bf16, q.step_bf16, s) for q, b, (m, s) in zip(qts, depths, models)]
    return pack(Stream(ID, cfg.out_channels, width, height, pack_section(cfg, spec, theta0), records, payload))


def encode(image: np.ndarray, options: EncodeOptions) -> Fitted:
    """Plan, train alpha and beta, then the largest alpha depth whose real file fits."""
    import torch

    from .. import train
    from ..mcnc import seeded_init
    from ..quantize import from_bf16_bits, quantize, to_bf16_bits
    from ..ratecontrol import largest_fitting
    from ..siren import Siren

    height, width, channels = image.shape
    opts = options.method_options
    bits, k = opts.get("bits") or DEFAULT_BITS, opts.get("k") or DEFAULT_K
    m, theta0_kind = opts.get("pairs") or 1, int(opts.get("theta0", 0))
    bound = float(from_bf16_bits(to_bf16_bits(opts.get("bound") or DEFAULT_BOUND)))  # as the stream stores it
    if opts.get("arch") is not None:
        cfg = SirenConfig(opts["arch"][0], opts["arch"][1], channels)
        d = opts.get("chunk") or max(k + 1, round(opts.get("ratio") or DEFAULT_RATIO) * (k + 1))
    else:
        cfg, d = plan(options.bpp, height, width, channels, bits, k, m, opts.get("ratio") or DEFAULT_RATIO,
                      opts.get("chunk"), opts.get("depth") or DEFAULT_DEPTH)
    spec = Manifold(options.seed, d, k, bound, m, GEN_HIDDEN, GEN_LAYERS, float(GEN_W0))
    from ..mcnc import manifold_fields

    params = {"hidden_layers": cfg.hidden_layers, "width": cfg.width, "w0": int(cfg.w0), **manifold_fields(spec),
              "theta0": theta0_kind}
    n = spec.chunks(cfg.num_params())
    dev = torch.device(options.device)
    gen = torch.Generator().manual_seed(options.seed)
    alpha = ((torch.rand(n, m, k, generator=gen) * 2 - 1) * bound).to(dev).requires_grad_(True)
    # beta starts at the norm of SIREN's initialization over a chunk, so theta starts at its scale
    init = np.concatenate([t.reshape(-1) for t in seeded_init(cfg.layer_shapes(), spec.seed, cfg.w0, 1 << 41)])
    init = np.pad(init, (0, n * d - init.size))
    beta = torch.from_numpy(np.linalg.norm(init.reshape(n, d), axis=1)[:, None].repeat(m, 1).astype(np.float32)
                            / math.sqrt(m)).to(dev).requires_grad_(True)
    lr = opts.get("lr", 0.05)  # alpha's (the paper's Adam rate); beta's is 2% of its initial size
    opt = torch.optim.Adam([{"params": [alpha], "lr": lr}, {"params": [beta], "lr": 0.02 * float(beta.detach().mean())}])
    batches = siren_fit.pixel_batches(image, dev, gen)
    evaluator = Siren(cfg).to(dev)
    theta = expander(params, channels, options.device)

    def net(a, b, x):
        h = x
        ts = split(theta(a, b), cfg)
        for j in range(0, len(ts) - 2, 2):
            h = torch.sin(cfg.w0 * torch.nn.functional.linear(h, ts[j], ts[j + 1]))
        return torch.nn.functional.linear(h, ts[-2], ts[-1])

    def loss_fn(progress: float) -> torch.Tensor:
        coords, target = batches()
        return torch.mean((net(alpha, beta, coords) - target) ** 2)

    def quantized(a: np.ndarray, b: np.ndarray, depth: int) -> tuple[torch.Tensor, torch.Tensor]:
        return (torch.from_numpy(quantize(a, depth).dequantize().reshape(a.shape)).to(dev),
                torch.from_numpy(quantize(b, BETA_BITS).dequantize().reshape(b.shape)).to(dev))

    def score_fn() -> float:
        with torch.no_grad():
            qa, qb = quantized(alpha.detach().cpu().numpy(), beta.detach().cpu().numpy(), bits)
            evaluator.load_tensors([t.cpu().numpy() for t in split(theta(qa, qb), cfg)])
        return siren_fit.subgrid_psnr(evaluator, image)

    def keep_fn() -> tuple[np.ndarray, np.ndarray]:
        return alpha.detach().cpu().numpy().copy(), beta.detach().cpu().numpy().copy()

    loop = train.LoopOptions(steps=options.steps, budget_seconds=train.EFFORT_SECONDS[options.effort],
                             time_limit=options.time_limit, lr=lr, on_progress=options.on_progress)
    result = train.run(_Holder(alpha, beta), opt, loss_fn, score_fn, keep_fn, loop)
    a, b = result.best
    budget = options.bpp * height * width / 8 if options.bpp is not None else math.inf
    streams: dict[int, bytes] = {}

    def size_at(depth: int) -> int:
        streams[depth] = build_stream(a, b, depth, cfg, spec, theta0_kind, height, width)
        return len(streams[depth])

    chosen = largest_fitting(list(range(opts.get("bits") or 16, 1, -1)), size_at, budget)
    if chosen is None:
        raise DataError(f"no MCNC stream of a {cfg.hidden_layers}x{cfg.width} SIREN with k={k}, d={d} fits "
                        f"{options.bpp} bpp")
    warnings = [] if chosen == bits else [f"alpha at {chosen} bits (planned {bits})"]
    return Fitted(data=streams[chosen], config=f"{cfg.hidden_layers}x{cfg.width} SIREN on an MCNC manifold "
                  f"(d={d}, k={k}, L={bound:g}, m={m}), alpha at {chosen} bits",
                  steps=result.steps, best_step=result.best_step, restarts=result.restarts, warnings=warnings,
                  details={"architecture": f"{cfg.hidden_layers}x{cfg.width}", "parameters": cfg.num_params(),
                           "chunk": d, "k": k, "L": bound, "pairs": m, "bits": chosen,
                           "coded_numbers": spec.coded(cfg.num_params()), "float_psnr": result.best_score})


class _Holder:
    """What the training loop snapshots and restores on divergence: alpha and beta."""

    def __init__(self, alpha, beta) -> None:
        self.tensors = [alpha, beta]

    def state_dict(self) -> dict:
        return {str(i): t.detach().clone() for i, t in enumerate(self.tensors)}

    def load_state_dict(self, state: dict) -> None:
        import torch

        with torch.no_grad():
            for i, t in enumerate(self.tensors):
                t.copy_(state[str(i)])
