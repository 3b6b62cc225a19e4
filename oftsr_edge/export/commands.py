"""``oftsr-edge export``: student checkpoint → verified FP32/FP16/INT8 ONNX files (and TensorRT engines with --trt).

All files are written under a hidden staging folder inside the output folder and renamed into place only after every
requested variant has been written, checked and verified; on any failure the staging folder is removed, so the
output folder never holds a half-written or unverified model. torch and onnx are imported inside the command, after
the ``export`` extra has been checked, so ``oftsr-edge --help`` works without them.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from oftsr_edge.errors import MissingExtraError, OftsrError
from oftsr_edge.export.simplify import DEFAULT_SIMPLIFIER, SIMPLIFIERS
from oftsr_edge.fileio import sweep_stale, temp_dir
from oftsr_edge.vocabulary import Listed, option

PRECISIONS = ("fp32", "fp16", "int8")
FP32_MAX_ABS = 1e-3  # a quarter of one 8-bit level: ORT and PyTorch normally agree to ~1e-6
FP16_MIN_PSNR = 40.0
INT8_MIN_PSNR = 30.0


def file_stem(name: str) -> str:
    """A model name made safe as a file name (the runtime reads the metadata, never the name)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "oftsr"


@dataclass(frozen=True)
class ExportOptions:
    precisions: tuple[str, ...]
    opset: int
    tile: int
    default_t: float
    simplifier: str
    calib: Path | None
    calib_tiles: int
    calib_method: str
    fp16_min_psnr: float
    int8_min_psnr: float
    default_steps: int = 1
    name: str | None = None  # the model's name (None = the checkpoint's, or the .onnx input's)


def _verify_variant(fp32: Path, other: Path, precision: str, opts: ExportOptions, minimum: float) -> None:
    """PSNR of a variant vs FP32 per t, on real tiles from --calib (random inputs without it), gated at ``minimum``."""
    import numpy as np

    from oftsr_edge.contract import read_spec
    from oftsr_edge.export.calibration import load_tiles, model_feeds
    from oftsr_edge.export.verify import checked_steps, psnr_against_fp32

    spec = read_spec(fp32, allow_two_time=True)
    t_values = (0.0, spec.default_t, 1.0)
    if opts.calib is not None:
        tiles, source = load_tiles(opts.calib, spec.tile, count=4, seed=1), f"real tiles from {opts.calib}"
    else:
        tiles = np.random.default_rng(1).random((4, 3, spec.tile, spec.tile), dtype=np.float32)
        source = "random tiles (pass --calib DIR to verify on real images)"
    scores = psnr_against_fp32(fp32, other, model_feeds(tiles, spec.scale, t_values, batch=4, seed=1))
    shown = ", ".join(f"t={t:g}: {db:.2f} dB" for t, db in scores.items())
    steps = f" (K = {' and '.join(map(str, checked_steps(spec)))})" if spec.two_time else ""
    click.echo(f"  {precision} vs fp32, 4 {spec.tile}² {source}{steps}: {shown}")
    worst = min(scores.values())
    if worst < minimum:
        raise OftsrError(f"{precision} model is {worst:.2f} dB from fp32 (< {minimum:g} dB): not written")


def _report_speed(fp32: Path, int8: Path, tile: int, scale: int, two_time: bool = False) -> None:
    from oftsr_edge.export.verify import random_feed, time_ort_cpu

    feed = random_feed(1, tile, tile, scale, 0.5, two_time=two_time)
    t32, t8 = time_ort_cpu(fp32, feed), time_ort_cpu(int8, feed)
    click.echo(
        f"  ORT-CPU 1×3×{tile}×{tile}: fp32 {t32 * 1e3:.1f} ms, int8 {t8 * 1e3:.1f} ms ({t32 / t8:.2f}× speed-up)"
    )


def _verify_fp32(onnx_path: Path, checkpoint: Path) -> None:
    """ONNX Runtime vs PyTorch on two shapes × three t, printed, gated at :data:`FP32_MAX_ABS`."""
    from oftsr_edge.export.verify import verify_against_torch

    click.echo("  fp32 ONNX Runtime vs PyTorch, max abs error:")
    worst = 0.0
    for dev in verify_against_torch(onnx_path, checkpoint):
        click.echo(f"    N×h×w {dev.shape[0]}×{dev.shape[1]}×{dev.shape[2]}  t={dev.t:g}: {dev.max_abs:.2e}")
        worst = max(worst, dev.max_abs)
    if worst > FP32_MAX_ABS:
        raise OftsrError(f"fp32 ONNX differs from PyTorch by {worst:.2e} (> {FP32_MAX_ABS:g}): not written")


def stage_fp32(source: Path, target: Path) -> None:
    """Copy an FP32 export into the staging folder as one self-contained file.

    A model whose weights sit in external data files (``onnx.save_model(..., save_as_external_data=True)``, which
    ``upscale`` runs as is) is read with its data and written whole, so the variants and the published file need
    no companion file; data that onnx refuses to read (a location outside the model's folder, such as
    ``../../../etc/passwd``, or a missing file) is one line naming the model."""
    import onnx
    from onnx.external_data_helper import uses_external_data

    try:
        graph_only = onnx.load(str(source), load_external_data=False)
    except Exception as exc:  # protobuf's DecodeError and friends
        raise OftsrError(f"{source}: not a loadable ONNX model ({type(exc).__name__})") from None
    if not any(uses_external_data(t) for t in _tensors(graph_only)):
        shutil.copyfile(source, target)
        return
    try:
        onnx.load_external_data_for_model(graph_only, str(source.parent))
    except Exception as exc:  # onnx's ValidationError for a location outside the folder, OSError for a missing one
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise OftsrError(f"{source}: its external weight data cannot be read ({reason})") from None
    try:  # the data is in the tensors now (load_external_data_for_model clears the links): one self-contained file
        onnx.save_model(graph_only, str(target))
    except ValueError as exc:  # protobuf's 2 GiB limit
        raise OftsrError(f"{source}: too large to export as one file ({exc})") from None


def _tensors(model: Any) -> Iterator[Any]:
    """Every TensorProto of a model: initializers and tensor attributes, in subgraphs too."""
    graphs = [model.graph]
    while graphs:
        graph = graphs.pop()
        yield from graph.initializer
        for node in graph.node:
            for attr in node.attribute:
                if attr.HasField("t"):
                    yield attr.t
                yield from attr.tensors
                graphs.extend([attr.g] if attr.HasField("g") else [])
                graphs.extend(attr.graphs)


def write_variants(checkpoint: Path, staging: Path, opts: ExportOptions) -> tuple[str, dict[str, Path]]:
    """Export, convert and verify every variant into ``staging``; return the file stem and {precision: path}."""
    from oftsr_edge.contract import read_spec
    from oftsr_edge.export.fp16 import convert_fp16
    from oftsr_edge.export.int8 import convert_int8
    from oftsr_edge.export.onnx_export import export_onnx, load_student

    staged = {"fp32": staging / "model_fp32.onnx"}
    if checkpoint.suffix == ".onnx":
        # an existing FP32 export: derive variants from it; tile, opset and default t come from its metadata
        spec = read_spec(checkpoint, expect_precision="fp32", allow_two_time=True)
        click.echo(f"deriving variants from {checkpoint} ({spec.name}, opset {spec.opset}, tile {spec.tile})")
        stage_fp32(checkpoint, staged["fp32"])
    else:
        model, ckpt = load_student(checkpoint)  # a teacher or a broken checkpoint fails here, before any tracing
        kind = f", two-time, default {opts.default_steps} step(s)" if model.two_time else ""
        click.echo(f"exporting {ckpt.path} (x{ckpt.scale}, opset {opts.opset}, tile {opts.tile}{kind})")
        export_onnx(checkpoint, staged["fp32"], opset=opts.opset, tile=opts.tile, default_t=opts.default_t,
                    simplifier=opts.simplifier, default_steps=opts.default_steps, name=opts.name)  # fmt: skip
        spec = read_spec(staged["fp32"], allow_two_time=True)
        _verify_fp32(staged["fp32"], checkpoint)
    if "fp16" in opts.precisions:
        staged["fp16"] = convert_fp16(staged["fp32"], staging / "model_fp16.onnx")
        _verify_variant(staged["fp32"], staged["fp16"], "fp16", opts, opts.fp16_min_psnr)
    if "int8" in opts.precisions:
        assert opts.calib is not None
        staged["int8"] = convert_int8(
            staged["fp32"],
            staging / "model_int8.onnx",
            opts.calib,
            tiles=opts.calib_tiles,
            method=opts.calib_method,
        )
        click.echo(
            f"  int8: {opts.calib_tiles} calibration tiles from {opts.calib}; all Q/DQ zero-points int8 0"
        )
        _verify_variant(staged["fp32"], staged["int8"], "int8", opts, opts.int8_min_psnr)
        _report_speed(staged["fp32"], staged["int8"], spec.tile, spec.scale, spec.two_time)
    return file_stem(spec.name), {p: staged[p] for p in opts.precisions}


def publish(stem: str, staged: dict[str, Path], output_dir: Path) -> list[Path]:
    """Rename the staged files to ``DIR/<stem>_<precision>.onnx`` (same file system: each rename is atomic)."""
    written = []
    for precision, path in staged.items():
        target = output_dir / f"{stem}_{precision}.onnx"
        path.replace(target)
        written.append(target)
    return written


def build_engines(paths: list[Path], batch: int) -> None:
    """--trt: one engine per ONNX file at its metadata's tile; a missing TensorRT or builder is one line."""
    from oftsr_edge.contract import read_spec

    try:
        from oftsr_edge.runtime.backends.tensorrt.builder import build_engine
    except ImportError as exc:
        click.echo(f"oftsr-edge: note: --trt skipped: the engine builder is not available ({exc})", err=True)
        return
    for path in paths:
        spec = read_spec(path, allow_two_time=True)
        if spec.two_time:
            click.echo(f"oftsr-edge: note: --trt skipped for {path.name}: native TensorRT engines are built for "
                       "one-step models only; run it with --backend ort-trt", err=True)  # fmt: skip
            continue
        try:
            engine = build_engine(path, path.with_suffix(".engine"), tile=spec.tile, batch=batch)
        except MissingExtraError as exc:
            click.echo(f"oftsr-edge: note: --trt skipped: {exc}", err=True)
            return
        click.echo(f"wrote {engine}")


@click.command("export")
@click.argument("checkpoint", type=click.Path(path_type=Path))
@option("--output", "output_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
        detail="a folder for <name>_<precision>.onnx")
@option("--precision", type=Listed(click.Choice(PRECISIONS, case_sensitive=False)), default="fp32,fp16", show_default=True,
        detail="comma list of the variants to write (int8 needs --calib)")
@option("--opset", type=int, default=18, show_default=True,
        detail="18-21 use the dynamo exporter, 17 the TorchScript one (TensorRT 8.5/8.6)")
@option("--tile", type=int, default=128, show_default=True,
        detail="stored as the model's recommended tile (engine opt shape, INT8 calibration size)")
@option("--default-t", type=float, default=0.5, show_default=True)
@option("--default-steps", type=click.IntRange(1, 64), default=1, show_default=True,
        detail="K > 1 needs a two-time (MeanFlow) student")
@option("--calib", type=click.Path(path_type=Path), default=None)
@option("--calib-tiles", type=click.IntRange(1), default=16, show_default=True, detail="each run at 5+ values of t")
@option("--calib-method", type=click.Choice(["minmax", "percentile", "entropy"]), default="minmax",
        show_default=True)
@option("--simplifier", type=click.Choice(SIMPLIFIERS), default=DEFAULT_SIMPLIFIER, show_default=True)
@option("--fp16-min-psnr", type=float, default=FP16_MIN_PSNR, show_default=True)
@option("--int8-min-psnr", type=float, default=INT8_MIN_PSNR, show_default=True)
@option("--trt", is_flag=True, detail="<name>_<precision>.engine, if TensorRT is importable")
@option("--name", default=None, detail="default: the run folder's name; never a bundled model's")
@option("--bundled", is_flag=True, detail="only for a new version of a bundled model")
@option("--batch-size", type=click.IntRange(1), default=1, show_default=True,
        detail="tiles per engine call (with --trt)")
def export(
    checkpoint: Path,
    output_dir: Path,
    precision: tuple[str, ...],
    opset: int,
    tile: int,
    default_t: float,
    default_steps: int,
    calib: Path | None,
    calib_tiles: int,
    calib_method: str,
    simplifier: str,
    fp16_min_psnr: float,
    int8_min_psnr: float,
    trt: bool,
    batch_size: int,
    name: str | None,
    bundled: bool,
) -> None:
    """Export a student CHECKPOINT (run dir, checkpoint dir or weights file) to verified ONNX files.

    CHECKPOINT may also be an FP32 export (.onnx): its FP16/INT8 variants are then derived from it, with the tile,
    opset and default t of its metadata.
    """
    from oftsr_edge.export.calibration import list_images
    from oftsr_edge.extras import require

    precisions = tuple(p for p in PRECISIONS if p in precision)  # canonical order
    if "int8" in precisions and calib is None:
        raise OftsrError("--precision int8 needs --calib DIR (a folder of real images for calibration)")
    if calib is not None:
        list_images(calib)  # a missing or empty folder fails before any work
    from_onnx = checkpoint.suffix == ".onnx"
    from oftsr_edge.export.naming import export_name

    model_name = export_name(checkpoint, name, bundled)
    require("export", *(() if from_onnx else ("torch", "safetensors")), "onnx", "onnxruntime")
    from oftsr_edge.export.onnx_export import check_opset

    check_opset(opset)
    opts = ExportOptions(precisions, opset, tile, default_t, simplifier, calib, calib_tiles, calib_method,
                         fp16_min_psnr, int8_min_psnr, default_steps, model_name)  # fmt: skip
    created = not output_dir.exists()
    output_dir.mkdir(parents=True, exist_ok=True)
    sweep_stale(output_dir)  # the staging folder of an export that was killed (SIGKILL, power loss)
    staging = temp_dir(output_dir, "export")  # owner pid in the name: what a killed export leaves is swept
    try:
        written = publish(*write_variants(checkpoint, staging, opts), output_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if created and not any(output_dir.iterdir()):
            output_dir.rmdir()
        raise
    shutil.rmtree(staging, ignore_errors=True)
    for path in written:
        click.echo(f"wrote {path}")
    if trt:
        build_engines(written, batch_size)
