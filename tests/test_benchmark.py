"""The bench end to end on a folder of small real images: reports, resume, failures skipped."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from inrcodec.benchmark import BenchOptions, run
from inrcodec.report import write_reports


@pytest.fixture()
def folder(tmp_path, kodim23):
    d = tmp_path / "imgs"
    d.mkdir()
    Image.fromarray(kodim23[100:267, 200:381]).save(d / "a.png")  # 181x167: odd sizes
    Image.fromarray(kodim23[300:470, 400:570, 1]).save(d / "grey.png")  # greyscale
    return d


def test_bench_writes_reports_and_resumes(folder, tmp_path):
    out = tmp_path / "out"
    images = sorted(folder.iterdir())
    opts = BenchOptions(images=images, out=out, codecs=["jpeg", "jpeg2000", "webp", "bogus"], rates=[0.5, 1.0])
    records, problems = run(opts)
    assert "bogus" in problems
    assert {r["codec"] for r in records} == {"jpeg-444", "jpeg-420", "jpeg2000", "webp"}
    for r in records:
        if r["setting"].startswith("target=") and r.get("bpp") is not None:
            assert r["bpp"] <= r["target"]
    summary = write_reports(out, records, len(images), [0.5, 1.0], "Command: test")
    for name in ("summary.md", "summary.json", "per_image.csv", "rd.png", "rd.svg", "jpeg2000.json"):
        assert (out / name).exists(), name
    schema = json.loads((out / "jpeg2000.json").read_text())
    assert set(schema) == {"name", "description", "results"}
    assert len(schema["results"]["bpp"]) == len(schema["results"]["psnr-rgb"]) > 3
    assert "jpeg" in summary["variant_choice"]
    assert any(row["curve"] == "jpeg2000" and row["bd_rate_vs_jpeg2000"] == pytest.approx(0) for row in summary["bd"])
    assert "published" in (out / "summary.md").read_text()

    before = {p: p.read_text() for p in (out / "cache").rglob("*.jsonl")}
    records2, _ = run(opts)
    assert len(records2) == len(records)
    assert {p: p.read_text() for p in (out / "cache").rglob("*.jsonl")} == before  # nothing re-run


def test_a_failing_image_is_reported_not_fatal(folder, tmp_path):
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    records, problems = run(BenchOptions(images=sorted(folder.iterdir()), out=tmp_path / "o", codecs=["webp"],
                                         rates=[0.5]))
    assert any("broken.png" in k for k in problems)
    assert {r["image"] for r in records} == {"a", "grey"}


def test_torn_cache_line_is_ignored(folder, tmp_path):
    out = tmp_path / "o"
    opts = BenchOptions(images=[folder / "a.png"], out=out, codecs=["webp"], rates=[0.5])
    first, _ = run(opts)
    cache = next((out / "cache").rglob("*.jsonl"))
    cache.write_text(cache.read_text() + '{"setting": "q=5", "trunc')
    again, _ = run(opts)
    assert len(again) == len(first)


def test_our_method_in_the_bench(folder, tmp_path):
    opts = BenchOptions(images=[folder / "a.png"], out=tmp_path / "o", codecs=[], methods=["coin"], rates=[2.0],
                        steps=30)
    records, problems = run(opts)
    assert not problems
    (rec,) = records
    assert rec["kind"] == "ours" and rec["bpp"] <= 2.0 and rec["codec"] == "coin-steps30"
    bad, problems = run(BenchOptions(images=[folder / "a.png"], out=tmp_path / "o", codecs=[], methods=["coin-paper", "nope"],
                                     rates=[0.5], steps=5))
    assert "nope" in problems and bad[0]["error"].startswith("coin-paper is defined at COIN")


def test_bit_depth_methods_name_mixed_and_uniform_precision():
    from inrcodec.benchmark import is_our_method, our_options

    assert (our_options("coin8", 0.3, "fast", 10).bits, our_options("coin8", 0.3, "fast", 10).uniform_bits) == (8, False)
    assert (our_options("coin8u", 0.3, "fast", 10).bits, our_options("coin8u", 0.3, "fast", 10).uniform_bits) == (8, True)
    assert not is_our_method("coin17") and not is_our_method("coinu") and not is_our_method("coin8x")
