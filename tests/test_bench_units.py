"""Bench units: pure work on bytes (no disk), bench names resolved through the method registry."""
from __future__ import annotations

import io

import torch
from PIL import Image

from inrcodec.bench_units import Unit, our_options, resolve_method, run_safely


def _png(array) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def test_bench_names_resolve_through_the_method_registry():
    o = our_options("coin8", 0.3, "fast", 10)
    assert (o.method, o.bpp, o.method_options) == ("coin", 0.3, {"bits": 8, "uniform_bits": False})
    assert our_options("coin8u", 0.3, "fast", 10).method_options["uniform_bits"] is True
    assert resolve_method("coin17", 0.3) is None and resolve_method("jpeg", 0.3) is None


def test_a_unit_works_on_bytes_and_writes_nothing(kodim23, tmp_path):
    """A classic unit and one of ours: records and streams come back, the output folder stays
    untouched (only the driver writes), and cached records are returned as they are."""
    out = tmp_path / "out"
    data = _png(kodim23[:64, :96])
    classic = Unit("jpeg2000", tmp_path / "a.png", [0.8], out, image_bytes=data)
    outcome, error = run_safely(classic)
    assert error is None and outcome is not None
    target = [r for r in outcome.records if r["setting"] == "target=0.8"]
    assert len(target) == 1 and 0 < target[0]["bpp"] <= 0.8 and target[0]["psnr"] > 20
    assert outcome.new == outcome.records and not outcome.streams
    ours = Unit("coin", tmp_path / "a.png", [2.0], out, method_tag="steps20", steps=20, image_bytes=data)
    outcome, error = run_safely(ours)
    assert error is None
    (rec,) = outcome.records
    assert rec["codec"] == "coin-steps20" and rec["bpp"] <= 2.0
    assert set(outcome.streams) == {rec["stream"]} and len(outcome.streams[rec["stream"]]) == rec["bytes"]
    assert not out.exists()
    again, _ = run_safely(Unit("coin", tmp_path / "a.png", [2.0], out, method_tag="steps20", steps=20,
                               image_bytes=data, cached={rec["setting"]: rec}))
    assert again.records == [rec] and not again.new and not again.streams


def test_a_classic_unit_leaves_our_methods_their_threads(kodim23, tmp_path):
    """Units share a process with -j 1: a classic codec's one metrics thread must not carry over
    to the training of ours after it (it did, and the grid then trained on one core of two)."""
    data = _png(kodim23[:64, :96])
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        assert run_safely(Unit("jpeg2000", tmp_path / "a.png", [0.8], tmp_path, image_bytes=data))[1] is None
        assert torch.get_num_threads() == 2
        ours, _ = run_safely(Unit("coin", tmp_path / "a.png", [2.0], tmp_path, method_tag="steps5", steps=5,
                                  image_bytes=data))
        assert ours.records[0]["threads"] == 2
        one, _ = run_safely(Unit("coin", tmp_path / "a.png", [2.0], tmp_path, method_tag="steps5", steps=5,
                                 threads=1, image_bytes=data))
        assert one.records[0]["threads"] == 1 and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_a_failing_unit_gives_one_error_line(tmp_path):
    outcome, error = run_safely(Unit("jpeg2000", tmp_path / "bad.png", [0.5], tmp_path, image_bytes=b"not a png"))
    assert outcome is None and error and "\n" not in error
