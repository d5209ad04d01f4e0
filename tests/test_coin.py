"""The COIN method: section, layout, per-tensor bit depths, planning within limits, bench names."""
from __future__ import annotations

import numpy as np
import pytest

from inrcodec.bitstream import DecodeLimits
from inrcodec.decoder import decode_parameters, describe
from inrcodec.errors import DataError, OptionError
from inrcodec.methods import EncodeOptions, coin
from inrcodec.siren import SirenConfig


def test_first_layer_keeps_its_bits_unless_uniform():
    cfg = SirenConfig(3, 12)
    assert coin.tensor_bits(cfg, 8) == [coin.FIRST_LAYER_BITS] * 2 + [8] * 6
    assert coin.tensor_bits(cfg, 8, uniform=True) == [8] * 8
    assert coin.tensor_bits(cfg, 16) == [16] * 8


def test_mixed_precision_stream_keeps_the_first_layer_fine():
    cfg = SirenConfig(3, 12)
    rng = np.random.default_rng(1)
    tensors = [rng.normal(0, 0.3, s).astype(np.float32) for s in cfg.tensor_shapes()]
    opened, decoded = decode_parameters(coin.build_stream(tensors, cfg, coin.tensor_bits(cfg, 6), 40, 56))
    assert [t.bits for t in opened.stream.tensors] == [14, 14] + [6] * 6
    errors = [float(np.abs(a - b).max() / np.abs(a - np.median(a)).max()) for a, b in zip(tensors, decoded)]
    assert max(errors[:2]) < 2.0 ** -13 and min(errors[2:]) > 2.0 ** -8  # half a step at 14 vs 6 bits


def test_more_bits_cost_more_bytes_and_header_bytes_is_exact():
    cfg = SirenConfig(3, 12)
    tensors = [np.random.default_rng(0).normal(0, 0.1, s).astype(np.float32) for s in cfg.tensor_shapes()]
    sizes = [len(coin.build_stream(tensors, cfg, coin.tensor_bits(cfg, b), 40, 56)) for b in (4, 8, 12, 16)]
    assert sizes == sorted(sizes)
    stream = coin.build_stream(tensors, cfg, coin.tensor_bits(cfg, 8), 40, 56)
    payload_words = describe(stream)["section_bytes"]["payload"] - 4
    assert len(stream) == coin.header_bytes(cfg) + payload_words


def test_planned_coin_architecture_at_0_3_bpp():
    cfg, warnings = coin.plan_architecture(0.3, 512, 768, 3, 16)
    assert cfg.hidden_layers == 10 and 26 <= cfg.width <= 32 and not warnings
    assert SirenConfig(10, coin.width_for(10, 7479, 3)).num_params() <= 7479


def test_mixed_plan_pays_for_the_first_layer():
    for rate in (0.07, 0.3, 1.2):
        mixed, _ = coin.plan_architecture(rate, 512, 768, 3, 6)
        uniform, _ = coin.plan_architecture(rate, 512, 768, 3, 6, uniform=True)
        assert mixed.hidden_layers == uniform.hidden_layers and mixed.width <= uniform.width
    assert coin.plan_architecture(0.3, 512, 768, 3, 16) == coin.plan_architecture(0.3, 512, 768, 3, 16, uniform=True)


def test_plan_is_capped_to_the_decoders_limits():
    cfg, warnings = coin.plan_architecture(60.0, 1024, 1536, 3, 8)
    limits = DecodeLimits()
    assert cfg.macs_per_pixel() * 1024 * 1536 <= limits.max_work and cfg.num_params() <= limits.max_parameters
    assert warnings and "over the decoder's default limits" in warnings[0]
    with pytest.raises(DataError, match="too small"):
        coin.plan_architecture(0.001, 40, 56, 3, 8)


def test_fixed_architecture_and_bits(small_image):
    from inrcodec.encoder import encode

    res = encode(small_image, EncodeOptions(method="coin", bpp=None, method_options={"arch": (2, 6), "bits": 10}, steps=10))
    d = describe(res.data)
    assert (d["architecture"], d["parameters"]) == ("2x6", SirenConfig(2, 6).num_params())
    # bits means one thing: the depth most parameters use, the same in the result and in info.
    assert res.details["bits"] == d["bits"] == 10 and d["tensor_bits"] == [14, 14, 10, 10, 10, 10]
    res = encode(small_image, EncodeOptions(method="coin", bpp=None, method_options={"arch": (2, 6), "bits": 10,
                                                                      "uniform_bits": True}, steps=10))
    assert describe(res.data)["tensor_bits"] == [10] * 6


def test_fixed_bits_that_overshoot_fall_back_with_a_warning(small_image):
    from inrcodec.encoder import encode

    res = encode(small_image, EncodeOptions(method="coin", bpp=1.0, method_options={"bits": 16}, steps=20))
    assert res.bpp <= 1.0
    assert res.details["bits"] == 16 or any("exceed" in w for w in res.warnings)


@pytest.mark.parametrize("options, message", [
    ({"bits": 17}, "--bits"), ({"arch": (0, 4)}, "--arch"), ({"arch": (2, 5000)}, "--arch"), ({"colour": 1}, "no option"),
])
def test_bad_options_are_option_errors(options, message):
    with pytest.raises(OptionError, match=message):
        coin.check_options(EncodeOptions(method_options=options))


def test_bench_names():
    assert coin.bench_options("coin", 0.3) == {"bpp": 0.3}
    assert coin.bench_options("coin8", 0.3) == {"bpp": 0.3, "bits": 8, "uniform_bits": False}
    assert coin.bench_options("coin8u", 0.3) == {"bpp": 0.3, "bits": 8, "uniform_bits": True}
    assert coin.bench_options("coin-paper", 0.3)["arch"] == (10, 28)
    for other in ("coin17", "coinu", "coin8x", "qat"):
        assert coin.bench_options(other, 0.3) is None
    with pytest.raises(OptionError, match="COIN's rates"):
        coin.bench_options("coin-paper", 0.5)


def test_a_fit_stuck_in_the_flat_basin_is_retried_slower(small_image):
    """lr 0.1 puts this 3x16 fit on a flat image's PSNR; the retry at a quarter of it leaves the
    basin (how far in 600 steps depends on the CPU: over 29.7 dB where this was written, 23.8 on
    the machine of 2026-12-02)."""
    from inrcodec.encoder import encode

    res = encode(small_image, EncodeOptions(method="coin", bpp=None, steps=600, method_options={
        "arch": (3, 16), "bits": 16, "lr": 0.1, "compile": False}))
    assert res.details["lr"] == 0.025 and res.psnr > coin._flat_psnr(small_image) + 3
    assert "stalled" in res.warnings[0]


def test_a_late_collapse_ships_the_snapshot_from_before_it(small_image):
    """lr 0.05: 23.3 dB at step 60, 20.4 dB at the end where this was written, and the early
    snapshot is written with a warning; on the machine of 2026-12-02 the same fit stalls instead
    and is retried (the test above covers that path)."""
    from inrcodec.encoder import encode

    res = encode(small_image, EncodeOptions(method="coin", bpp=None, steps=600, method_options={
        "arch": (3, 16), "bits": 16, "lr": 0.05, "compile": False}))
    fell = [w for w in res.warnings if "wrote the step" in w]
    if res.details["lr"] == 0.05:  # not retried: the collapse path
        assert res.best_step < 600 and fell
    assert all(f"step {res.best_step} snapshot" in w for w in fell)
    assert res.psnr > coin._flat_psnr(small_image) + 2


def test_fourier_fields_are_an_optional_tail_of_the_section():
    from inrcodec.bitstream import BitstreamError, Stream

    def params(section: bytes) -> dict:
        return coin.read_section(Stream(1, 3, 8, 8, section, [], b""))

    plain, fourier = SirenConfig(3, 9), SirenConfig(4, 9, frequencies=16)
    assert len(coin.pack_section(plain)) == 4 and params(coin.pack_section(plain))["frequencies"] == 0
    back = coin.siren_config(params(coin.pack_section(fourier)), 3)
    assert back == fourier and coin.header_bytes(fourier) == coin.header_bytes(SirenConfig(4, 9)) + 3
    good = coin.pack_section(fourier)
    for bad in (good[:-1], good + b"\0", good[:4] + bytes([0]) + good[5:], good[:5] + b"\xc0\x7f",  # NaN
                good[:5] + b"\x00\x3f"):  # a ratio of 0.5
        with pytest.raises(BitstreamError):
            params(bad)


def test_fourier_plan_has_four_layers_and_uses_the_budget():
    cfg, _ = coin.plan_architecture(0.3, 512, 768, 3, 8, frequencies=16, bits_per_weight=7.0)
    assert (cfg.hidden_layers, cfg.frequencies) == (coin.FOURIER_LAYERS, 16)
    bits = 8 * coin.header_bytes(cfg) + 7.0 * cfg.num_params()
    assert 0.95 * 0.3 * 512 * 768 < bits <= 0.3 * 512 * 768
    assert coin.tensor_bits(cfg, 8) == [8] * 10  # no 14-bit first layer: it reads features


def test_fourier_coin_round_trip(small_image):
    res = coin.encode(small_image, EncodeOptions(method="coin", bpp=None, steps=40, method_options={"arch": (2, 6), "bits": 10,
                                                                                     "fourier": 2}))
    opened, tensors = decode_parameters(res.data)
    assert [t.shape for t in tensors][0] == (6, 10) and describe(res.data)["fourier_frequencies"] == 2
