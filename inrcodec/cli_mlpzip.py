"""Command line: ``inrcodec mlpzip train | compress | decompress | eval | info``.

Same conventions as the image commands (:mod:`inrcodec.cli`): exit 0 / 1 (data error) / 2
(usage), one-line errors and progress on stderr, ``--json`` on stdout, ``-`` for stdin and
stdout, no overwrite without ``--force``, never a partial output file.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, List, Optional

import typer

from .cli_common import each, json_line, outputs, run, text
from .errors import OptionError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  rich_markup_mode=None, help="Compress MNIST classifier MLPs with the codec's toolbox.")
_DATA_HELP = "Local MNIST copy (a folder with the idx .gz files or mnist/; else $INRCODEC_DATA, cache, download)."


def _say(quiet: bool, text: str) -> None:
    if not quiet:
        sys.stderr.write(text + "\n")
        sys.stderr.flush()


def _read_model(inp: str) -> tuple[Any, list, str]:
    """(config, float32 tensors, kind) of a .mlpz file or a model file."""
    from . import mlp, mlpz
    from .images import read_input

    data = read_input(inp)
    if data[:3] == mlpz.MAGIC:
        config, tensors = mlpz.decode(data)
        return config, tensors, "mlpz"
    config, tensors = mlp.from_bytes(data, inp)
    return config, tensors, "model"


def _emit(as_json: bool, quiet: bool, summary: dict[str, Any], text: str) -> None:
    if as_json:
        sys.stdout.write(json_line(summary))
    else:
        _say(quiet, text)


@app.command()
def train(
    depth: int = typer.Option(..., "--depth", help="Hidden layers (1..64)."),
    width: int = typer.Option(..., "--width", help="Features per hidden layer (1..65535)."),
    input_pool: int = typer.Option(1, "--input-pool", help="Average the image over PxP blocks: 1, 2 or 4 (784, 196 or 49 inputs without a crop)."),
    input_crop: int = typer.Option(0, "--input-crop", help="Drop a margin of C pixels on each side first: 0, 2 (24x24: 576, 144 or 36 inputs) or 4 (20x20: 400, 100 or 25)."),
    epochs: float = typer.Option(10.0, "--epochs", help="Training epochs (Adam, cosine learning rate)."),
    lr: float = typer.Option(1e-3, "--lr", help="Adam's peak learning rate."),
    augment: int = typer.Option(0, "--augment", help="Move each training image by a random offset of up to N pixels at every step (0: off)."),
    seed: int = typer.Option(0, "--seed", help="Initialization and shuffling seed."),
    output: str = typer.Option(..., "-o", "--output", help="Model file to write (- for stdout)."),
    data_dir: Optional[str] = typer.Option(None, "--data-dir", help=_DATA_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary on stdout."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress on stderr."),
    force: bool = typer.Option(False, "--force", "-f", help="Overwrite an existing output file."),
) -> None:
    """Train an MNIST MLP (progress: loss and test accuracy per epoch) and write its model file."""

    def go() -> None:
        from . import mlp, mlpzip
        from .datasets import mnist
        from .images import check_output, write_output

        if not (1 <= depth <= 64 and 1 <= width <= 65535):
            raise OptionError("--depth must be in 1..64 and --width in 1..65535")
        if input_pool not in (1, 2, 4) or input_crop not in (0, 2, 4):
            raise OptionError(f"--input-pool must be 1, 2 or 4 and --input-crop 0, 2 or 4, got {input_pool} and {input_crop}")
        if not 0 < epochs <= 1000:
            raise OptionError(f"--epochs must be in (0, 1000], got {epochs}")
        if not (0 < lr <= 10 and 0 <= augment <= 8):
            raise OptionError(f"--lr must be in (0, 10] and --augment in 0..8, got {lr} and {augment}")
        if as_json and output == "-":
            raise OptionError("--json and the model on stdout both use stdout; give -o FILE")
        check_output(output, force)
        (x, y), (xt, yt) = mnist("train", data_dir), mnist("test", data_dir)
        config = mlp.MLPConfig(depth, width, inputs=mlp.input_count(input_pool, input_crop))
        t0 = time.time()
        tensors = mlp.init_tensors(config, seed)

        def report(epoch: int, loss: float) -> None:
            _say(quiet, f"epoch {epoch}/{epochs:g}: loss {loss:.4f}, test accuracy {mlp.accuracy(tensors, xt, yt):.2f}%")

        mlpzip.train(tensors, x, y, epochs, seed, lr, on_epoch=report, augment=augment)
        data = mlp.to_bytes(config, tensors)
        write_output(output, data, force=force)
        acc = mlp.accuracy(tensors, xt, yt)
        _emit(as_json, quiet, {"output": output, "depth": depth, "width": width, "inputs": config.inputs,
                               "parameters": config.num_params(),
                               "epochs": epochs, "lr": lr, "augment": augment, "seed": seed, "accuracy": acc,
                               "bytes": len(data),
                               "seconds": round(time.time() - t0, 2)},
              f"{output}: {config.num_params()} parameters, test accuracy {acc:.2f}%")

    run(go)


def _theta0(text: str) -> bool:
    if text not in ("seeded", "zero"):
        raise OptionError(f"--theta0 must be seeded or zero, got {text!r}")
    return text == "seeded"


@app.command()
def compress(
    model: str = typer.Argument(..., metavar="MODEL", help="Model file from mlpzip train (- for stdin)."),
    output: str = typer.Option(..., "-o", "--output", help=".mlpz file to write (- for stdout)."),
    method: str = typer.Option("quant", "--method", help="Techniques, applied in the order distill, prune, lowrank, quant|qat; e.g. prune,quant."),
    bits: int = typer.Option(8, "--bits", help="quant/qat: weight depth 1..16 (1: two levels, 2: ternary)."),
    bias_bits: Optional[int] = typer.Option(None, "--bias-bits", help="quant/qat: bias depth (default max(bits, 8))."),
    sparsity: float = typer.Option(0.9, "--sparsity", help="prune: fraction of weights set to zero."),
    prune_rounds: int = typer.Option(3, "--prune-rounds", help="prune: pruning rounds, each followed by retraining."),
    rank: int = typer.Option(16, "--rank", help="lowrank: rank of every factored weight."),
    teacher: Optional[str] = typer.Option(None, "--teacher", help="distill: the teacher's model file."),
    kd_temperature: float = typer.Option(4.0, "--kd-temperature", help="distill: softmax temperature T."),
    kd_weight: float = typer.Option(0.9, "--kd-weight", help="distill: weight of the distillation term."),
    chunk: int = typer.Option(256, "--chunk", help="mcnc: chunk size d (the model file gives the architecture; MCNC trains it from scratch)."),
    k: int = typer.Option(16, "--k", help="mcnc: manifold dimension k."),
    bound: float = typer.Option(20.0, "--L", help="mcnc: input bound L."),
    theta0: str = typer.Option("seeded", "--theta0", help="mcnc: train around a seeded initialization (seeded) or around zero (zero)."),
    epochs: Optional[float] = typer.Option(None, "--epochs", help="Epochs of each technique that retrains (all but quant; default 2, mcnc 10)."),
    lr: Optional[float] = typer.Option(None, "--lr", help="Adam learning rate of (re)training (default 1e-4, mcnc 0.1)."),
    seed: int = typer.Option(0, "--seed", help="Shuffling seed of fine-tuning."),
    augment: int = typer.Option(0, "--augment", help="Retraining moves each image by a random offset of up to N pixels (0: off)."),
    data_dir: Optional[str] = typer.Option(None, "--data-dir", help=_DATA_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary on stdout."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress on stderr."),
    force: bool = typer.Option(False, "--force", "-f", help="Overwrite an existing output file."),
) -> None:
    """Compress a model into a .mlpz and report its test accuracy against the real file size."""

    def go() -> None:
        from . import mlp, mlpzip
        from .datasets import mnist
        from .images import check_output, read_input, write_output

        teacher_tensors = mlp.from_bytes(read_input(teacher), teacher)[1] if teacher else None
        methods = mlpzip.parse_methods(method)
        default_epochs, default_lr = mlpzip.default_schedule(methods)
        epochs_, lr_ = default_epochs if epochs is None else epochs, default_lr if lr is None else lr
        options = mlpzip.CompressOptions(methods, bits, bias_bits, epochs_, lr_, seed, sparsity,
                                         prune_rounds, rank, teacher_tensors, kd_temperature, kd_weight, chunk, k, bound,
                                         _theta0(theta0), augment,
                                         on_epoch=lambda e, loss: _say(quiet, f"retraining epoch {e}: loss {loss:.4f}"))
        mlpzip.check_options(options)
        if as_json and output == "-":
            raise OptionError("--json and the file on stdout both use stdout; give -o FILE")
        check_output(output, force)
        config, tensors = mlp.from_bytes(read_input(model), model)
        test = mnist("test", data_dir)
        train_data = mnist("train", data_dir) if set(options.methods) - {"quant"} else None
        t0 = time.time()
        result = mlpzip.compress(config, tensors, options, train_data)
        write_output(output, result.data, force=force)
        acc = mlp.accuracy(result.tensors, *test)
        _emit(as_json, quiet, {"input": model, "output": output, "methods": options.methods, "bytes": len(result.data),
                               "parameters": config.num_params(), "accuracy": acc, "epochs": result.epochs,
                               "lr": options.lr, "augment": options.augment, "seed": options.seed,
                               "tensor_bits": result.details["tensor_bits"], "seconds": round(time.time() - t0, 2)},
              f"{output}: {len(result.data)} bytes, test accuracy {acc:.2f}% ({'+'.join(options.methods)}, "
              f"{result.epochs:g} epochs of retraining)")

    run(go)


@app.command()
def decompress(
    inputs: List[str] = typer.Argument(..., metavar="FILE.mlpz...", help=".mlpz files (- for stdin)."),
    output: Optional[str] = typer.Option(None, "-o", "--output", help="Model file, folder/ or - (default NAME.pt)."),
    as_json: bool = typer.Option(False, "--json", help="One JSON line per file on stdout."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No summary on stderr."),
    force: bool = typer.Option(False, "--force", "-f", help="Overwrite existing output files."),
) -> None:
    """Decode .mlpz files into plain model files (the network the .mlpz holds, in float32)."""

    def go() -> None:
        from . import mlp, mlpz
        from .images import read_input, write_output

        paths = outputs(inputs, output, ".pt", as_json)

        def one(inp: str, out: str) -> dict[str, Any]:
            config, tensors = mlpz.decode(read_input(inp))
            write_output(out, mlp.to_bytes(config, tensors), force=force)
            return {"input": inp, "output": out, "depth": config.depth, "width": config.width}

        each(inputs, paths, force, quiet, as_json, "decompressed", one)

    run(go)


@app.command(name="eval")
def evaluate(
    inputs: List[str] = typer.Argument(..., metavar="FILE...", help=".mlpz or model files (- for stdin)."),
    data_dir: Optional[str] = typer.Option(None, "--data-dir", help=_DATA_HELP),
    as_json: bool = typer.Option(False, "--json", help="One JSON line per file on stdout."),
) -> None:
    """Test accuracy, file bytes and parameter count of .mlpz or model files."""

    def go() -> None:
        from . import mlp
        from .datasets import mnist

        test = mnist("test", data_dir)

        def one(inp: str, _: str) -> dict[str, Any]:
            config, tensors, kind = _read_model(inp)
            size = Path(inp).stat().st_size if inp != "-" else None
            d = {"file": inp, "kind": kind, "accuracy": mlp.accuracy(tensors, *test), "bytes": size,
                 "parameters": config.num_params(), "depth": config.depth, "width": config.width,
                 "inputs": config.inputs}
            if not as_json:
                sys.stdout.write(f"{inp}: test accuracy {d['accuracy']:.2f}%, {size} bytes, "
                                 f"{d['parameters']} parameters ({kind}, {config.depth}x{config.width} on "
                                 f"{config.inputs} inputs)\n")
            return d

        each(inputs, None, True, True, as_json, "evaluated", one)

    run(go)


@app.command()
def info(
    inputs: List[str] = typer.Argument(..., metavar="FILE.mlpz...", help=".mlpz files (- for stdin)."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per file instead of text."),
) -> None:
    """Describe .mlpz files: architecture, techniques, depths, bytes per part (no decoding)."""

    def go() -> None:
        from . import mlpz
        from .images import read_input

        def one(inp: str, _: str) -> dict[str, Any]:
            d = {"file": inp} | mlpz.describe(read_input(inp))
            if not as_json:
                sys.stdout.write("\n".join(f"{k.replace('_', ' '):<19}{text(v)}" for k, v in d.items()) + "\n")
            return d

        each(inputs, None, True, True, as_json, "described", one)

    run(go)
