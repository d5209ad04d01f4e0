"""mlpzip, the training side: train MNIST MLPs and compress them into ``.mlpz`` files.

Techniques compose in the seed study's order, each on what the one before left:

- ``distill``: retrain the model with Hinton et al.'s loss against a teacher model;
- ``prune``: iterative magnitude pruning of the weights to a sparsity, in rounds, each followed
  by retraining with the mask fixed (the mask is stored, entropy coded);
- ``lowrank``: each weight replaced by its best rank-r factors U V (SVD), then retrained;
- ``quant``: post-training quantization of every stored matrix and bias (the image codec's
  quantizer), or ``qat``: fine-tuning through it with a straight-through gradient.

Without ``quant`` or ``qat`` the values are stored at 16 bits (lossless for accuracy here). Every
``.mlpz`` is entropy coded with the codec's coder, and the accuracy reported is always that of
the decoded file.

``mcnc`` trains the architecture from scratch on an MCNC manifold (:mod:`inrcodec.mlpzip_mcnc`,
with the image codec's :mod:`inrcodec.mcnc`): only alpha and beta are trained and stored (alpha at ``bits``, 8 by default,
beta at 16); it composes with ``distill`` (the loss) and ``quant`` (alpha's depth), not with
the techniques that edit weights.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .errors import OptionError
from .mlp import MLPConfig, forward, inputs_of

ORDER = ["distill", "prune", "lowrank", "mcnc", "quant", "qat"]
IMPLEMENTED = {"distill", "prune", "lowrank", "mcnc", "quant", "qat"}


@dataclass
class CompressOptions:
    """The pipeline and its knobs (bits of weights; biases at ``bias_bits``, default max(bits, 8))."""

    methods: list[str]
    bits: int = 8
    bias_bits: int | None = None
    epochs: float = 2.0  # retraining epochs of each technique that retrains
    lr: float = 1e-4
    seed: int = 0
    sparsity: float = 0.9  # prune: fraction of weights set to zero
    prune_rounds: int = 3
    rank: int = 16  # lowrank: rank of every factored weight (layers narrower than that stay dense)
    teacher: list | None = field(default=None, repr=False)  # distill: the teacher's tensors
    kd_temperature: float = 4.0
    kd_weight: float = 0.9
    chunk: int = 256  # mcnc: chunk size d
    k: int = 16  # mcnc: manifold dimension
    bound: float = 20.0  # mcnc: input bound L
    theta0: bool = True  # mcnc: train around a seeded initialization (layout 3), not around zero
    augment: int = 0  # retraining moves each image by up to this many pixels (train's augmentation)
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
    if "mcnc" in names and set(names) & {"prune", "lowrank", "qat"}:
        raise OptionError("mcnc trains its own parameters: it combines with distill and quant only")
    missing = [n for n in names if n not in IMPLEMENTED]
    if missing:
        raise OptionError(f"--method {', '.join(missing)}: not implemented yet (this version has "
                          f"{', '.join(sorted(IMPLEMENTED))})")
    return sorted(names, key=ORDER.index)


def default_schedule(methods: list[str]) -> tuple[float, float]:
    """(epochs, learning rate) when the user gives none: fine-tuning a trained model takes 2
    epochs at 1e-4; ``mcnc`` trains from scratch, 10 epochs at 0.1 (the best of 0.001 to 0.3 on
    2x32 at d=512, k=16: 48%, 67%, 77%, 69%; bench/results/mnist/mcnc-knobs.jsonl)."""
    return (10.0, 0.1) if "mcnc" in methods else (2.0, 1e-4)


def check_options(options: CompressOptions) -> None:
    """Refuse knobs no model can satisfy."""
    for name, bits in (("--bits", options.bits), ("--bias-bits", options.bias_bits)):
        if bits is not None and not 1 <= bits <= 16:
            raise OptionError(f"{name} must be in 1..16, got {bits}")
    if not (math.isfinite(options.epochs) and 0 <= options.epochs <= 1000):
        raise OptionError(f"--epochs must be in 0..1000, got {options.epochs}")
    if not 0 <= options.sparsity < 1 or not 1 <= options.prune_rounds <= 100:
        raise OptionError("--sparsity must be in [0, 1) and --prune-rounds in 1..100")
    if options.rank < 1:
        raise OptionError(f"--rank must be at least 1, got {options.rank}")
    if not (1 <= options.chunk <= 1 << 24 and 1 <= options.k <= 4096 and 0 < options.bound < 1e4):
        raise OptionError("--chunk must be in 1..2^24, --k in 1..4096 and --L positive")
    if not 0 <= options.augment <= 8:
        raise OptionError(f"--augment must be in 0..8 pixels, got {options.augment}")
    if options.augment and not set(options.methods) - {"quant"}:
        raise OptionError("--augment shifts the images of retraining, and quant alone does not retrain")
    if not (options.kd_temperature > 0 and 0 <= options.kd_weight <= 1):
        raise OptionError("--kd-temperature must be positive and --kd-weight in [0, 1]")
    if "distill" in options.methods and options.teacher is None:
        raise OptionError("distill needs a teacher model (--teacher FILE)")


def shifted(images: np.ndarray, shift: int, rng: np.random.Generator) -> np.ndarray:
    """uint8 images (N, 28, 28), each moved by its own random offset of up to ``shift`` pixels
    in x and y (zeros come in at the border): the augmentation of :func:`train`."""
    n, h, w = images.shape
    padded = np.pad(images, ((0, 0), (shift, shift), (shift, shift)))
    dy, dx = rng.integers(0, 2 * shift + 1, size=(2, n))
    rows = dy[:, None, None] + np.arange(h)[None, :, None]
    cols = dx[:, None, None] + np.arange(w)[None, None, :]
    return padded[np.arange(n)[:, None, None], rows, cols]


def train(tensors: list, images: np.ndarray, labels: np.ndarray, epochs: float, seed: int = 0,
          lr: float = 1e-3, batch: int = 128, parameters: list | None = None,
          transform: Callable | None = None, on_epoch: Callable[[int, float], None] | None = None,
          loss_fn: Callable | None = None, augment: int = 0) -> None:
    """Train in place with Adam and a cosine learning rate over ``epochs`` (may be fractional).

    ``transform(tensors) -> tensors`` maps the trained parameters to the network's (e.g. a
    quantizer); ``parameters`` are what Adam updates (default ``tensors``); ``loss_fn(logits,
    labels, uint8 images of the batch)`` defaults to cross-entropy. ``augment`` > 0 moves every
    training image by a random offset of up to that many pixels at each step (:func:`shifted`;
    a teacher in ``loss_fn`` sees the moved images too). ``on_epoch(epoch, mean loss)`` reports
    after every epoch.
    """
    import torch

    if not 0 <= augment <= 8:
        raise OptionError(f"--augment must be in 0..8 pixels, got {augment}")
    params = parameters if parameters is not None else tensors
    for p in params:
        p.requires_grad_(True)
    with torch.no_grad():  # the input count is the network's (mlp.INPUT_LAYOUTS)
        features = (transform(tensors) if transform else tensors)[0].shape[1]
    # shifted batches are made from the images at each step; otherwise inputs are made once
    x = None if augment else inputs_of(images, features)
    y = torch.from_numpy(labels.astype(np.int64))
    gen = torch.Generator().manual_seed(seed + 1)
    rng = np.random.default_rng(seed + 2)
    per_epoch = math.ceil(len(images) / batch)
    total = max(1, round(epochs * per_epoch))
    opt = torch.optim.Adam(params, lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, total) / total)))
    step, running = 0, 0.0
    while step < total:
        order = torch.randperm(len(images), generator=gen)
        for s in range(0, len(images), batch):
            idx = order[s:s + batch]
            batch_images = images[idx.numpy()] if augment or loss_fn else None
            if augment:
                batch_images = shifted(batch_images, augment, rng)
                xb = inputs_of(batch_images, features)
            else:
                xb = x[idx]
            net = transform(tensors) if transform else tensors
            logits = forward(net, xb)
            loss = (loss_fn(logits, y[idx], batch_images) if loss_fn
                    else torch.nn.functional.cross_entropy(logits, y[idx]))
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
                lr: float = 1e-3, on_epoch: Callable[[int, float], None] | None = None, augment: int = 0,
                loss_fn: Callable | None = None) -> list:
    """A freshly initialized MLP trained on (images, labels); its tensors (torch, float32)."""
    from .mlp import init_tensors

    tensors = init_tensors(config, seed)
    train(tensors, images, labels, epochs, seed, lr, on_epoch=on_epoch, augment=augment, loss_fn=loss_fn)
    return tensors


class Net:
    """A model as the pipeline holds it: per layer the stored matrices ([W] or [U, V]), their
    masks (None or 0/1 tensors) and the bias; :meth:`network` gives mlp.forward's tensors."""

    def __init__(self, tensors: list) -> None:
        import torch

        ts = [torch.as_tensor(np.asarray(t, dtype=np.float32)).clone() for t in tensors]
        self.mats: list[list] = [[w] for w in ts[0::2]]
        self.masks: list[list] = [[None] for _ in ts[0::2]]
        self.biases: list = ts[1::2]

    def stored(self) -> list:
        """Every stored tensor in record order (matrices of a layer, then its bias)."""
        return [t for mats, b in zip(self.mats, self.biases) for t in (*mats, b)]

    def network(self, stored: list | None = None) -> list:
        """Weight and bias per layer (masks applied, factors multiplied) from ``stored`` tensors."""
        stored = stored if stored is not None else self.stored()
        out, pos = [], 0
        for mats, masks in zip(self.mats, self.masks):
            ms = [t if m is None else t * m for t, m in zip(stored[pos:pos + len(mats)], masks)]
            out += [ms[0] if len(ms) == 1 else ms[0] @ ms[1], stored[pos + len(mats)]]
            pos += len(mats) + 1
        return out

    def layers(self):
        """How each layer is stored, for the container."""
        from .mlpz import Layer

        return [Layer(0 if len(mats) == 1 else mats[0].shape[1], sum(1 << k for k, m in enumerate(masks) if m is not None))
                for mats, masks in zip(self.mats, self.masks)]


def _retrain(net: Net, options: CompressOptions, data, loss_fn=None) -> float:
    """Retrain every stored tensor for ``options.epochs`` with the masks fixed; returns the epochs."""
    if options.epochs > 0:
        if data is None:
            raise OptionError(f"{'+'.join(options.methods)} retrains: it needs the training data")
        train(net.stored(), *data, options.epochs, options.seed, options.lr, transform=net.network,
              on_epoch=options.on_epoch, loss_fn=loss_fn, augment=options.augment)
    return options.epochs


def distillation_loss(options: CompressOptions) -> Callable:
    """(1 - w) CE + w T^2 KL(teacher_T || student_T) (Hinton et al.), as train()'s loss_fn."""
    import torch

    teacher = [torch.as_tensor(np.asarray(t, dtype=np.float32)) for t in options.teacher]
    t, w = options.kd_temperature, options.kd_weight

    def loss_fn(logits, labels, images):
        with torch.no_grad():  # the teacher sees its own inputs (it may pool differently)
            soft = torch.softmax(forward(teacher, inputs_of(images, teacher[0].shape[1])) / t, dim=1)
        kd = torch.nn.functional.kl_div(torch.log_softmax(logits / t, dim=1), soft, reduction="batchmean")
        return (1 - w) * torch.nn.functional.cross_entropy(logits, labels) + w * t * t * kd

    return loss_fn


def distill(net: Net, options: CompressOptions, data) -> float:
    """Retrain with the distillation loss against ``options.teacher``."""
    return _retrain(net, options, data, distillation_loss(options))


def prune(net: Net, options: CompressOptions, data) -> float:
    """Iterative magnitude pruning: each round zeroes the smallest weights of every layer up to
    sparsity 1 - (1 - s)^(round / rounds), then retrains with the masks fixed."""
    import torch

    epochs = 0.0
    rounds = options.prune_rounds
    for r in range(1, rounds + 1):
        keep = (1 - options.sparsity) ** (r / rounds)
        for mats, masks in zip(net.mats, net.masks):
            for k, t in enumerate(mats):
                n_keep = max(1, round(keep * t.numel()))
                current = t.abs() * (masks[k] if masks[k] is not None else 1)
                threshold = torch.topk(current.reshape(-1), n_keep).values[-1]
                masks[k] = (current >= threshold).to(torch.float32)
        sub = CompressOptions(**{**options.__dict__, "epochs": options.epochs / rounds})
        epochs += _retrain(net, sub, data)
    return epochs


def lowrank(net: Net, options: CompressOptions, data) -> float:
    """Each weight wider than the rank becomes U (out, r) V (r, in) from its SVD (sqrt of the
    singular values on each side; any mask is dropped, the factors are dense), then retraining."""
    import torch

    for li, (mats, masks) in enumerate(zip(net.mats, net.masks)):
        w = net.network()[2 * li]
        r = options.rank
        if len(mats) != 1 or r >= min(w.shape) or r * sum(w.shape) >= w.numel():
            continue
        u, s, vh = torch.linalg.svd(w.detach(), full_matrices=False)
        root = s[:r].sqrt()
        net.mats[li] = [(u[:, :r] * root).contiguous(), (root[:, None] * vh[:r]).contiguous()]
        net.masks[li] = [None, None]
    return _retrain(net, options, data)


def compress(config: MLPConfig, tensors: list, options: CompressOptions,
             train_data: tuple[np.ndarray, np.ndarray] | None = None) -> CompressResult:
    """Run the pipeline on a trained MLP and write the ``.mlpz``; methods that retrain need ``train_data``."""
    from . import mlpz
    from .bitstream import TensorRecord
    from .entropy import Encoder
    from .quantize import quantize

    methods = options.methods
    if "mcnc" in methods:
        from .mlpzip_mcnc import compress_manifold

        return compress_manifold(config, options, train_data)
    net = Net(tensors)
    epochs = 0.0
    for step, fn in (("distill", distill), ("prune", prune), ("lowrank", lowrank)):
        if step in methods:
            epochs += fn(net, options, train_data)
    quantized = "quant" in methods or "qat" in methods
    weight_bits = options.bits if quantized else 16
    bias_bits = (options.bias_bits if options.bias_bits is not None else max(options.bits, 8)) if quantized else 16
    kinds = [kind for kind, _ in mlpz.items(config, net.layers()) if kind != "mask"]
    bits = [bias_bits if kind == "bias" else weight_bits for kind in kinds]
    stored = net.stored()
    masks = [m for ms in net.masks for m in (*ms, None)]
    if "qat" in methods:
        from .softquant import SoftQuantizer

        quantizers = [SoftQuantizer(t if m is None else t[m > 0], b) for t, m, b in zip(stored, masks, bits)]
        if train_data is None:
            raise OptionError("qat retrains: it needs the training data")
        # with distill in the pipeline the teacher guides the quantized training as well
        qat_loss = distillation_loss(options) if "distill" in methods else None
        train(stored, *train_data, options.epochs, options.seed, options.lr,
              parameters=stored + [p for q in quantizers for p in q.parameters() if p.requires_grad],
              transform=lambda xs: net.network([q(x, None) for q, x in zip(quantizers, xs)]),
              on_epoch=options.on_epoch, loss_fn=qat_loss, augment=options.augment)
        epochs += options.epochs
    enc, records = Encoder(), []
    for t, m, b, k in zip(stored, masks, bits, range(len(stored))):
        flat = t.detach().reshape(-1)
        if m is not None:
            keep = m.reshape(-1) > 0
            model, scale = enc.add(np.where(keep.numpy(), 1, -1).astype(np.int32), 1)
            records.append(TensorRecord(1, model, 0, 0x3F80, scale))
            flat = flat[keep]
        if "qat" in methods:
            q, alpha = quantizers[k].hard(flat)
            ints, offset, step = q.numpy(), 0, alpha
        else:
            qt = quantize(flat.numpy(), b)
            ints, offset, step = qt.q, qt.offset_bf16, qt.step_bf16
        model, scale = enc.add(ints, b)
        records.append(TensorRecord(b, model, offset, step, scale))
    data = mlpz.pack(config, methods, records, enc.payload(), net.layers())
    _, decoded = mlpz.decode(data)
    return CompressResult(data, decoded, epochs, {"methods": methods, "tensor_bits": [r.bits for r in records],
                                                  "parameters": config.num_params(), "bytes": len(data)})
