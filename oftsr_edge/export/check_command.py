"""``oftsr-edge check``: the accuracy gate of an exported ONNX and/or its TensorRT engine against a reference.

It imports without torch, onnx and TensorRT: heavy modules load inside the command body, and everything a user can
get wrong (missing file, missing TensorRT or GPU, bad t) is an :class:`OftsrError`, which ``cli.main`` prints as
one line with exit status 2. ``check`` exits 1 when the gate fails. (``oftsr-edge build`` lives with the TensorRT
builder: :mod:`oftsr_edge.runtime.backends.tensorrt.commands`.)
"""

from __future__ import annotations

from pathlib import Path

import click

from oftsr_edge.errors import OftsrError
from oftsr_edge.runtime.checks import check_t
from oftsr_edge.vocabulary import Listed, option


def _existing_file(path: Path, what: str) -> Path:
    if not path.is_file():
        raise OftsrError(f"{path}: no such {what}")
    return path


@click.command("check")
@click.argument("model", type=click.Path(path_type=Path))
@option("--engine", type=click.Path(path_type=Path), default=None,
        detail="built from MODEL: compared with the reference (needs TensorRT + GPU)")
@option("--reference", type=click.Path(path_type=Path), default=None, detail="the fp32 export; default: MODEL itself")
@option("--images", type=click.Path(path_type=Path), default=None,
        detail="default: synthetic gradients, a weaker gate")
@option("--t", "t_values", type=Listed(click.FLOAT), default="0,0.5,1", show_default=True, detail="comma-separated")
@option("--min-psnr", type=float, default=40.0, show_default=True)
@option("--tiles", type=int, default=4, show_default=True)
@option("--seed", type=int, default=0, show_default=True, detail="of tile crops and noise")
@option("--device", type=int, default=0, show_default=True, detail="with --engine")
def check(
    model: Path,
    engine: Path | None,
    reference: Path | None,
    images: Path | None,
    t_values: tuple[float, ...],
    min_psnr: float,
    tiles: int,
    seed: int,
    device: int,
) -> int:
    """Compare MODEL (ONNX Runtime, CPU) and/or --engine (TensorRT) with --reference on real LR tiles.

    Exits 1 when any comparison is below --min-psnr or produces NaN/Inf.
    """
    from oftsr_edge.export.polygraphy_check import run_check

    t_values = tuple(check_t(t) for t in t_values)
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
