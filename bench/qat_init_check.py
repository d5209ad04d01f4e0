"""Check: at the start of the QAT phase the quantizer gives what post-training quantization gives.

Fits a 10x40 SIREN in float to a 192x128 crop of kodim23 (800 steps), then prints the PSNR of the
float network, of QAT's hard quantizer at its initialization (8 bits, first layer 14), of COIN's
post-training quantization at the same depths, and of the soft quantizer at T = 10, 100, 1000.
Usage: python bench/qat_init_check.py
"""
from __future__ import annotations

import datetime
import platform
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from inrcodec import siren_fit, train
from inrcodec.methods import qat
from inrcodec.metrics import psnr
from inrcodec.quantize import quantize
from inrcodec.siren import Siren, SirenConfig, coordinate_grid, render
from inrcodec.softquant import SoftQuantizer

root = Path(__file__).resolve().parent.parent
img = np.ascontiguousarray(np.asarray(Image.open(root / "samples" / "kodim23.png").convert("RGB"))[100:228, 200:392])
cfg = SirenConfig(10, 40)
fit = siren_fit.fit(img, cfg, [16] * len(cfg.tensor_shapes()), train.LoopOptions(steps=800), compile=False)
model = Siren(cfg)
model.load_tensors(fit.best)
bits = qat.tensor_bits(cfg, 8, True, 14)
quantizers = [SoftQuantizer(t, b) for t, b in zip(model.tensors(), bits)]
check = Siren(cfg)
check.load_tensors([q.dequantized(t).numpy() for q, t in zip(quantizers, model.tensors())])
hard = psnr(render(check, *img.shape[:2]), img)
check.load_tensors([quantize(t.detach().numpy(), b).dequantize() for t, b in zip(model.tensors(), bits)])
ptq = psnr(render(check, *img.shape[:2]), img)
coords = coordinate_grid(*img.shape[:2])


@torch.no_grad()
def soft_psnr(temperature: float) -> float:
    h, ts = coords, model.tensors()
    for k in range(len(ts) // 2):
        h = torch.nn.functional.linear(h, quantizers[2 * k](ts[2 * k], temperature),
                                       quantizers[2 * k + 1](ts[2 * k + 1], temperature))
        if k < len(ts) // 2 - 1:
            h = torch.sin(cfg.w0 * h)
    return psnr((h.clamp(0, 1) * 255).round().numpy().astype(np.uint8).reshape(img.shape), img)


print(f"python bench/qat_init_check.py; {platform.machine()}; {datetime.date.today().isoformat()}")
print(f"float {fit.best_score:.2f} dB, QAT hard at init {hard:.2f} dB, post-training {ptq:.2f} dB, "
      + ", ".join(f"soft T={t:g} {soft_psnr(t):.2f} dB" for t in (10.0, 100.0, 1000.0)))
