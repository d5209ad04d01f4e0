"""MNIST classifier MLPs: the network, test accuracy, and the plain model file (no training code:
the ``.mlpz`` decoder uses this module; training lives in :mod:`inrcodec.mlpzip`).

An MLP of depth D and width W is ``I -> W -> ... -> W -> 10`` with D hidden ReLU layers
(D + 1 linear layers). Its tensors, in order, are each layer's weight (out, in) then bias, as
in the image codec. The input count I says what the network sees (``INPUT_LAYOUTS``): 784 is
the 28x28 pixels / 255 row by row; 196 and 49 are the means of 2x2 and 4x4 pixel blocks (14x14,
7x7); 576, 144 and 36 the same of the central 24x24 pixels, 400, 100 and 25 of the central
20x20: fixed structured prunings of the first layer that small files need (MNIST's strokes are
wider than a pixel, and its digits are scaled into a 20x20 box and centred by their centre of
mass: 99.8% of the training set's ink lies in the central 24x24, 96.7% in the central 20x20).

Model files (``mlpzip train -o model.pt``) are a plain dict of ints, strings and tensors written
by ``torch.save`` and read back with ``weights_only=True``: loading never unpickles our objects.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .errors import DataError

FILE_FORMAT = "inrcodec-mlp"
FILE_VERSION = 1


@dataclass(frozen=True)
class MLPConfig:
    """Hidden layers, their width, and the input and class counts."""

    depth: int
    width: int
    inputs: int = 784
    classes: int = 10

    def layer_shapes(self) -> list[tuple[int, int]]:
        """(out, in) of each linear layer, first to last."""
        dims = [self.inputs] + [self.width] * self.depth + [self.classes]
        return [(dims[k + 1], dims[k]) for k in range(self.depth + 1)]

    def tensor_shapes(self) -> list[tuple[int, ...]]:
        """Weight then bias of each layer."""
        return [s for out, inp in self.layer_shapes() for s in ((out, inp), (out,))]

    def num_params(self) -> int:
        """Number of parameters."""
        return sum(math.prod(s) for s in self.tensor_shapes())


# input count -> (side P of the averaged pixel blocks, margin C of pixels dropped on each side):
# the network reads the central (28 - 2C) x (28 - 2C) pixels in P x P block means, row by row.
# Share of the training set's ink inside the central 24x24: 99.8%; inside 20x20: 96.7%.
INPUT_LAYOUTS: dict[int, tuple[int, int]] = {784: (1, 0), 576: (1, 2), 400: (1, 4), 196: (2, 0), 144: (2, 2),
                                             100: (2, 4), 49: (4, 0), 36: (4, 2), 25: (4, 4)}


def input_count(pool: int, crop: int) -> int:
    """The input count of P x P block means of the image less a C-pixel margin
    (:data:`INPUT_LAYOUTS`); DataError for a layout there is not."""
    for n, layout in INPUT_LAYOUTS.items():
        if layout == (pool, crop):
            return n
    raise DataError(f"no MNIST input layout with {pool}x{pool} blocks and a {crop}-pixel margin "
                    f"(blocks 1, 2 or 4; margins 0, 2 or 4)")


def describe_inputs(inputs: int) -> str | None:
    """What an input count reads, in words (``"2x2 means of the central 24x24"``); None for a
    count that is no MNIST layout (the container accepts any)."""
    if inputs not in INPUT_LAYOUTS:
        return None
    p, c = INPUT_LAYOUTS[inputs]
    side = 28 - 2 * c
    area = "the 28x28 image" if c == 0 else f"the central {side}x{side}"
    return f"pixels of {area}" if p == 1 else f"{p}x{p} means of {area}"


def inputs_of(images: np.ndarray, inputs: int = 784):
    """Float32 network inputs (N, ``inputs``) of uint8 (N, 28, 28) images, as a torch tensor:
    pixels / 255 of the central crop, averaged over blocks (``INPUT_LAYOUTS``)."""
    import torch

    if inputs not in INPUT_LAYOUTS:
        raise DataError(f"an MNIST MLP takes {', '.join(map(str, INPUT_LAYOUTS))} inputs, not {inputs}")
    (p, c), n = INPUT_LAYOUTS[inputs], len(images)
    x = images[:, c:28 - c, c:28 - c].astype(np.float32) / 255.0
    side = (28 - 2 * c) // p
    if p > 1:
        x = x.reshape(n, side, p, side, p).mean(axis=(2, 4), dtype=np.float32)
    return torch.from_numpy(np.ascontiguousarray(x.reshape(n, -1)))


def forward(tensors: list, x):
    """Logits of an MLP given its tensors (torch) in stream order: ReLU between linear layers."""
    import torch

    h = x
    n = len(tensors) // 2
    for k in range(n):
        h = torch.nn.functional.linear(h, tensors[2 * k], tensors[2 * k + 1])
        if k < n - 1:
            h = torch.relu(h)
    return h


def init_tensors(config: MLPConfig, seed: int) -> list:
    """PyTorch's default Linear initialization (uniform in +-1/sqrt(fan_in)), from ``seed``."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    out = []
    for o, i in config.layer_shapes():
        bound = 1.0 / math.sqrt(i)
        out += [(torch.rand(o, i, generator=gen) * 2 - 1) * bound, (torch.rand(o, generator=gen) * 2 - 1) * bound]
    return out


def seeded_init(config: MLPConfig, seed: int, start: int) -> list[np.ndarray]:
    """PyTorch's default Linear initialization drawn from the format's SplitMix64 (bit-exact on
    every machine): per layer the weight (row-major) then the bias, each uniform in
    +-1/sqrt(in), from output ``start`` on. An MCNC manifold's theta0 (``.mlpz`` layout 3)."""
    from .prng import uniform_float32

    out, pos = [], start
    for o, i in config.layer_shapes():
        bound = 1.0 / math.sqrt(i)
        for shape in ((o, i), (o,)):
            n = math.prod(shape)
            out.append(uniform_float32(seed, n, -bound, bound, start=pos).reshape(shape))
            pos += n
    return out


def accuracy(tensors: list, images: np.ndarray, labels: np.ndarray, batch: int = 10000) -> float:
    """Test accuracy in percent of the MLP ``tensors`` (torch or numpy) on uint8 images."""
    import torch

    ts = [torch.as_tensor(np.asarray(t, dtype=np.float32)) if not isinstance(t, torch.Tensor) else t.detach()
          for t in tensors]
    x, y = inputs_of(images, ts[0].shape[1]), torch.from_numpy(labels.astype(np.int64))
    correct = 0
    with torch.no_grad():
        for s in range(0, len(x), batch):
            correct += int((forward(ts, x[s:s + batch]).argmax(1) == y[s:s + batch]).sum())
    return 100.0 * correct / max(1, len(x))


def to_bytes(config: MLPConfig, tensors: list) -> bytes:
    """A model file's bytes (a plain dict; see the module doc)."""
    import io

    import torch

    buf = io.BytesIO()
    torch.save({"format": FILE_FORMAT, "version": FILE_VERSION, "depth": config.depth, "width": config.width,
                "inputs": config.inputs, "classes": config.classes,
                "tensors": [torch.as_tensor(np.asarray(t, dtype=np.float32)).detach().clone() for t in tensors]}, buf)
    return buf.getvalue()


def from_bytes(data: bytes, name: str = "model") -> tuple[MLPConfig, list]:
    """Config and float32 tensors of a model file; :class:`DataError` (one line) if it is not one."""
    import io

    import torch

    try:
        obj = torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")
    except Exception as exc:  # torch reports bad files with assorted exceptions
        raise DataError(f"{name}: not an inrcodec MLP model file ({type(exc).__name__})") from None
    if not isinstance(obj, dict) or obj.get("format") != FILE_FORMAT or obj.get("version") != FILE_VERSION:
        raise DataError(f"{name}: not an inrcodec MLP model file (format {FILE_FORMAT} v{FILE_VERSION})")
    try:
        config = MLPConfig(int(obj["depth"]), int(obj["width"]), int(obj["inputs"]), int(obj["classes"]))
        tensors = list(obj["tensors"])
    except (KeyError, TypeError, ValueError):
        raise DataError(f"{name}: model file is missing its architecture or tensors") from None
    shapes = [tuple(t.shape) for t in tensors if isinstance(t, torch.Tensor)]
    if not (1 <= config.depth <= 64 and 1 <= config.width <= 65535) or shapes != config.tensor_shapes():
        raise DataError(f"{name}: tensors do not match a depth-{config.depth} width-{config.width} MLP")
    return config, [t.to(torch.float32) for t in tensors]
