"""The command line as users and scripts see it: exit codes, one-line errors, batches, no partial files.

Most tests call ``main(argv)`` in-process (no torch import per test); a few run the real
executable where only a process shows the behaviour (stdin/stdout bytes, signals).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from inrcodec.cli import main

DATA = Path(__file__).resolve().parent / "data"
GOLDEN = DATA / "golden_v2_coin_rgb.inr"


def cli(capsys, *args: str) -> tuple[int, str, str]:
    rc = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return rc, out, err


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("inrcodec: error: "), err
    assert " object at 0x" not in lines[0], lines[0]
    return lines[0]


@pytest.fixture()
def png(tmp_path, small_image) -> Path:
    p = tmp_path / "img.png"
    Image.fromarray(small_image).save(p)
    return p


def test_encode_decode_info_round_trip(capsys, png, tmp_path):
    rc, out, err = cli(capsys, "encode", png, "-b", "4", "--method", "coin", "--steps", "100", "--json")
    assert rc == 0, err
    summary = json.loads(out)
    inr = tmp_path / "img.inr"  # default name: input with .inr
    assert summary["output"] == str(inr) and inr.exists() and summary["steps"] == 100
    assert summary["bpp"] == inr.stat().st_size * 8 / (40 * 56) <= 4
    rc, out, _ = cli(capsys, "info", inr, "--json")
    info = json.loads(out)
    assert info["bytes"] == inr.stat().st_size and info["bits"] == summary["bits"]
    assert info["tensor_bits"] == summary["tensor_bits"]
    rc, out, _ = cli(capsys, "info", inr)
    assert rc == 0 and "architecture" in out
    rc, _, err = cli(capsys, "decode", inr)
    assert rc == 0, err
    decoded = tmp_path / "img.inr.png"  # never the original's name
    assert np.asarray(Image.open(decoded)).shape == (40, 56, 3)
    assert png.read_bytes() != decoded.read_bytes()


def test_the_default_method_is_the_grid_or_coin_where_the_grid_cannot_fit(capsys, png, tmp_path):
    # the grid's networks take about 2.7 bpp of a 40x56 image: room for latents at 4 bpp, none at 2
    for budget, method in (("4", "grid"), ("2", "coin")):
        out = tmp_path / f"{budget}.inr"
        rc, text, err = cli(capsys, "encode", png, "-b", budget, "--steps", "10", "-o", out, "--json")
        assert rc == 0, err
        assert json.loads(text)["method"] == method
        rc, text, _ = cli(capsys, "info", out, "--json")
        assert rc == 0 and json.loads(text)["method"] == method
    rc, _, err = cli(capsys, "encode", png, "--bits", "8", "--steps", "5")
    assert rc == 2 and "give --method" in one_error_line(err)


def test_grid_method_with_a_fixed_lambda_round_trips(capsys, png, tmp_path):
    rc, out, err = cli(capsys, "encode", png, "--method", "grid", "--lambda", "0.003", "--steps", "30", "--json")
    assert rc == 0, err
    summary = json.loads(out)
    assert summary["method"] == "grid" and summary["lambda"] == 0.003
    rc, out, _ = cli(capsys, "info", tmp_path / "img.inr", "--json")
    assert rc == 0 and json.loads(out)["grids"][0] == [20, 28]
    rc, _, err = cli(capsys, "decode", tmp_path / "img.inr")
    assert rc == 0, err


def test_several_inputs_into_a_folder_with_json_lines_and_a_summary(capsys, tmp_path, small_image):
    for name in ("a", "b"):
        Image.fromarray(small_image[:, ::-1] if name == "b" else small_image).save(tmp_path / f"{name}.png")
    (tmp_path / "bad.png").write_bytes(b"not an image")
    rc, out, err = cli(capsys, "encode", tmp_path / "a.png", tmp_path / "bad.png", tmp_path / "b.png", "-b", "3",
                       "--steps", "20", "-o", f"{tmp_path / 'out'}/", "--json")
    assert rc == 1  # one input failed; the others were still encoded
    lines = [json.loads(line) for line in out.splitlines()]
    assert [("error" in line) for line in lines] == [False, True, False]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.inr", "b.inr"]
    assert "bad.png: not an image format" in err and "encoded 2 of 3 inputs; 1 failed" in err
    rc, out, err = cli(capsys, "decode", tmp_path / "out" / "a.inr", tmp_path / "out" / "b.inr", "-o",
                       f"{tmp_path / 'dec'}/", "-q")
    assert rc == 0 and sorted(p.name for p in (tmp_path / "dec").iterdir()) == ["a.png", "b.png"]


@pytest.mark.parametrize("args, needle", [
    (["-o", "one.inr"], "must be a folder"),
    (["-o", "-"], "several inputs"),
])
def test_several_inputs_need_a_folder(capsys, png, tmp_path, args, needle):
    rc, _, err = cli(capsys, "encode", png, png.with_name("other.png"), *args)
    assert rc == 2 and needle in one_error_line(err)


def test_no_overwrite_without_force_checked_before_any_work(capsys, png, tmp_path):
    target = tmp_path / "x.inr"
    target.write_bytes(b"precious")
    rc, _, err = cli(capsys, "encode", png, "-o", target, "--effort", "normal", "-b", "4")
    # One line and no progress: refused before training, not after a 5-minute fit.
    assert rc == 1 and f"{target} exists; use --force" in one_error_line(err)
    assert target.read_bytes() == b"precious"
    rc, _, _ = cli(capsys, "encode", png, "-o", target, "--steps", "5", "-b", "4", "--force", "-q")
    assert rc == 0 and target.read_bytes()[:3] == b"INR"


@pytest.mark.parametrize("where, needle", [("missing/x.inr", "does not exist"), ("out", "is a directory")])
def test_bad_output_locations_are_named_before_any_work(capsys, png, tmp_path, where, needle):
    (tmp_path / "out" / "img.inr").mkdir(parents=True)  # -o out puts img.inr in out/, where a folder has that name
    rc, _, err = cli(capsys, "encode", png, "-o", tmp_path / where, "--effort", "normal", "-b", "4")
    assert rc == 1 and needle in one_error_line(err) and ".tmp" not in err


def test_outputs_get_the_mode_a_plain_write_gives(capsys, png, tmp_path):
    old = os.umask(0o022)
    try:
        assert cli(capsys, "encode", png, "-o", tmp_path / "a.inr", "--steps", "5", "-b", "4", "-q")[0] == 0
        assert (tmp_path / "a.inr").stat().st_mode & 0o777 == 0o644
        (tmp_path / "a.inr").chmod(0o664)
        assert cli(capsys, "encode", png, "-o", tmp_path / "a.inr", "--steps", "5", "-b", "4", "-q", "-f")[0] == 0
        assert (tmp_path / "a.inr").stat().st_mode & 0o777 == 0o664  # --force keeps the file's mode
    finally:
        os.umask(old)


def _bad_streams(png: Path) -> dict[str, bytes]:
    good = GOLDEN.read_bytes()
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
def test_bad_streams_exit_1_with_one_line_and_no_output(capsys, kind, tmp_path, png):
    bad = tmp_path / f"{kind}.inr"
    bad.write_bytes(_bad_streams(png)[kind])
    out = tmp_path / f"{kind}.png"
    for cmd in (["decode", bad, "-o", out], ["info", bad]):
        rc, stdout, err = cli(capsys, *cmd)
        assert rc == 1 and stdout == ""
        one_error_line(err)
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["img.png", f"{kind}.inr"])


def test_nan_steps_are_refused_and_info_prints_valid_json(capsys, tmp_path):
    good = bytearray(GOLDEN.read_bytes())
    record = 10 + 2 + 4 + 2  # first tensor record
    good[record + 4:record + 6] = (0x7FC0).to_bytes(2, "little")  # step = NaN
    import zlib
    bad = bytes(good[:-4]) + zlib.crc32(bytes(good[:-4])).to_bytes(4, "little")
    (tmp_path / "nan.inr").write_bytes(bad)
    rc, out, err = cli(capsys, "info", tmp_path / "nan.inr", "--json")
    assert rc == 1 and out == "" and "step is nan" in one_error_line(err)
    rc, out, _ = cli(capsys, "info", GOLDEN, "--json")
    json.loads(out)  # strict JSON: no NaN or Infinity


def test_bad_images_exit_1(capsys, tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "text.png").write_bytes(b"hello")
    for name in ("empty.png", "text.png", "missing.png"):
        rc, _, err = cli(capsys, "encode", tmp_path / name, "--steps", "5")
        assert rc == 1
        one_error_line(err)
    assert not list(tmp_path.glob("*.inr"))


@pytest.mark.parametrize("args", [
    ["--bits", "40"], ["--effort", "slow"], ["--arch", "3"], ["-b", "0"], ["-b", "inf"], ["-b", "nan"],
    ["-b", "1e9"], ["--seed", str(2 ** 64)], ["--method", "jpeg"], ["--bogus"], ["--device", "tpu"],
    ["--steps", "0"], ["--arch", "2x5000"],
])
def test_usage_errors_exit_2(capsys, png, args):
    rc, _, err = cli(capsys, "encode", png, *args)
    assert rc == 2
    one_error_line(err)
    assert not png.with_suffix(".inr").exists()


@pytest.mark.parametrize("device", ["tpu", "cuda:x"])
def test_decode_device_errors_exit_2(capsys, tmp_path, device):
    rc, _, err = cli(capsys, "decode", GOLDEN, "-o", tmp_path / "x.png", "--device", device)
    assert rc == 2 and "--device" in one_error_line(err)


def test_a_budget_too_small_for_the_image_is_a_data_error(capsys, png):
    rc, _, err = cli(capsys, "encode", png, "-b", "0.01", "--steps", "5")
    assert rc == 1 and "too small" in one_error_line(err)


def test_limits_can_be_raised(capsys, tmp_path):
    rc, _, err = cli(capsys, "decode", GOLDEN, "-o", tmp_path / "a.png", "--max-pixels", "100")
    assert rc == 1 and "limit" in one_error_line(err)
    rc, _, err = cli(capsys, "decode", GOLDEN, "-o", tmp_path / "b.png", "--max-work", "1000")
    assert rc == 1 and "--max-work" in one_error_line(err)
    assert cli(capsys, "decode", GOLDEN, "-o", tmp_path / "c.png", "--max-pixels", "384")[0] == 0


def test_encode_pixel_limit_is_checked_from_the_header(capsys, tmp_path):
    Image.new("RGB", (3000, 3000)).save(tmp_path / "big.png")
    rc, _, err = cli(capsys, "encode", tmp_path / "big.png", "--max-pixels", "1000000", "--steps", "1")
    assert rc == 1 and "exceeds the limit of 1000000 pixels" in one_error_line(err)


def test_help_exits_0(capsys):
    assert cli(capsys, "--help")[0] == 0
    assert cli(capsys, "encode", "--help")[0] == 0


def test_progress_never_guesses_a_total(capsys, png):
    rc, _, err = cli(capsys, "encode", png, "-b", "3", "--effort", "fast", "--time-limit", "2")
    assert rc == 0
    first = err.splitlines()[0]
    assert "step 1/?" in first and "eta ?" in first


def test_bench_lists_methods_and_refuses_unknown_names(capsys, tmp_path):
    rc, out, _ = cli(capsys, "bench", "--methods")
    assert rc == 0 and out.startswith("coin (id 1)") and "coin-paper" in out
    rc, out, _ = cli(capsys, "bench", "--methods", "list")
    assert rc == 0 and "coin<bits>u" in out
    for args, needle in ((["--codecs", "bogus"], "unknown codec 'bogus'"),
                         (["--codecs", "", "--methods", "nope"], "unknown method 'nope'"),
                         (["--codecs", ""], "nothing to run")):
        rc, _, err = cli(capsys, "bench", tmp_path, *args, "--out", tmp_path / "o")
        assert rc == 2 and needle in one_error_line(err)


def test_bench_on_a_folder(capsys, tmp_path, small_image):
    folder = tmp_path / "imgs"
    folder.mkdir()
    Image.fromarray(small_image).save(folder / "x.png")
    out = tmp_path / "res"
    rc, _, err = cli(capsys, "bench", folder, "--codecs", "webp,jpeg2000", "--rates", "1.0", "--out", out, "-j", "1")
    assert rc == 0, err
    assert "[2/2]" in err
    wrote = err.strip().splitlines()[-1]
    assert wrote.startswith("wrote ") and all(Path(p).exists() for p in wrote[6:].split(", "))
    assert (out / "summary.md").read_text().startswith("Command: `inrcodec bench")
    (out / "summary.md").unlink()
    rc, _, _ = cli(capsys, "bench", folder, "--out", out, "--report-only", "--rates", "1.0")
    assert rc == 0 and "Reports rebuilt" in (out / "summary.md").read_text()


@pytest.mark.parametrize("args, code, needle", [
    (["bench", "no-such-thing"], 2, "kodak, bsds500-test or a folder"),
    (["bench", "kodak", "--rates", "abc"], 2, "--rates"),
    (["bench", "kodak", "--images", "kodim99"], 1, "kodim99.png is not a Kodak image"),
])
def test_bench_errors(capsys, tmp_path, args, code, needle):
    rc, _, err = cli(capsys, *args, "--data-dir", tmp_path, "--out", tmp_path / "o")
    assert rc == code and needle in one_error_line(err)


def test_bench_names_the_missing_kodak_file(capsys, tmp_path):
    rc, _, err = cli(capsys, "bench", "kodak", "--data-dir", tmp_path, "--images", "kodim03", "--out", tmp_path / "o")
    assert rc == 1 and "kodim03.png" in one_error_line(err)


# --- a few real processes: bytes on stdin/stdout, signals ------------------------------------


def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "inrcodec.cli", *map(str, args)], input=stdin,
                          capture_output=True, timeout=300)


def test_stdin_and_stdout(png):
    enc = run("encode", "-", "-o", "-", "-b", "4", "--steps", "20", "-q", stdin=png.read_bytes())
    assert enc.returncode == 0 and enc.stdout[:3] == b"INR" and enc.stderr == b""
    dec = run("decode", "-", "-o", "-", stdin=enc.stdout)
    assert dec.returncode == 0 and dec.stdout[:4] == b"\x89PNG"


def test_sigterm_leaves_no_temp_file(png, tmp_path):
    """SIGTERM at any moment, the final write included, leaves no .tmp file and no partial output."""
    for delay in (0.5, 2.0, 3.5):
        out = tmp_path / f"x{delay}.inr"
        proc = subprocess.Popen([sys.executable, "-m", "inrcodec.cli", "encode", str(png), "-o", str(out), "-b", "4",
                                 "--steps", "400", "-q"], stderr=subprocess.PIPE)
        time.sleep(delay)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode in (0, -signal.SIGTERM), err
        assert not list(tmp_path.glob(".*.tmp"))
        assert not out.exists() or out.read_bytes()[:3] == b"INR"  # all of it or nothing


def test_qat_from_the_command_line(capsys, png, tmp_path):
    rc, out, err = cli(capsys, "encode", png, "--method", "qat", "--bits", "3", "--no-quantize-biases", "-b", "4",
                       "--steps", "40", "--json", "-o", tmp_path / "q.inr")
    assert rc == 0, err
    summary = json.loads(out)
    assert summary["method"] == "qat" and summary["tensor_bits"][2:4] == [3, 16]
    rc, _, err = cli(capsys, "encode", png, "--method", "qat", "--uniform-bits", "--steps", "5")
    assert rc == 2 and "qat takes no option uniform_bits" in one_error_line(err)


def test_json_lines_are_strict_json_with_null_for_an_infinite_psnr():
    from inrcodec.cli_common import json_line

    line = json_line({"psnr": float("inf"), "details": {"x": [1.0, float("nan")]}, "bytes": 3})
    assert line == '{"psnr": null, "details": {"x": [1.0, null]}, "bytes": 3}\n'
