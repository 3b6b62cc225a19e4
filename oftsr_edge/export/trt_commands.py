"""``oftsr-edge build`` (TensorRT engine from an exported ONNX) and ``oftsr-edge check`` (accuracy gate).

Both import without torch, onnx and TensorRT: heavy modules load inside the command bodies, and everything a user
can get wrong (missing file, missing TensorRT or GPU, bad shape) is an :class:`OftsrError`, which ``cli.main``
prints as one line with exit status 2. ``check`` exits 1 when the gate fails.
"""

from __future__ import annotations

from pathlib import Path

import click

from oftsr_edge.errors import OftsrError

_PRECISIONS = click.Choice(["fp32", "fp16", "int8"])


def _existing_file(path: Path, what: str) -> Path:
    if not path.is_file():
        raise OftsrError(f"{path}: no such {what}")
    return path


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
    type=_PRECISIONS,
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
    from oftsr_edge.export.trt_builder import build_engine

    path = build_engine(
        _existing_file(model, "ONNX file"), engine, tile=tile, batch=batch, min_shape=min_shape,
        opt_shape=opt_shape, max_shape=max_shape, workspace_gib=workspace, cache_dir=cache_dir,
        precision=precision, device=device, verbose=verbose,
    )  # fmt: skip
    click.echo(str(path))


@click.command("check")
@click.argument("model", type=click.Path(path_type=Path))
@click.option(
    "--engine",
    type=click.Path(path_type=Path),
    default=None,
    help="TensorRT engine built from MODEL: compared with the reference (needs TensorRT + GPU).",
)
@click.option(
    "--reference",
    type=click.Path(path_type=Path),
    default=None,
    help="Reference ONNX (the fp32 export). Default: MODEL itself.",
)
@click.option(
    "--images",
    type=click.Path(path_type=Path),
    default=None,
    help="Folder of photos to cut LR tiles from (default: synthetic gradients, a weaker gate).",
)
@click.option(
    "--t", "t_text", default="0,0.5,1", show_default=True, help="Comma-separated t values in [0, 1]."
)
@click.option("--min-psnr", type=float, default=40.0, show_default=True, help="Gate: worst PSNR in dB.")
@click.option("--tiles", type=int, default=4, show_default=True, help="Number of LR tiles.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of tile crops and noise.")
@click.option("--device", type=int, default=0, show_default=True, help="CUDA device index (with --engine).")
def check(
    model: Path,
    engine: Path | None,
    reference: Path | None,
    images: Path | None,
    t_text: str,
    min_psnr: float,
    tiles: int,
    seed: int,
    device: int,
) -> int:
    """Compare MODEL (ONNX Runtime, CPU) and/or --engine (TensorRT) with --reference on real LR tiles.

    Exits 1 when any comparison is below --min-psnr or produces NaN/Inf.
    """
    from oftsr_edge.export.polygraphy_check import parse_t_values, run_check

    t_values = parse_t_values(t_text)
    _existing_file(model, "ONNX file")
    if reference is not None:
        _existing_file(reference, "reference ONNX file")
    result = run_check(
        model, engine=engine, reference=reference, images=images, t_values=t_values, min_psnr=min_psnr,
        tiles=tiles, seed=seed, device=device,
    )  # fmt: skip
    for line in result.lines():
        click.echo(line)
    click.echo("check: passed" if result.passed else "check: FAILED")
    return 0 if result.passed else 1
