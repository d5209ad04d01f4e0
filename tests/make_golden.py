"""Regenerate tests/data/golden.* -- only when the format version changes on purpose.

Usage: python tests/make_golden.py   (then commit the three files; a changed digest means the
decoding of existing files changed, which format version 1 promises never to do).
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from PIL import Image

from inrcodec.decoder import decode, decode_parameters
from inrcodec.encoder import EncodeOptions, encode
from inrcodec.images import encode_png

ROOT = Path(__file__).resolve().parent
img = np.asarray(Image.open(ROOT.parent / "samples" / "kodim23.png").convert("RGB"))[240:256, 330:354]
data = encode(np.ascontiguousarray(img), EncodeOptions(bpp=None, arch=(2, 8), bits=12, uniform_bits=True, steps=150)).data
(ROOT / "data" / "golden.inr").write_bytes(data)
_, tensors = decode_parameters(data)
h = hashlib.sha256()
for t in tensors:
    h.update(np.ascontiguousarray(t, dtype="<f4").tobytes())
(ROOT / "data" / "golden_params.sha256").write_text(h.hexdigest() + "  golden.inr (float32 LE parameters)\n")
(ROOT / "data" / "golden_decoded.png").write_bytes(encode_png(decode(data)))
print(len(data), "bytes", h.hexdigest())
