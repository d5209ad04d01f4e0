"""Classic codecs for the benchmark, each in its best-PSNR configuration, run live.

Every codec maps an integer quality knob (higher = more bits) to file bytes and back to an
8-bit RGB array. ``config`` states exactly what was run, library versions included, so a
results file says what it measured. No strawmen: JPEG2000 uses the irreversible 9/7 wavelet
with the colour transform, x265 is tuned for PSNR, and chroma subsampling is a variant to
compare (the bench keeps the better curve and says which).
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Callable

import numpy as np
from PIL import Image, features


@dataclass(frozen=True)
class Codec:
    """One configuration of a classic codec."""

    name: str  # e.g. "jpeg-444"
    family: str  # e.g. "jpeg": variants of one family are compared and the better kept
    qualities: tuple[int, ...]  # the sweep, increasing rate
    knob_range: tuple[int, int]  # bounds for the bpp-target search
    encode: Callable[[np.ndarray, int], bytes]
    decode: Callable[[bytes], np.ndarray]
    config: str

    def decode_like(self, data: bytes, image: np.ndarray) -> np.ndarray:
        """Decode to an (H, W, C) uint8 array with the channel count of ``image``."""
        out = self.decode(data)
        if out.ndim == 2:
            out = out[:, :, None]
        return out[:, :, :image.shape[2]]

    def run(self, image: np.ndarray, quality: int) -> tuple[bytes, np.ndarray]:
        """Encode and decode; the result is (file bytes, decoded (H, W, C) uint8)."""
        data = self.encode(image, quality)
        return data, self.decode_like(data, image)


def _pil(image: np.ndarray) -> Image.Image:
    return Image.fromarray(image[:, :, 0] if image.shape[2] == 1 else image)


def _pil_decode(data: bytes) -> np.ndarray:
    img = Image.open(io.BytesIO(data))
    return np.asarray(img.convert("L" if img.mode in ("L", "I;16", "I") else "RGB"))


def _pil_codec(fmt: str, **fixed) -> Callable[[np.ndarray, int], bytes]:
    def encode(image: np.ndarray, quality: int) -> bytes:
        buf = io.BytesIO()
        _pil(image).save(buf, format=fmt, quality=quality, **fixed)
        return buf.getvalue()
    return encode


def _j2k_encode(image: np.ndarray, quality: int) -> bytes:
    # Knob = target bits per pixel x 1000, as a compression ratio for OpenJPEG.
    bits_per_pixel_raw = 8 * image.shape[2]
    buf = io.BytesIO()
    _pil(image).save(buf, format="JPEG2000", irreversible=True, mct=1 if image.shape[2] == 3 else 0,
                     quality_mode="rates", quality_layers=[bits_per_pixel_raw * 1000 / quality])
    return buf.getvalue()


def _heic_encode(chroma: int) -> Callable[[np.ndarray, int], bytes]:
    def encode(image: np.ndarray, quality: int) -> bytes:
        import pillow_heif

        buf = io.BytesIO()
        pillow_heif.from_pillow(_pil(image).convert("RGB")).save(
            buf, quality=quality, chroma=chroma, enc_params={"preset": "slow", "tune": "psnr"})
        return buf.getvalue()
    return encode


def _heic_decode(data: bytes) -> np.ndarray:
    import pillow_heif

    return np.asarray(pillow_heif.open_heif(io.BytesIO(data)).to_pillow().convert("RGB"))


def _jxl_encode(image: np.ndarray, quality: int) -> bytes:
    import imagecodecs

    # Knob = 1000 / distance (distance 0.1 .. 25, butteraugli units): higher is better.
    arr = image[:, :, 0] if image.shape[2] == 1 else image
    return imagecodecs.jpegxl_encode(arr, distance=1000.0 / quality, effort=7)


def _jxl_decode(data: bytes) -> np.ndarray:
    import imagecodecs

    return np.asarray(imagecodecs.jpegxl_decode(data))


AVIF_SPEED = 4  # 0 is 60x slower here (14.5 s vs 0.23 s at speed 6 on kodim23) for ~0.4 dB


def available_codecs() -> tuple[dict[str, Codec], dict[str, str]]:
    """Codecs usable here, and for the others the reason they are not."""
    import PIL

    have: dict[str, Codec] = {}
    missing: dict[str, str] = {}
    pil = f"Pillow {PIL.__version__}"
    if features.check("jpg"):
        for name, sub in (("jpeg-444", 0), ("jpeg-420", 2)):
            have[name] = Codec(name, "jpeg", (5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95), (1, 95),
                               _pil_codec("JPEG", subsampling=sub, optimize=True), _pil_decode,
                               f"{pil} libjpeg {features.version('jpg')}, optimize=True, "
                               f"subsampling {'4:4:4' if sub == 0 else '4:2:0'}")
    else:
        missing["jpeg"] = "Pillow built without JPEG"
    if features.check("jpg_2000"):
        have["jpeg2000"] = Codec("jpeg2000", "jpeg2000", (50, 100, 150, 250, 400, 600, 900, 1300, 2000), (20, 4000),
                                 _j2k_encode, _pil_decode,
                                 f"{pil} OpenJPEG {features.version('jpg_2000')}, irreversible 9/7, mct=1, "
                                 "one quality layer at the target rate")
    else:
        missing["jpeg2000"] = "Pillow built without OpenJPEG"
    if features.check("webp"):
        have["webp"] = Codec("webp", "webp", (0, 5, 15, 30, 50, 70, 80, 90, 95, 100), (0, 100),
                             _pil_codec("WEBP", method=6), _pil_decode,
                             f"{pil} libwebp {features.version('webp')}, method=6, lossy, 4:2:0 (WebP's only lossy mode)")
    else:
        missing["webp"] = "Pillow built without libwebp"
    if features.check("avif"):
        for name, sub in (("avif-444", "4:4:4"), ("avif-420", "4:2:0")):
            have[name] = Codec(name, "avif", (5, 15, 25, 35, 45, 55, 65, 75, 85), (0, 100),
                               _pil_codec("AVIF", speed=AVIF_SPEED, subsampling=sub), _pil_decode,
                               f"{pil} libavif {features.version('avif')}, speed {AVIF_SPEED}, {sub}")
    else:
        missing["avif"] = "Pillow built without libavif"
    try:
        import pillow_heif

        info = pillow_heif.libheif_info()
        if "x265" in str(info.get("encoders", {})):
            for name, chroma in (("heic-444", 444), ("heic-420", 420)):
                have[name] = Codec(name, "heic", (5, 15, 25, 35, 45, 55, 65, 75, 85), (0, 100),
                                   _heic_encode(chroma), _heic_decode,
                                   f"pillow-heif {pillow_heif.__version__}, libheif {info['libheif']}, x265 "
                                   f"preset slow, tune psnr, chroma {chroma}")
        else:
            missing["heic"] = "libheif has no x265 encoder"
    except ImportError:
        missing["heic"] = "pillow-heif is not installed (pip install 'inrcodec[bench]')"
    try:
        import imagecodecs

        if imagecodecs.JPEGXL.available:
            have["jxl"] = Codec("jxl", "jxl", (40, 70, 100, 150, 250, 400, 700, 1200, 2500), (40, 10000),
                                _jxl_encode, _jxl_decode,
                                f"imagecodecs {imagecodecs.__version__}, libjxl {imagecodecs.jpegxl_version()}, "
                                "effort 7, VarDCT by distance")
        else:
            missing["jxl"] = "imagecodecs built without libjxl"
    except ImportError:
        missing["jxl"] = "imagecodecs is not installed (pip install 'inrcodec[bench]')"
    return have, missing


def search_quality(codec: Codec, image: np.ndarray, target_bpp: float) -> tuple[int, bytes, np.ndarray] | None:
    """Largest quality whose file is at most ``target_bpp`` (bisection; None if even the lowest is over)."""
    pixels = image.shape[0] * image.shape[1]
    lo, hi = codec.knob_range
    best = None
    data, out = codec.run(image, lo)
    if len(data) * 8 / pixels > target_bpp:
        return None
    best = (lo, data, out)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        data, out = codec.run(image, mid)
        if len(data) * 8 / pixels <= target_bpp:
            lo, best = mid, (mid, data, out)
        else:
            hi = mid
    data, out = codec.run(image, hi)
    if len(data) * 8 / pixels <= target_bpp:
        best = (hi, data, out)
    return best
