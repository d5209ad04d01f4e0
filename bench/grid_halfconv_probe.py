"""Probe (issue 14): would the block grid gain from spatial mixing before the pixel shuffle?

Removing the full-size 3x3 residual convolution cost kodim23 1.4 dB at -b 0.6 (grid-study-2026-12-07h.log),
so mixing across the 2x2 blocks matters. This adds a residual 3x3 convolution on the half-size
output (4 phases x 3 colours, before the pixel shuffle; ``--groups 3`` mixes the phases of each
colour only), starting at zero, and trains at fixed steps under the encoder's rate control. The
format has no such layer, so this patches the training model in this process and reports the
fit (hard-rounded latents, float networks: no file is written) and the rate estimate, with the
extra weights counted at 9 bits each on top of the latents for the comparison with JPEG2000.

  python bench/grid_halfconv_probe.py --image kodim23 --bpp 0.6 --steps 2500 [--groups 0|1|3]

``--groups 0`` is the defaults, unpatched.
"""
from __future__ import annotations

import argparse
import json
import time

import torch
import torch.nn.functional as F

from inrcodec.baselines import available_codecs, search_quality
from inrcodec.datasets import kodak
from inrcodec.images import decode_image_bytes
from inrcodec.methods import EncodeOptions, grid_encode, grid_model
from inrcodec.methods.grid import synthesis_shapes, synthesis_size
from inrcodec.metrics import psnr


def patch(groups: int) -> int:
    """Make the training model carry the half-size convolution; returns its weight count (RGB)."""
    c = 4 * 3  # four phases of three colours

    def shapes(params, channels):
        return synthesis_shapes(params, channels) + [(4 * channels, 4 * channels // groups, 3, 3), (4 * channels,)]

    def layers(x, syn, params, height, width, pad=None):
        h, w = synthesis_size(params, height, width)
        x = x.reshape(-1, h * w)
        k = 0
        for _ in range(params["syn_layers"]):
            x = torch.relu(torch.addmm(syn[k + 1][:, None], syn[k], x))
            k += 2
        x = torch.addmm(syn[k + 1][:, None], syn[k], x).reshape(1, -1, h, w)
        x = x.contiguous(memory_format=torch.channels_last)
        x = x + F.conv2d(pad(x), syn[-2], syn[-1], groups=groups)
        x = F.pixel_shuffle(x, 2)[:, :, :height, :width]
        x = x.contiguous(memory_format=torch.channels_last)
        k += 2
        for r in range(params["res_convs"]):
            hid = x if r == 0 else torch.relu(x)
            x = x + F.conv2d(pad(hid), syn[k], syn[k + 1])
            k += 2
        return x[0]

    grid_model.synthesis_shapes = shapes
    grid_model.synthesis_layers = layers
    return c * (c // groups) * 9 + c


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--image", default="kodim23")
    ap.add_argument("--bpp", type=float, default=0.6)
    ap.add_argument("--steps", type=int, default=2500)
    ap.add_argument("--groups", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--data-dir", default="../shared/data/kodak")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    n_extra = patch(a.groups) if a.groups else 0
    path = kodak(a.data_dir, names=[a.image])[0]
    image = decode_image_bytes(path.read_bytes(), a.image)
    h, w = image.shape[:2]
    options = EncodeOptions(bpp=a.bpp, method="grid", steps=a.steps)
    t0 = time.perf_counter()
    run = grid_encode._trained(image, options, None)
    seconds = time.perf_counter() - t0
    with torch.no_grad():
        x, bits = run.fit.model.forward("hard")
    decoded = (x.clamp(0, 1) * 255).round().permute(1, 2, 0).to(torch.uint8).numpy()
    latent_bpp = float(bits) / (h * w)
    overhead = grid_encode.overhead_bits(run.params, 3) / (h * w) + 9 * n_extra / (h * w)
    bpp = latent_bpp + overhead
    j2k = available_codecs()[0]["jpeg2000"]
    found = search_quality(j2k, image, bpp)  # JPEG2000's largest file within the same whole-file estimate
    j2k_psnr = psnr(image, found[2])
    print(json.dumps({"image": a.image, "groups": a.groups, "steps": a.steps, "fit_psnr": round(psnr(image, decoded), 3),
                      "latent_bpp": round(latent_bpp, 4), "bpp_estimate": round(bpp, 4), "extra_weights": n_extra,
                      "j2k_psnr": round(j2k_psnr, 3), "delta": round(psnr(image, decoded) - j2k_psnr, 3),
                      "seconds": round(seconds, 1)}))


if __name__ == "__main__":
    main()
