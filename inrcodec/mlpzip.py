"""mlpzip, the training side: train MNIST MLPs and compress them into ``.mlpz`` files.

Techniques compose in the seed study's order (distill, prune, low rank, quantize). This version
implements ``quant`` (post-training quantization at a depth per tensor, the image codec's
quantizer) and ``qat`` (fine-tuning through the image codec's quantizer module with a
straight-through gradient); both write dense tensors, entropy coded with the codec's coder. The
others are named so that a pipeline that asks for them is refused clearly, not ignored.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .errors import OptionError
from .mlp import MLPConfig, forward

ORDER = ["distill", "prune", "lowrank", "mcnc", "quant", "qat"]
IMPLEMENTED = {"quant", "qat"}


@dataclass
class CompressOptions:
    """The pipeline and its knobs (bits of weights; biases at ``bias_bits``, default max(bits, 8))."""

    methods: list[str]
    bits: int = 8
    bias_bits: int | None = None
    epochs: float = 2.0  # fine-tuning epochs of methods that retrain (qat)
    lr: float = 1e-4
    seed: int = 0
    on_epoch: Callable[[int, float], None] | None = field(default=None, repr=False)


@dataclass
class CompressResult:
    """The file, the network it decodes to, and what the pipeline did."""

    data: bytes
    tensors: list[np.ndarray]
    epochs: float
    details: dict


def parse_methods(text: str) -> list[str]:
    """``"prune,quant"`` -> the methods in pipeline order; OptionError for unknown, repeated,
    contradictory or not yet implemented ones."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in ORDER]
    if not names or unknown:
        raise OptionError(f"unknown --method {', '.join(unknown) or text!r} (choose from {', '.join(ORDER)})")
    if len(set(names)) != len(names):
        raise OptionError(f"--method names a technique twice: {text}")
    if {"quant", "qat"} <= set(names):
        raise OptionError("--method quant and qat both quantize; give one")
    missing = [n for n in names if n not in IMPLEMENTED]
    if missing:
        raise OptionError(f"--method {', '.join(missing)}: not implemented yet (this version has "
                          f"{', '.join(sorted(IMPLEMENTED))})")
    return sorted(names, key=ORDER.index)


def check_options(options: CompressOptions) -> None:
    """Refuse knobs no model can satisfy."""
    for name, bits in (("--bits", options.bits), ("--bias-bits", options.bias_bits)):
        if bits is not None and not 1 <= bits <= 16:
            raise OptionError(f"{name} must be in 1..16, got {bits}")
    if not (math.isfinite(options.epochs) and 0 <= options.epochs <= 1000):
        raise OptionError(f"--epochs must be in 0..1000, got {options.epochs}")


def train(tensors: list, images: np.ndarray, labels: np.ndarray, epochs: float, seed: int = 0,
          lr: float = 1e-3, batch: int = 128, parameters: list | None = None,
          transform: Callable | None = None, on_epoch: Callable[[int, float], None] | None = None) -> None:
    """Train in place with Adam and a cosine learning rate over ``epochs`` (may be fractional).

    ``transform(tensors) -> tensors`` maps the trained parameters to the network's (e.g. a
    quantizer); ``parameters`` are what Adam updates (default ``tensors``). ``on_epoch(epoch,
    mean loss)`` reports after every epoch.
    """
    import torch

    from .mlp import inputs_of

    params = parameters if parameters is not None else tensors
    for p in params:
        p.requires_grad_(True)
    x, y = inputs_of(images), torch.from_numpy(labels.astype(np.int64))
    gen = torch.Generator().manual_seed(seed + 1)
    per_epoch = math.ceil(len(x) / batch)
    total = max(1, round(epochs * per_epoch))
    opt = torch.optim.Adam(params, lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, total) / total)))
    step, running = 0, 0.0
    while step < total:
        order = torch.randperm(len(x), generator=gen)
        for s in range(0, len(x), batch):
            idx = order[s:s + batch]
            net = transform(tensors) if transform else tensors
            loss = torch.nn.functional.cross_entropy(forward(net, x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            running += float(loss.detach())
            step += 1
            if step % per_epoch == 0 or step == total:
                if on_epoch:
                    on_epoch(math.ceil(step / per_epoch), running / (step % per_epoch or per_epoch))
                running = 0.0
            if step == total:
                break
    for p in params:
        p.requires_grad_(False)


def train_model(config: MLPConfig, images: np.ndarray, labels: np.ndarray, epochs: float = 10, seed: int = 0,
                lr: float = 1e-3, on_epoch: Callable[[int, float], None] | None = None) -> list:
    """A freshly initialized MLP trained on (images, labels); its tensors (torch, float32)."""
    from .mlp import init_tensors

    tensors = init_tensors(config, seed)
    train(tensors, images, labels, epochs, seed, lr, on_epoch=on_epoch)
    return tensors


def tensor_bits(config: MLPConfig, bits: int, bias_bits: int | None = None) -> list[int]:
    """Depth of every tensor: weights at ``bits``, biases at ``bias_bits`` (default max(bits, 8))."""
    b = bias_bits if bias_bits is not None else max(bits, 8)
    return [bits, b] * (config.depth + 1)


def compress(config: MLPConfig, tensors: list, options: CompressOptions,
             train_data: tuple[np.ndarray, np.ndarray] | None = None) -> CompressResult:
    """Run the pipeline on a trained MLP and write the ``.mlpz``; methods that retrain need ``train_data``."""
    import torch

    from . import mlpz
    from .bitstream import TensorRecord
    from .entropy import encode_tensors
    from .quantize import quantize

    methods = options.methods
    bits = tensor_bits(config, options.bits, options.bias_bits)
    ts = [torch.as_tensor(np.asarray(t, dtype=np.float32)).clone() for t in tensors]
    epochs = 0.0
    if "qat" in methods:
        from .softquant import SoftQuantizer

        if train_data is None:
            raise OptionError("qat retrains: it needs the training data")
        quantizers = [SoftQuantizer(t, b) for t, b in zip(ts, bits)]
        train(ts, *train_data, options.epochs, options.seed, options.lr,
              parameters=ts + [p for q in quantizers for p in q.parameters() if p.requires_grad],
              transform=lambda xs: [q(x, None) for q, x in zip(quantizers, xs)], on_epoch=options.on_epoch)
        epochs = options.epochs
        hard = [q.hard(t) for q, t in zip(quantizers, ts)]
        ints = [h[0].numpy().reshape(-1) for h in hard]
        offsets, steps = [0] * len(ts), [h[1] for h in hard]
    else:
        qts = [quantize(t.numpy(), b) for t, b in zip(ts, bits)]
        ints, offsets, steps = [q.q for q in qts], [q.offset_bf16 for q in qts], [q.step_bf16 for q in qts]
    models, payload = encode_tensors(ints, bits)
    records = [TensorRecord(b, m, o, s, sc) for b, o, s, (m, sc) in zip(bits, offsets, steps, models)]
    data = mlpz.pack(config, methods, records, payload)
    _, decoded = mlpz.decode(data)
    return CompressResult(data, decoded, epochs, {"methods": methods, "tensor_bits": bits,
                                                  "parameters": config.num_params(), "bytes": len(data)})
