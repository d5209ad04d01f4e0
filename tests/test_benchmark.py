"""The bench end to end on a folder of small real images: reports, resume, failures skipped."""
from __future__ import annotations

import json

import pytest
from PIL import Image

from inrcodec.benchmark import BenchOptions, run
from inrcodec.errors import OptionError
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
    with pytest.raises(OptionError, match="unknown codec 'bogus'"):
        run(BenchOptions(images=images, out=out, codecs=["jpeg", "bogus"], rates=[0.5]))
    opts = BenchOptions(images=images, out=out, codecs=["jpeg", "jpeg2000", "webp"], rates=[0.5, 1.0])
    records, problems = run(opts)
    assert not problems
    assert {r["codec"] for r in records} == {"jpeg-444", "jpeg-420", "jpeg2000", "webp"}
    for r in records:
        if r["setting"].startswith("target=") and r.get("bpp") is not None:
            assert r["bpp"] <= r["target"]
    written = write_reports(out, records, [0.5, 1.0], "Command: test", str(folder))
    for name in ("summary.md", "summary.json", "per_image.csv", "rd.png", "rd.svg", "jpeg2000.json"):
        assert out / name in written and (out / name).exists(), name
    assert all(p.exists() for p in written)
    summary = json.loads((out / "summary.json").read_text())
    schema = json.loads((out / "jpeg2000.json").read_text())
    assert set(schema) == {"name", "description", "results"}
    assert len(schema["results"]["bpp"]) == len(schema["results"]["psnr-rgb"]) > 3
    assert "jpeg" in summary["variant_choice"]
    assert any(row["curve"] == "jpeg2000" and row["bd_rate_vs_jpeg2000"] == pytest.approx(0) for row in summary["bd"])
    md = (out / "summary.md").read_text()
    assert "published" in md and "mean over imgs, 2 images (a, grey)" in md and "not measured on the same images" in md
    bpg = next(row for row in summary["bd"] if row["curve"] == "webp")
    assert bpg["same_images"] == {"jpeg2000": True, "BPG 4:4:4": False} and "% †" in md

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


def test_our_method_in_the_bench_keeps_its_stream(folder, tmp_path):
    out = tmp_path / "o"
    opts = BenchOptions(images=[folder / "a.png"], out=out, codecs=[], methods=["coin"], rates=[2.0], steps=30)
    records, problems = run(opts)
    assert not problems
    (rec,) = records
    assert rec["kind"] == "ours" and rec["bpp"] <= 2.0 and rec["codec"] == "coin-steps30"
    assert (out / rec["stream"]).stat().st_size == rec["bytes"] and rec["ms_ssim"] is not None
    with pytest.raises(OptionError, match="COIN's rates"):
        run(BenchOptions(images=[folder / "a.png"], out=out, codecs=[], methods=["coin-paper"], rates=[0.5]))
    with pytest.raises(OptionError, match="unknown method 'nope'"):
        run(BenchOptions(images=[folder / "a.png"], out=out, codecs=[], methods=["nope"], rates=[0.5]))


def test_outliers_compare_ours_with_jpeg2000_image_by_image(folder, tmp_path):
    from inrcodec.report import outliers

    opts = BenchOptions(images=sorted(folder.iterdir()), out=tmp_path / "o", codecs=["jpeg2000"], methods=["coin"],
                        rates=[2.0], steps=20)
    records, problems = run(opts)
    assert not problems
    (row,) = outliers(records)
    psnr = {(r["codec"], r["image"]): r["psnr"] for r in records if r["setting"] == "target=2.0"}
    assert row["curve"] == "coin-steps20" and row["target"] == 2.0 and row["images"] == 2
    assert [w["image"] for w in row["worst"]] == sorted(["a", "grey"], key=lambda i: psnr[("coin-steps20", i)]
                                                        - psnr[("jpeg2000", i)])
    assert row["mean_delta_db"] == pytest.approx(sum(psnr[("coin-steps20", i)] - psnr[("jpeg2000", i)]
                                                     for i in ("a", "grey")) / 2)


def test_records_without_ms_ssim_get_it_on_the_next_run(folder, tmp_path):
    out = tmp_path / "o"
    opts = BenchOptions(images=[folder / "a.png"], out=out, codecs=["webp"], rates=[0.5])
    first, _ = run(opts)
    cache = next((out / "cache").rglob("*.jsonl"))
    stripped = [json.loads(line) | {"ms_ssim": None} for line in cache.read_text().splitlines()]
    cache.write_text("".join(json.dumps(r) + "\n" for r in stripped))
    again, _ = run(opts)
    by_setting = {r["setting"]: r["ms_ssim"] for r in first}
    assert all(r["ms_ssim"] == pytest.approx(by_setting[r["setting"]]) for r in again)


def _comparable(records: list[dict]) -> list[dict]:
    """Records without what differs between two runs of the same work (times, provenance)."""
    drop = {"encode_s", "decode_s", "command", "machine", "date"}
    return sorted(({k: v for k, v in r.items() if k not in drop} for r in records),
                  key=lambda r: (r["codec"], r["image"], r["setting"]))


def test_ray_executor_gives_the_local_executors_records(folder, tmp_path):
    """A local Ray instance runs the units; the driver writes the same cache, streams included."""
    pytest.importorskip("ray")
    images = sorted(folder.iterdir())
    common = dict(images=images, codecs=["jpeg", "webp"], methods=["coin"], rates=[2.0], steps=20, jobs=2)
    local, problems = run(BenchOptions(out=tmp_path / "local", **common))
    assert not problems
    on_ray, problems = run(BenchOptions(out=tmp_path / "ray", executor="ray", **common))
    assert not problems
    classic = [r for r in local if r["kind"] == "classic"]
    assert _comparable(classic) == _comparable([r for r in on_ray if r["kind"] == "classic"])
    ours = [r for r in on_ray if r["kind"] == "ours"]
    assert len(ours) == 2 and all((tmp_path / "ray" / r["stream"]).stat().st_size == r["bytes"] for r in ours)
    again, _ = run(BenchOptions(out=tmp_path / "ray", executor="ray", **common))  # resumes: nothing re-run
    assert _comparable(again) == _comparable(on_ray)


def test_unknown_executor_is_a_usage_error(folder, tmp_path):
    with pytest.raises(OptionError, match="executor must be local or ray"):
        run(BenchOptions(images=[folder / "a.png"], out=tmp_path / "o", codecs=["webp"], executor="slurm"))
