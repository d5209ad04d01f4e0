"""mlpzip's training side: a few steps on a subset, quant and qat pipelines, exact round trips."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from inrcodec import mlp, mlpz, mlpzip
from inrcodec.datasets import mnist
from inrcodec.errors import DataError, OptionError


@pytest.fixture(scope="module")
def subset(mnist_dir):
    x, y = mnist("train", mnist_dir)
    xt, yt = mnist("test", mnist_dir)
    return (x[:3000], y[:3000]), (xt[:2000], yt[:2000])


@pytest.fixture(scope="module")
def trained(subset):
    (x, y), (xt, yt) = subset
    config = mlp.MLPConfig(2, 32)
    before = mlp.accuracy(mlp.init_tensors(config, 0), xt, yt)
    losses = []
    tensors = mlpzip.train_model(config, x, y, epochs=2, seed=0, lr=1e-2, on_epoch=lambda e, loss: losses.append(loss))
    return config, tensors, before, losses


def test_a_few_steps_on_a_subset_learn(trained, subset):
    config, tensors, before, losses = trained
    after = mlp.accuracy(tensors, *subset[1])
    assert len(losses) == 2 and losses[1] < losses[0] and before < 30 and after > 80


@pytest.mark.parametrize("method,bits", [("quant", 8), ("quant", 1), ("qat", 2)])
def test_round_trip_gives_the_evaluated_network_exactly(trained, subset, method, bits):
    config, tensors, _, _ = trained
    result = mlpzip.compress(config, tensors, mlpzip.CompressOptions([method], bits=bits, epochs=0.2),
                             subset[0])
    decoded_config, decoded = mlpz.decode(result.data)
    assert decoded_config == config
    x = mlp.inputs_of(subset[1][0][:500])
    evaluated = mlp.forward([torch.from_numpy(t) for t in result.tensors], x)
    assert torch.equal(mlp.forward([torch.from_numpy(t) for t in decoded], x), evaluated)
    assert result.details["tensor_bits"] == [bits, max(bits, 8)] * 3
    if bits == 1:
        assert all(len(np.unique(t)) <= 2 for t in decoded[0::2])
    assert (result.epochs > 0) == (method == "qat")


def test_qat_beats_post_training_quantization_at_two_bits(trained, subset):
    config, tensors, _, _ = trained
    ptq = mlpzip.compress(config, tensors, mlpzip.CompressOptions(["quant"], bits=2))
    qat = mlpzip.compress(config, tensors, mlpzip.CompressOptions(["qat"], bits=2, epochs=0.5, lr=1e-3), subset[0])
    assert mlp.accuracy(qat.tensors, *subset[1]) > mlp.accuracy(ptq.tensors, *subset[1])


def test_method_lists_are_ordered_and_checked():
    assert mlpzip.parse_methods("qat") == ["qat"]
    assert mlpzip.parse_methods("quant,prune,distill") == ["distill", "prune", "quant"]
    assert mlpzip.parse_methods("quant,mcnc,distill") == ["distill", "mcnc", "quant"]
    for bad in ("", "zip", "quant,quant", "quant,qat", "mcnc,prune", "mcnc,qat"):
        with pytest.raises(OptionError):
            mlpzip.parse_methods(bad)
    with pytest.raises(OptionError):
        mlpzip.check_options(mlpzip.CompressOptions(["quant"], bits=0))


def test_model_files_round_trip_and_refuse_other_files(trained):
    config, tensors, _, _ = trained
    back_config, back = mlp.from_bytes(mlp.to_bytes(config, tensors))
    assert back_config == config and all(torch.equal(a, b) for a, b in zip(back, tensors))
    with pytest.raises(DataError, match="x.pt: not an inrcodec MLP model file"):
        mlp.from_bytes(b"not a model", "x.pt")


def test_pruned_files_store_masks_and_only_the_kept_values(trained, subset):
    config, tensors, _, _ = trained
    options = mlpzip.CompressOptions(["prune", "quant"], bits=4, sparsity=0.8, prune_rounds=2, epochs=0.2)
    result = mlpzip.compress(config, tensors, options, subset[0])
    dense = mlpzip.compress(config, tensors, mlpzip.CompressOptions(["quant"], bits=4))
    d = mlpz.describe(result.data)
    assert d["pruned"] == [True] * 3 and d["tensor_bits"][:2] == [1, 4] and "bernoulli" in d["entropy_models"]
    _, decoded = mlpz.decode(result.data)
    for w in decoded[0::2]:
        assert abs(float(np.mean(w == 0)) - 0.8) < 0.02
    assert all(np.array_equal(a, b) for a, b in zip(decoded, result.tensors))
    assert len(result.data) < 0.5 * len(dense.data) and result.epochs == pytest.approx(0.2)


def test_low_rank_factors_and_distillation_round_trip(trained, subset):
    config, tensors, _, _ = trained
    teacher = mlpzip.train_model(mlp.MLPConfig(1, 64), *subset[0], epochs=1, lr=1e-2)
    options = mlpzip.CompressOptions(["distill", "lowrank"], rank=4, epochs=0.2, teacher=teacher)
    result = mlpzip.compress(config, tensors, options, subset[0])
    d = mlpz.describe(result.data)
    assert d["ranks"] == [4, 4, 4] and d["stored_values"] < config.num_params() / 5
    _, decoded = mlpz.decode(result.data)
    singular = [np.linalg.svd(w.astype(np.float64), compute_uv=False) for w in decoded[0::2]]
    assert all(s[4] < 1e-5 * s[0] for s in singular)  # rank 4, up to float32 rounding
    assert result.epochs == pytest.approx(0.4) and mlp.accuracy(decoded, *subset[1]) > 30


def test_mcnc_trains_on_the_manifold_and_round_trips(subset):
    config = mlp.MLPConfig(1, 16)
    options = mlpzip.CompressOptions(["mcnc", "quant"], bits=6, epochs=4, lr=0.05, chunk=100, k=8)
    result = mlpzip.compress(config, None, options, subset[0])
    d = mlpz.describe(result.data)
    n = config.num_params() // 100 + 1
    assert d["manifold"]["chunk"] == 100 and d["tensor_bits"] == [6, 16] and d["stored_values"] == n * 9
    _, decoded = mlpz.decode(result.data)
    assert all(np.array_equal(a, b) for a, b in zip(decoded, result.tensors))
    assert mlp.accuracy(decoded, *subset[1]) > 15 and len(result.data) < n * 9 * 2 + 200  # chance: 10%


def test_pooled_inputs_are_block_means_and_other_counts_are_refused():
    images = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28) % 251
    x = mlp.inputs_of(images, 196).numpy().reshape(2, 14, 14)
    assert x.dtype == np.float32 and np.allclose(x[1, 3, 5], images[1, 6:8, 10:12].mean() / 255)
    assert mlp.inputs_of(images, 49).shape == (2, 49)
    assert torch.equal(mlp.inputs_of(images), mlp.inputs_of(images, 784))
    with pytest.raises(DataError, match="784, 576, 400, 196"):
        mlp.inputs_of(images, 121)


def test_cropped_inputs_drop_the_margin_before_the_block_means():
    images = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28) % 251
    x = mlp.inputs_of(images, 144).numpy().reshape(2, 12, 12)  # 2x2 blocks of the central 24x24
    assert np.allclose(x[1, 0, 0], images[1, 2:4, 2:4].mean() / 255)
    assert np.allclose(x[0, 11, 11], images[0, 24:26, 24:26].mean() / 255)
    assert np.allclose(mlp.inputs_of(images, 400).numpy().reshape(2, 20, 20), images[:, 4:24, 4:24] / 255)
    assert np.allclose(mlp.inputs_of(images, 36).numpy()[:, 0], images[:, 2:6, 2:6].mean(axis=(1, 2)) / 255)
    assert np.allclose(mlp.inputs_of(images, 576).numpy().reshape(2, 24, 24), images[:, 2:26, 2:26] / 255)
    assert mlp.inputs_of(images, 25).shape == (2, 25) and mlp.input_count(4, 2) == 36
    assert mlp.describe_inputs(100) == "2x2 means of the central 20x20" and mlp.describe_inputs(7) is None
    with pytest.raises(DataError, match="margin"):
        mlp.input_count(3, 0)


def test_shifted_images_move_whole_by_at_most_the_shift():
    rng = np.random.default_rng(0)
    images = np.zeros((64, 28, 28), np.uint8)
    images[:, 10:18, 12:16] = rng.integers(1, 256, size=(64, 8, 4))  # ink away from the border
    moved = mlpzip.shifted(images, 2, np.random.default_rng(1))
    assert moved.shape == images.shape and moved.dtype == np.uint8
    offsets = set()
    for a, b in zip(images, moved):  # each image is its original, translated, nothing lost
        ys, xs = np.nonzero(b)
        dy, dx = ys.min() - 10, xs.min() - 12
        assert abs(dy) <= 2 and abs(dx) <= 2 and np.array_equal(b[10 + dy:18 + dy, 12 + dx:16 + dx], a[10:18, 12:16])
        assert b.sum(dtype=np.int64) == a.sum(dtype=np.int64)
        offsets.add((dy, dx))
    assert len(offsets) > 10  # every image draws its own offset, the extremes included
    assert {dy for dy, _ in offsets} == {dx for _, dx in offsets} == set(range(-2, 3))
    assert np.array_equal(mlpzip.shifted(images, 0, np.random.default_rng(1)), images)


def test_training_with_shifts_learns_and_checks_its_range(subset):
    config = mlp.MLPConfig(1, 32, inputs=144)
    tensors = mlpzip.train_model(config, *subset[0], epochs=1, seed=0, lr=1e-2, augment=2)
    plain = mlpzip.train_model(config, *subset[0], epochs=1, seed=0, lr=1e-2)
    assert mlp.accuracy(tensors, *subset[1]) > 50  # chance: 10%
    assert not torch.equal(tensors[0], plain[0])  # the shifts changed what it saw
    with pytest.raises(OptionError, match="augment"):
        mlpzip.train_model(config, *subset[0], epochs=1, augment=9)
