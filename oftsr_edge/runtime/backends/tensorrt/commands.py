"""``oftsr-edge build``: a TensorRT engine from an exported ONNX, on this machine's GPU.

It lives beside the builder because engines are built on the device that runs them. Importing this module needs
only click: the builder (and through it TensorRT and cuda-python) loads inside the command body, and everything a
user can get wrong (missing file, missing TensorRT or GPU, bad shape) is an :class:`~oftsr_edge.errors.OftsrError`,
which ``cli.main`` prints as one line with exit status 2.
"""

from __future__ import annotations

from pathlib import Path

import click


@click.command("build")
@click.argument("model", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    "engine",
    type=click.Path(path_type=Path),
    default=None,
    help="Engine file to write (a JSON sidecar goes beside it). Default: the cache entry.",
)
@click.option(
    "--tile", type=int, default=128, show_default=True, help="LR tile edge: the profile's opt/max h = w."
)
@click.option(
    "--batch", type=int, default=1, show_default=True, help="Tiles per call: profile N from 1 to this."
)
@click.option(
    "--min", "min_shape", default=None, help="lr shape at min, e.g. 1x3x64x64 (overrides tile/batch)."
)
@click.option("--opt", "opt_shape", default=None, help="lr shape at opt, e.g. 4x3x128x128.")
@click.option("--max", "max_shape", default=None, help="lr shape at max, e.g. 4x3x128x128.")
@click.option(
    "--workspace", type=float, default=1.0, show_default=True, help="Builder workspace limit in GiB."
)
@click.option(
    "--cache-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Engine + timing cache folder (default: $OFTSR_EDGE_CACHE/trt or ~/.cache/oftsr-edge/trt).",
)
@click.option(
    "--precision",
    type=click.Choice(["fp32", "fp16", "int8"]),
    default=None,
    help="Engine precision (default: the ONNX's). TensorRT >= 10 takes it only from the ONNX variant.",
)
@click.option("--device", type=int, default=0, show_default=True, help="CUDA device index.")
@click.option("-v", "--verbose", is_flag=True, help="Show TensorRT INFO messages.")
def build(
    model: Path,
    engine: Path | None,
    tile: int,
    batch: int,
    min_shape: str | None,
    opt_shape: str | None,
    max_shape: str | None,
    workspace: float,
    cache_dir: Path | None,
    precision: str | None,
    device: int,
    verbose: bool,
) -> None:
    """Build a TensorRT engine for MODEL.onnx on this machine's GPU (cached by ONNX, TensorRT, GPU and shapes)."""
    from oftsr_edge.runtime.backends.tensorrt.builder import build_engine

    # build_engine reads MODEL's metadata first, so a missing file is one "no such ... file" line.
    path = build_engine(
        model, engine, tile=tile, batch=batch, min_shape=min_shape, opt_shape=opt_shape, max_shape=max_shape,
        workspace_gib=workspace, cache_dir=cache_dir, precision=precision, device=device, verbose=verbose,
    )  # fmt: skip
    click.echo(str(path))
