"""mlpzip's ``mcnc`` pipeline: train an MLP from scratch on an MCNC manifold (the image codec's
:mod:`inrcodec.mcnc`) and code alpha and beta into a ``.mlpz`` (layout 2 or 3)."""
from __future__ import annotations

import math

import numpy as np

from .errors import OptionError
from .mlp import MLPConfig
from .mlpzip import CompressOptions, CompressResult, distillation_loss, train


def manifold_fit(config: MLPConfig, options: CompressOptions, data):
    """Train an MLP of ``config`` from scratch on an MCNC manifold around theta0 (zero, or with
    ``options.theta0`` mlp.seeded_init): returns the manifold and the trained alpha (chunks, 1,
    k) and beta (chunks, 1), numpy float32."""
    import torch

    from . import mlpz
    from .mcnc import Manifold, expand, generator_tensors
    from .mlp import init_tensors
    from .quantize import from_bf16_bits, to_bf16_bits

    if data is None:
        raise OptionError("mcnc trains: it needs the training data")
    spec = Manifold(options.seed, options.chunk, options.k, float(from_bf16_bits(to_bf16_bits(options.bound))))
    weights = [torch.from_numpy(w) for w in generator_tensors(spec)]
    n, p = spec.chunks(config.num_params()), config.num_params()
    gen = torch.Generator().manual_seed(options.seed)
    alpha = (torch.rand(n, 1, options.k, generator=gen) * 2 - 1) * spec.bound
    # beta = scale * b with b trained from 1: the scale is the chunk norm of PyTorch's default init
    init = torch.cat([t.reshape(-1) for t in init_tensors(config, options.seed)])
    init = torch.nn.functional.pad(init, (0, n * spec.d - p)).reshape(n, spec.d)
    scale = init.norm(dim=1, keepdim=True)
    b = torch.ones(n, 1)
    theta0 = None
    if options.theta0:
        theta0 = torch.from_numpy(mlpz.seeded_theta0(config, spec))  # exactly what the decoder rebuilds
        b = b * 0.1  # delta starts at a tenth of the init's scale (76% vs 69% at 1, 3 epochs of 2x32)
    shapes = config.tensor_shapes()

    def network(ts):
        flat = expand(spec, weights, ts[0], ts[1] * scale, p, theta0)
        out, pos = [], 0
        for shape in shapes:
            size = math.prod(shape)
            out.append(flat[pos:pos + size].reshape(shape))
            pos += size
        return out

    loss_fn = distillation_loss(options) if "distill" in options.methods else None
    train([alpha, b], *data, options.epochs, options.seed, options.lr, transform=network,
          on_epoch=options.on_epoch, loss_fn=loss_fn, augment=options.augment)
    return spec, alpha.numpy().astype(np.float32), (b * scale).numpy().astype(np.float32)


def compress_manifold(config: MLPConfig, options: CompressOptions, data) -> CompressResult:
    """The ``mcnc`` pipeline: train on the manifold, code alpha (``bits``, default 8) and beta (16)."""
    from . import mlpz
    from .bitstream import TensorRecord
    from .entropy import Encoder
    from .quantize import quantize

    spec, alpha, beta = manifold_fit(config, options, data)
    enc, records = Encoder(), []
    for values, bits in ((alpha, options.bits if "quant" in options.methods else 8), (beta, 16)):
        qt = quantize(values, bits)
        model, scale = enc.add(qt.q, bits)
        records.append(TensorRecord(bits, model, qt.offset_bf16, qt.step_bf16, scale))
    data = mlpz.pack(config, options.methods, records, enc.payload(), manifold=spec, theta0=options.theta0)
    _, decoded = mlpz.decode(data)
    return CompressResult(data, decoded, options.epochs, {"methods": options.methods,
                                                          "tensor_bits": [r.bits for r in records],
                                                          "parameters": config.num_params(), "bytes": len(data)})
