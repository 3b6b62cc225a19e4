"""``oftsr-edge build``: a TensorRT engine from an exported ONNX, on this machine's GPU.

It lives beside the builder because engines are built on the device that runs them. Importing this module needs
only click: the builder (and through it TensorRT and cuda-python) loads inside the command body, and everything a
user can get wrong (missing file, missing TensorRT or GPU, bad shape) is an :class:`~oftsr_edge.errors.OftsrError`,
which ``cli.main`` prints as one line with exit status 2.

MODEL may be an ONNX file, a folder written by ``oftsr-edge export`` or a bundled model name: the file to build from
is chosen for this TensorRT version (:mod:`.onnx_choice`), and tile, batch and workspace default to this device's
memory preset (runtime/device/devices.py) — see :mod:`.build_setup`.
"""

from __future__ import annotations

from pathlib import Path

import click

from oftsr_edge.runtime.device.devices import PRESET_NAMES
from oftsr_edge.vocabulary import option


@click.command("build")
@click.argument("model")
@option("--output", "engine", type=click.Path(path_type=Path), default=None,
        detail="the engine file (a JSON sidecar goes beside it); default: the cache entry")
@option("--tile", type=int, default=None, detail="the profile's opt/max h = w; default: the device preset's")
@option("--batch-size", type=int, default=None, detail="the profile's N goes from 1 to this; default: the device preset's")
@option("--min", "min_shape", default=None, detail="e.g. 1x3x64x64 (overrides --tile/--batch-size)")
@option("--opt", "opt_shape", default=None, detail="e.g. 4x3x128x128")
@option("--max", "max_shape", default=None, detail="e.g. 4x3x128x128")
@option("--workspace", type=float, default=None, detail="default: the device preset's")
@option("--cache-dir", type=click.Path(path_type=Path), default=None,
        detail="default: $OFTSR_EDGE_CACHE/trt or ~/.cache/oftsr-edge/trt")
@option("--precision", type=click.Choice(("fp32", "fp16", "int8"), case_sensitive=False), default=None,
        detail="of the engine; default: the file's, or fp16 for a folder or bundled name when this TensorRT can")
@option("--preset", type=click.Choice(PRESET_NAMES, case_sensitive=False), default=None,
        detail="default: detected from the Jetson module or the GPU's memory")
@option("--device", type=int, default=0, show_default=True)
@option("--verbose", is_flag=True, detail="TensorRT's")
def build(
    model: str,
    engine: Path | None,
    tile: int | None,
    batch_size: int | None,
    min_shape: str | None,
    opt_shape: str | None,
    max_shape: str | None,
    workspace: float | None,
    cache_dir: Path | None,
    precision: str | None,
    preset: str | None,
    device: int,
    verbose: bool,
) -> None:
    """Build a TensorRT engine for MODEL on this machine's GPU (cached by ONNX, TensorRT, GPU and shapes).

    MODEL is an .onnx file, a folder from 'oftsr-edge export' or a bundled model name; the ONNX variant is chosen
    for this TensorRT version (8.5/8.6: the opset-17 fp32 file + FP16 flag; 10+: the file of the precision).
    """
    from oftsr_edge.runtime.backends.tensorrt.build_setup import prepare_build
    from oftsr_edge.runtime.backends.tensorrt.builder import build_engine

    prepared = prepare_build(
        model, precision=precision, tile=tile, batch=batch_size, workspace_gib=workspace, preset_name=preset,
        device=device,
    )  # fmt: skip
    for line in prepared.lines:
        click.echo(line, err=True)
    settings = prepared.settings
    path = build_engine(
        prepared.choice.path, engine, tile=settings.tile, batch=settings.batch, min_shape=min_shape,
        opt_shape=opt_shape, max_shape=max_shape, workspace_gib=settings.workspace_gib, cache_dir=cache_dir,
        precision=prepared.choice.precision, device=device, verbose=verbose,
    )  # fmt: skip
    click.echo(str(path))
