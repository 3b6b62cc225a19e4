"""``oftsr-edge build``: a TensorRT engine from an exported ONNX, on this machine's GPU.

It lives beside the builder because engines are built on the device that runs them. Importing this module needs
only click: the builder (and through it TensorRT and cuda-python) loads inside the command body, and everything a
user can get wrong (missing file, missing TensorRT or GPU, bad shape) is an :class:`~oftsr_edge.errors.OftsrError`,
which ``cli.main`` prints as one line with exit status 2.
"""

from __future__ import annotations

from pathlib import Path

import click

from oftsr_edge.vocabulary import Values, option


@click.command("build")
@click.argument("model", type=click.Path(path_type=Path))
@option("--output", "engine", type=click.Path(path_type=Path), default=None,
        detail="the engine file (a JSON sidecar goes beside it); default: the cache entry")
@option("--tile", type=int, default=128, show_default=True, detail="the profile's opt/max h = w")
@option("--batch-size", type=int, default=1, show_default=True, detail="the profile's N goes from 1 to this")
@option("--min", "min_shape", default=None, detail="e.g. 1x3x64x64 (overrides --tile/--batch-size)")
@option("--opt", "opt_shape", default=None, detail="e.g. 4x3x128x128")
@option("--max", "max_shape", default=None, detail="e.g. 4x3x128x128")
@option("--workspace", type=float, default=1.0, show_default=True)
@option("--cache-dir", type=click.Path(path_type=Path), default=None,
        detail="default: $OFTSR_EDGE_CACHE/trt or ~/.cache/oftsr-edge/trt")
@option("--precision", type=Values(str, many=False, choices=("fp32", "fp16", "int8")), default=None,
        detail="of the engine; default: the ONNX's (TensorRT >= 10 takes it only from the ONNX variant)")
@option("--device", type=int, default=0, show_default=True)
@option("--verbose", is_flag=True, detail="TensorRT's")
def build(
    model: Path,
    engine: Path | None,
    tile: int,
    batch_size: int,
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
        model, engine, tile=tile, batch=batch_size, min_shape=min_shape, opt_shape=opt_shape, max_shape=max_shape,
        workspace_gib=workspace, cache_dir=cache_dir, precision=precision, device=device, verbose=verbose,
    )  # fmt: skip
    click.echo(str(path))
