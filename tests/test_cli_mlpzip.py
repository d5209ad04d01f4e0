"""``inrcodec mlpzip`` as users and scripts see it: the whole chain, JSON, exit codes, one-line errors."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parent / "data"
sys.path.insert(0, str(DATA.parent))
from test_cli import cli, one_error_line  # noqa: E402


def test_train_compress_eval_decompress_info(tmp_path, capsys, mnist_dir):
    model, packed, back = tmp_path / "m.pt", tmp_path / "m.mlpz", tmp_path / "back.pt"
    rc, out, err = cli(capsys, "mlpzip", "train", "--depth", 1, "--width", 16, "--epochs", 0.05, "-o", model,
                       "--data-dir", mnist_dir, "--json")
    trained = json.loads(out)
    assert rc == 0 and "test accuracy" in err and trained["parameters"] == 784 * 16 + 16 + 16 * 10 + 10
    rc, out, err = cli(capsys, "mlpzip", "compress", model, "-o", packed, "--bits", 4, "--data-dir", mnist_dir, "--json")
    summary = json.loads(out)
    assert rc == 0 and summary["bytes"] == packed.stat().st_size and summary["methods"] == ["quant"]
    rc, out, _ = cli(capsys, "mlpzip", "eval", packed, model, "--data-dir", mnist_dir, "--json")
    evals = [json.loads(line) for line in out.splitlines()]
    assert rc == 0 and evals[0]["accuracy"] == summary["accuracy"] and evals[0]["bytes"] == summary["bytes"]
    assert evals[1]["kind"] == "model" and abs(evals[1]["accuracy"] - trained["accuracy"]) < 1e-9
    assert cli(capsys, "mlpzip", "decompress", packed, "-o", back)[0] == 0
    rc, out, _ = cli(capsys, "mlpzip", "eval", back, "--data-dir", mnist_dir, "--json")
    assert json.loads(out)["accuracy"] == summary["accuracy"]
    rc, out, _ = cli(capsys, "mlpzip", "info", packed, "--json")
    assert rc == 0 and json.loads(out)["tensor_bits"] == [4, 8, 4, 8]
    rc, _, err = cli(capsys, "mlpzip", "compress", model, "-o", packed, "--data-dir", mnist_dir)
    assert rc == 1 and "exists" in one_error_line(err)  # no overwrite without --force


@pytest.mark.parametrize("damage", ["truncated", "bit_flip", "empty", "not_mlpz"])
def test_damaged_files_exit_1_with_one_line_and_no_output(tmp_path, capsys, damage):
    good = (DATA / "golden_mlpz_quant4.mlpz").read_bytes()
    flipped = bytearray(good)
    flipped[len(good) // 2] ^= 0x10
    bad = {"truncated": good[:-9], "bit_flip": bytes(flipped), "empty": b"",
           "not_mlpz": (DATA / "golden_v2_coin_rgb.inr").read_bytes()}[damage]
    path, out = tmp_path / "bad.mlpz", tmp_path / "out.pt"
    path.write_bytes(bad)
    for args in (("decompress", path, "-o", out), ("info", path)):
        rc, _, err = cli(capsys, "mlpzip", *args)
        assert rc == 1 and one_error_line(err)
    assert not out.exists() and list(tmp_path.iterdir()) == [path]


def test_usage_errors_exit_2(tmp_path, capsys):
    model = tmp_path / "m.pt"
    for args in (("train", "--depth", 0, "--width", 8, "-o", model),
                 ("train", "--depth", 1, "--width", 8, "--input-pool", 3, "-o", model),
                 ("compress", model, "-o", tmp_path / "x.mlpz", "--method", "mcnc,prune"),
                 ("compress", model, "-o", tmp_path / "x.mlpz", "--method", "distill"),  # no --teacher
                 ("compress", model, "-o", tmp_path / "x.mlpz", "--method", "prune", "--sparsity", 1),
                 ("compress", model, "-o", tmp_path / "x.mlpz", "--bits", 17)):
        rc, _, err = cli(capsys, "mlpzip", *args)
        assert rc == 2 and one_error_line(err)


def test_pooled_inputs_train_compress_and_evaluate_with_a_distilled_student(tmp_path, capsys, mnist_dir):
    """A 49-input MLP (4x4 block means) goes through the chain; a 784-input teacher still sees pixels."""
    teacher, model, packed = tmp_path / "t.pt", tmp_path / "m.pt", tmp_path / "m.mlpz"
    assert cli(capsys, "mlpzip", "train", "--depth", 1, "--width", 8, "--epochs", 0.05, "-o", teacher,
               "--data-dir", mnist_dir)[0] == 0
    rc, out, _ = cli(capsys, "mlpzip", "train", "--depth", 1, "--width", 32, "--input-pool", 4, "--epochs", 0.3,
                     "-o", model, "--data-dir", mnist_dir, "--json")
    trained = json.loads(out)
    assert rc == 0 and trained["inputs"] == 49 and trained["parameters"] == 49 * 32 + 32 + 32 * 10 + 10
    rc, out, _ = cli(capsys, "mlpzip", "compress", model, "-o", packed, "--method", "distill,quant", "--bits", 8,
                     "--teacher", teacher, "--epochs", 0.05, "--data-dir", mnist_dir, "--json")
    summary = json.loads(out)
    assert rc == 0 and trained["accuracy"] > 50 and summary["accuracy"] > 50
    rc, out, _ = cli(capsys, "mlpzip", "eval", packed, "--data-dir", mnist_dir, "--json")
    assert rc == 0 and json.loads(out)["accuracy"] == summary["accuracy"]


def test_cropped_inputs_and_shifted_training_from_the_command_line(tmp_path, capsys, mnist_dir):
    model, packed = tmp_path / "m.pt", tmp_path / "m.mlpz"
    rc, out, _ = cli(capsys, "mlpzip", "train", "--depth", 1, "--width", 16, "--input-pool", 2, "--input-crop", 4,
                     "--epochs", 0.2, "--lr", 3e-3, "--augment", 1, "-o", model, "--data-dir", mnist_dir, "--json")
    trained = json.loads(out)
    assert rc == 0 and trained["inputs"] == 100 and trained["augment"] == 1 and trained["accuracy"] > 50
    rc, out, _ = cli(capsys, "mlpzip", "compress", model, "-o", packed, "--method", "qat", "--bits", 3,
                     "--epochs", 0.05, "--augment", 1, "--data-dir", mnist_dir, "--json")
    compressed = json.loads(out)
    assert rc == 0 and compressed["accuracy"] > 50 and compressed["augment"] == 1
    rc, out, _ = cli(capsys, "mlpzip", "info", packed, "--json")
    described = json.loads(out)
    assert rc == 0 and described["inputs"] == 100 and described["input_layout"] == "2x2 means of the central 20x20"
    rc, out, _ = cli(capsys, "mlpzip", "eval", packed, "--data-dir", mnist_dir, "--json")
    assert rc == 0 and json.loads(out)["accuracy"] == compressed["accuracy"] and json.loads(out)["inputs"] == 100
    for bad in (["--input-crop", 3], ["--augment", 9]):
        rc, _, err = cli(capsys, "mlpzip", "train", "--depth", 1, "--width", 4, "-o", tmp_path / "x.pt", *bad)
        assert rc == 2 and one_error_line(err) and not (tmp_path / "x.pt").exists()
    for bad in (["--method", "qat", "--augment", 9], ["--method", "quant", "--augment", 1]):
        rc, _, err = cli(capsys, "mlpzip", "compress", model, "-o", tmp_path / "x.mlpz", *bad)
        assert rc == 2 and one_error_line(err) and not (tmp_path / "x.mlpz").exists()
