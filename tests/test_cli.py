"""The command line as users and scripts see it: exit codes, one-line errors, no partial files."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

DATA = Path(__file__).resolve().parent / "data"


def run(*args: str, stdin: bytes | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "inrcodec.cli", *args], input=stdin, capture_output=True,
                          cwd=cwd, timeout=300)


@pytest.fixture()
def png(tmp_path, small_image) -> Path:
    p = tmp_path / "img.png"
    Image.fromarray(small_image).save(p)
    return p


def _one_error_line(proc: subprocess.CompletedProcess) -> str:
    lines = proc.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("inrcodec: error: "), proc.stderr
    return lines[0]


def test_encode_decode_info_round_trip(png, tmp_path):
    enc = run("encode", str(png), "-b", "4", "--steps", "100", "--json")
    assert enc.returncode == 0, enc.stderr
    summary = json.loads(enc.stdout)
    inr = tmp_path / "img.inr"  # default name: input with .inr
    assert summary["output"] == str(inr) and inr.exists()
    assert summary["bpp"] == inr.stat().st_size * 8 / (40 * 56) <= 4
    info = run("info", str(inr), "--json")
    assert json.loads(info.stdout)["bytes"] == inr.stat().st_size
    assert run("info", str(inr)).stdout.decode().count("\n") >= 10
    dec = run("decode", str(inr), "-o", str(tmp_path / "out.png"))
    assert dec.returncode == 0, dec.stderr
    out = np.asarray(Image.open(tmp_path / "out.png"))
    assert out.shape == (40, 56, 3)


def test_stdin_and_stdout(png, tmp_path):
    enc = run("encode", "-", "-o", "-", "-b", "4", "--steps", "20", "-q", stdin=png.read_bytes())
    assert enc.returncode == 0 and enc.stdout[:3] == b"INR" and enc.stderr == b""
    dec = run("decode", "-", "-o", "-", stdin=enc.stdout)
    assert dec.returncode == 0 and dec.stdout[:4] == b"\x89PNG"


def test_no_overwrite_without_force(png, tmp_path):
    target = tmp_path / "x.inr"
    target.write_bytes(b"precious")
    proc = run("encode", str(png), "-o", str(target), "--steps", "5", "-b", "4")
    assert proc.returncode == 1 and "--force" in _one_error_line(proc)
    assert target.read_bytes() == b"precious"
    assert run("encode", str(png), "-o", str(target), "--steps", "5", "-b", "4", "--force", "-q").returncode == 0
    assert target.read_bytes()[:3] == b"INR"


def _bad_streams(tmp_path: Path, png: Path) -> dict[str, bytes]:
    good = (DATA / "golden.inr").read_bytes()
    flipped = bytearray(good)
    flipped[len(good) // 2] ^= 0x10
    return {
        "empty": b"",
        "random": bytes(np.random.default_rng(0).integers(0, 256, 300, dtype=np.uint8)),
        "png_renamed": png.read_bytes(),
        "truncated": good[:-7],
        "bit_flip": bytes(flipped),
        "unknown_version": good[:3] + b"\x09" + good[4:],
    }


@pytest.mark.parametrize("kind", ["empty", "random", "png_renamed", "truncated", "bit_flip", "unknown_version"])
def test_bad_streams_exit_1_with_one_line_and_no_output(kind, tmp_path, png):
    bad = tmp_path / f"{kind}.inr"
    bad.write_bytes(_bad_streams(tmp_path, png)[kind])
    out = tmp_path / f"{kind}.png"
    for cmd in (["decode", str(bad), "-o", str(out)], ["info", str(bad)]):
        proc = run(*cmd)
        assert proc.returncode == 1
        _one_error_line(proc)
        assert proc.stdout == b""
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".png") == ["img.png"]


def test_every_truncation_is_a_data_error():
    from inrcodec.bitstream import BitstreamError
    from inrcodec.decoder import decode

    good = (DATA / "golden.inr").read_bytes()
    for n in range(len(good)):
        with pytest.raises(BitstreamError):
            decode(good[:n])


def test_bad_images_exit_1(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "text.png").write_bytes(b"hello")
    for name in ("empty.png", "text.png", "missing.png"):
        proc = run("encode", str(tmp_path / name), "--steps", "5")
        assert proc.returncode == 1
        _one_error_line(proc)
    assert not list(tmp_path.glob("*.inr"))


@pytest.mark.parametrize("args", [["--bits", "40"], ["--effort", "slow"], ["--arch", "3"], ["-b", "0"],
                                  ["--method", "jpeg"], ["--bogus"], ["--device", "tpu"]])
def test_usage_errors_exit_2(png, args):
    proc = run("encode", str(png), *args)
    assert proc.returncode == 2
    _one_error_line(proc)
    assert not png.with_suffix(".inr").exists()


def test_limits_can_be_raised(tmp_path):
    golden = DATA / "golden.inr"
    proc = run("decode", str(golden), "-o", str(tmp_path / "a.png"), "--max-pixels", "100")
    assert proc.returncode == 1 and "limit" in _one_error_line(proc)
    assert run("decode", str(golden), "-o", str(tmp_path / "b.png"), "--max-pixels", "384").returncode == 0


def test_help_exits_0():
    assert run("--help").returncode == 0
    assert run("encode", "--help").returncode == 0


def test_bench_on_a_folder(tmp_path, small_image):
    folder = tmp_path / "imgs"
    folder.mkdir()
    Image.fromarray(small_image).save(folder / "x.png")
    out = tmp_path / "res"
    proc = run("bench", str(folder), "--codecs", "webp,jpeg2000", "--rates", "1.0", "--out", str(out), "-j", "1")
    assert proc.returncode == 0, proc.stderr
    assert "[2/2]" in proc.stderr.decode()
    assert (out / "summary.md").read_text().startswith("Command: `inrcodec bench")
    (out / "summary.md").unlink()
    again = run("bench", str(folder), "--out", str(out), "--report-only", "--rates", "1.0")
    assert again.returncode == 0 and "Reports rebuilt" in (out / "summary.md").read_text()


@pytest.mark.parametrize("args, code, needle", [
    (["bench", "no-such-thing"], 2, "kodak' or a folder"),
    (["bench", "kodak", "--rates", "abc"], 2, "--rates"),
    (["bench", "kodak", "--images", "kodim99"], 1, "kodim99.png is not a Kodak image"),
])
def test_bench_errors(tmp_path, args, code, needle):
    proc = run(*args, "--data-dir", str(tmp_path), cwd=tmp_path)
    assert proc.returncode == code
    assert needle in _one_error_line(proc)


def test_bench_names_the_missing_kodak_file(tmp_path):
    proc = run("bench", "kodak", "--data-dir", str(tmp_path), "--images", "kodim03", cwd=tmp_path)
    assert proc.returncode == 1 and "kodim03.png" in _one_error_line(proc)
