"""CompressAI's learned codecs: run live when possible, otherwise use their published results.

Live means ``compressai`` imports and the pretrained weights are already in the torch hub
cache (``$TORCH_HOME/hub/checkpoints``): the bench never downloads weights. Rates are real
entropy-coded string lengths plus a 2-byte header per image (a file would also need the
shape, which CompressAI's own numbers leave out; we add 4 bytes for it).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

MODELS = ("bmshj2018-factorized", "bmshj2018-hyperprior", "mbt2018-mean", "mbt2018", "cheng2020-anchor")
QUALITIES = {"cheng2020-anchor": (1, 2, 3, 4, 5, 6)} | {m: tuple(range(1, 9)) for m in MODELS[:4]}
_HEADER_BYTES = 2 + 4  # model/quality ids + image shape, as in CompressAI's examples/codec.py


def live_reason() -> str | None:
    """None when CompressAI can run live here with cached weights, else why not (one line)."""
    try:
        import torch
        from compressai.zoo.image import model_urls
    except Exception as exc:  # noqa: BLE001 -- torchvision without CUDA raises assorted errors
        return f"compressai is not importable ({type(exc).__name__}: {str(exc).splitlines()[0][:80]})"
    cache = Path(torch.hub.get_dir()) / "checkpoints"
    for model in MODELS:
        for q in QUALITIES[model]:
            url = model_urls[model]["mse"][q]
            if not (cache / Path(url).name).exists():
                return f"pretrained weights not in {cache} (e.g. {Path(url).name}); not downloading"
    return None


def run_live(model: str, quality: int, image: np.ndarray) -> tuple[int, np.ndarray]:
    """Compress and decompress an (H, W, 3) uint8 image; returns (bytes, decoded uint8)."""
    import torch
    import torch.nn.functional as F
    from compressai.zoo import image_models

    net = image_models[model](quality=quality, metric="mse", pretrained=True, progress=False).eval()
    x = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))).float()[None] / 255.0
    h, w = x.shape[2:]
    ph, pw = (64 - h % 64) % 64, (64 - w % 64) % 64
    padded = F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2), mode="constant", value=0)
    with torch.no_grad():
        enc = net.compress(padded)
        dec = net.decompress(enc["strings"], enc["shape"])["x_hat"]
    dec = dec[:, :, ph // 2:ph // 2 + h, pw // 2:pw // 2 + w].clamp(0, 1)
    nbytes = sum(len(s[0]) for s in enc["strings"]) + _HEADER_BYTES
    out = (dec[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    return nbytes, out
