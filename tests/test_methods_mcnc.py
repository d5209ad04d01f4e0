"""The MCNC image method: its stream round-trips what the encoder scored, options, limits, bench names."""
from __future__ import annotations

import numpy as np
import pytest

from inrcodec.bitstream import LimitError, Stream, TensorRecord, pack
from inrcodec.decoder import decode, decode_parameters, describe
from inrcodec.encoder import encode
from inrcodec.errors import OptionError
from inrcodec.mcnc import Manifold
from inrcodec.methods import EncodeOptions, mcnc
from inrcodec.methods.mcnc_encode import pack_section
from inrcodec.metrics import psnr
from inrcodec.siren import SirenConfig


def test_encode_decode_gives_the_psnr_the_encoder_reports(small_image):
    res = encode(small_image, EncodeOptions(bpp=2.0, method="mcnc", steps=60, method_options={"k": 4}))
    opened, tensors = decode_parameters(res.data)
    d = describe(res.data)
    assert opened.method.NAME == "mcnc" and d["k"] == 4 and res.bpp <= 2.0
    n = d["coded_numbers"] // 5
    assert [t.shape for t in tensors] == [(n, 1, 4), (n, 1)] and d["tensor_bits"][1] == 16
    assert psnr(decode(res.data), small_image) == pytest.approx(res.psnr, abs=1e-9)
    assert d["parameters"] > 3 * d["coded_numbers"]  # the network is larger than what is coded


@pytest.mark.parametrize("options", [{"bits": 1}, {"k": 0}, {"chunk": 0}, {"bound": -1.0}, {"depth": 0}, {"colour": 1}])
def test_bad_options(options):
    with pytest.raises(OptionError):
        mcnc.check_options(EncodeOptions(method="mcnc", method_options=options))


def test_a_huge_generator_is_refused_before_anything_is_built():
    cfg = SirenConfig(2, 8)
    spec = Manifold(seed=1, d=1 << 24, k=4, hidden=4096, layers=8)
    records = [TensorRecord(8, 0, 0, 0x3C00, 0x3F80)] * 2
    bomb = pack(Stream(mcnc.ID, 3, 64, 64, pack_section(cfg, spec, 0), records, b""))
    with pytest.raises(LimitError):
        decode(bomb)
    assert not describe(bomb)["within_limits"]


def test_bench_names():
    assert mcnc.bench_options("mcnc", 0.3) == {"bpp": 0.3}
    assert mcnc.bench_options("mcnc-k4", 0.3) == {"bpp": 0.3, "k": 4}
    assert mcnc.bench_options("mcnc-kx", 0.3) is None and mcnc.bench_options("coin", 0.3) is None


def test_theta_is_the_seeded_init_plus_the_manifold():
    import torch

    params = mcnc.read_section(Stream(mcnc.ID, 3, 4, 4, pack_section(SirenConfig(1, 4), Manifold(5, 7, 2), 1), [], b""))
    zero = mcnc.expander(params, 3)(torch.zeros(4, 1, 2), torch.zeros(4, 1))
    from inrcodec.mcnc import seeded_init

    init = np.concatenate([t.reshape(-1) for t in seeded_init(SirenConfig(1, 4).layer_shapes(), 5, 30.0,
                                                               mcnc.THETA0_START)])
    assert np.array_equal(zero.numpy(), init)


def test_plan_fills_the_budget_with_a_siren_of_the_asked_depth():
    import math

    from inrcodec.methods.mcnc_encode import plan

    for depth in (3, 5):
        cfg, d = plan(0.3, 512, 768, 3, 8, 8, 1, 4.0, None, depth)
        chunks = math.ceil(cfg.num_params() / d)
        assert cfg.hidden_layers == depth
        assert 0.9 * 0.3 * 512 * 768 < chunks * (8 * 8 + 16) <= 0.3 * 512 * 768  # alpha at 8 bits, beta at 16
