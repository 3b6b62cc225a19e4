"""``oftsr-edge upscale``: upscale image files and folders with an exported model, torch-free.

Outputs mirror the inputs' names (and sub-folders, with --recursive) under the output folder. An existing output is
skipped only when the settings recorded in it match this run's (:mod:`oftsr_edge.runtime.provenance`), otherwise
rewritten, and the summary line counts both, so a rerun never keeps a stale image silently. In a run over several
images a bad image is reported on one line and the rest still complete; the exit status is non-zero at the end.
Every output is written atomically, so a failure never leaves a partial file. Decoding, the network and encoding
overlap (:mod:`oftsr_edge.runtime.pipeline`), so a folder runs at the network's pace. Stopped by Ctrl-C or SIGTERM,
a run prints what it finished and exits 130; a rerun completes the rest (docs/architecture.md §10).
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import click

from oftsr_edge import interrupts
from oftsr_edge.errors import OftsrError
from oftsr_edge.runtime.backends.options import BACKEND_NAMES, BackendOptions, parse_backend
from oftsr_edge.runtime.io import image_io
from oftsr_edge.runtime.io.encode import PNG_COMPRESSION
from oftsr_edge.runtime.job_plan import plan_jobs
from oftsr_edge.runtime.model_probe import check_scale_option
from oftsr_edge.runtime.models import resolve_model
from oftsr_edge.runtime.pipeline import FolderResult, Job, WriteOptions
from oftsr_edge.runtime.provenance import RULE
from oftsr_edge.runtime.settings import Settings
from oftsr_edge.runtime.tiling.memory_plan import MIB
from oftsr_edge.vocabulary import IntOrWord, option

_FORMATS = ("auto", "png", "jpg", "webp", "tif", "bmp")


def _echo_warning(message: warnings.WarningMessage | Warning | str, *args: object, **kwargs: object) -> None:
    if "tqdm" in sys.modules:  # a progress bar is on screen: write above it
        sys.modules["tqdm"].tqdm.write(f"oftsr-edge: warning: {message}", file=sys.stderr)
    else:  # never a click helper: it may warn itself
        sys.stderr.write(f"oftsr-edge: warning: {message}\n")


@click.command("upscale", epilog=f"Reruns: {RULE}; --overwrite rewrites all.")
@click.argument("inputs", nargs=-1, type=click.Path(path_type=Path))
@option("--input", "extra_inputs", multiple=True, type=click.Path(path_type=Path),
        detail="repeatable; the same as a positional INPUT")
@option("--output", required=True, type=click.Path(),
        detail="a folder, or an image file name when the input is one file")
@option("--t", "t", type=float, default=None, detail="default: the model's")
@option("--solver-steps", type=int, default=None,
        detail="K calls of a two-time (MeanFlow) student's few-step path from 0 to t (docs/architecture.md §5); "
        "default: the model's (1; one-step models take 1 only)")
@option("--seed", type=IntOrWord("random", min=0), default="0", show_default=True,
        detail="of the noise: an integer, or 'random' (a random seed's output is never reused)")
@option("--model", default="auto", show_default=True,
        detail="auto = per input: oftsr-real-x4 at t = 0 for JPEG, lossy WebP, noisy or blocky inputs, else the "
        "bundled default (README: Which model)")
@option("--scale", type=int, default=None, detail="must be the model's (a check for scripts from other tools)")
@option("--backend", type=click.Choice(BACKEND_NAMES, case_sensitive=False), default="auto", show_default=True)
@option("--device", type=int, default=None, detail="default 0; GPU backends and auto only")
@option("--tile", type=IntOrWord("auto", min=0), default="auto", show_default=True,
        detail="auto = one whole-image call when it fits --memory-budget, else the least-waste tiles that do; "
        "0 = whole image")
@option("--overlap", type=int, default=None, detail="default: 16 with auto, else tile/8, at least 8")
@option("--memory-budget", type=click.IntRange(min=1), default=None,
        detail="default: half the free RAM (free VRAM on a GPU), read per image")
@option("--batch-size", type=int, default=1, show_default=True, detail="tiles per backend call (GPU)")
@option("--threads", type=int, default=None, detail="for ONNX Runtime (default: one per core); ort-cpu, ort, auto")
@option("--overwrite", is_flag=True, detail="by default only outputs made with other settings are rewritten")
@option("--recursive", is_flag=True)
@option("--suffix", default="", detail="e.g. _x4")
@option("--max-pixels", type=click.IntRange(min=1), default=None,
        detail=f"larger inputs are refused from their header; default {image_io.max_pixels():,}")
@option("--format", "fmt", type=click.Choice(_FORMATS, case_sensitive=False), default="auto", show_default=True,
        detail="auto = the input's; must match an output file name's extension")
@option("--png-compression", type=click.IntRange(0, 9), default=PNG_COMPRESSION, show_default=True,
        detail="1 is fast; 9 makes files ~15% smaller and is ~5x slower (README: Output files)")
@option("--quality", type=click.IntRange(1, 100), default=None, detail="default: 95")
@option("--codec", default=None, detail="video inputs only; default libx264 (libvpx-vp9 for .webm)")
@option("--crf", type=int, default=None, detail="video inputs only; default 18 for libx264")
@option("--quiet", is_flag=True)
def upscale(
    inputs: tuple[Path, ...],
    extra_inputs: tuple[Path, ...],
    output: str,
    t: float | None,
    solver_steps: int | None,
    seed: int | str,
    model: str | None,
    scale: int | None,
    backend: str,
    device: int | None,
    tile: int | str,
    overlap: int | None,
    memory_budget: int | None,
    batch_size: int,
    threads: int | None,
    overwrite: bool,
    recursive: bool,
    suffix: str,
    max_pixels: int | None,
    fmt: str,
    png_compression: int,
    quality: int | None,
    codec: str | None,
    crf: int | None,
    quiet: bool,
) -> None:
    """Upscale INPUT images/folders into -o OUTPUT with a one-step OFTSR model (or a MeanFlow student's few steps)."""
    backend_options = parse_backend(backend, device=device, threads=threads)
    budget = None if memory_budget is None else memory_budget * MIB
    settings = Settings(t=t, seed=None if seed == "random" else int(seed), solver_steps=solver_steps, tile=tile,
                        overlap=overlap, batch_size=batch_size, memory_budget=budget)  # fmt: skip
    from oftsr_edge.runtime.cli.video import (  # PyAV: decode/upscale/encode
        VideoJob,
        dispatch,
        video_target,
    )

    folder_output = output.endswith(("/", os.sep))  # "-o x.png/" is a folder (pathlib drops the slash)
    sources = tuple(inputs) + tuple(extra_inputs)

    def video_job(video: Path) -> VideoJob:
        target = video_target(video, Path(output))
        return VideoJob(video, target, model, backend_options, settings, scale, codec, crf, overwrite, quiet)

    if dispatch(sources, video_job):
        return
    fmt = fmt.lower()
    jobs = plan_jobs(sources, Path(output), recursive, suffix, fmt, folder=folder_output)
    if model is not None and model.lower() != "auto":
        resolve_model(model)  # a wrong name or path is one line before any input is read
    run = FolderRun(backend_options, scale, overwrite, quiet, WriteOptions(png_compression, quality))
    limit = image_io.max_pixels()
    failed = 0
    with warnings.catch_warnings():
        warnings.showwarning = _echo_warning
        try:
            if max_pixels is not None:
                image_io.set_max_pixels(max_pixels)
            auto = model is None or model.lower() == "auto"
            groups = _auto_groups(jobs) if auto else [(model, None, jobs, None)]
            for name, group_t, group, choices in groups:
                # --model auto's t for its choice, unless --t was given
                chosen = settings if t is not None or group_t is None else settings.replace(t=group_t)
                failed += _run(group, name, chosen, run, choices)
        finally:
            image_io.set_max_pixels(limit)  # a process-wide Pillow setting: back to what it was
    if failed:
        raise OftsrError(f"{failed} of {len(jobs)} image(s) failed (see above)")


@dataclass(frozen=True)
class FolderRun:
    """How a folder run treats its files (the settings of each image are a :class:`Settings`)."""

    backend: BackendOptions
    scale: int | None  # None = the model's; else it must be the model's
    overwrite: bool  # rewrite outputs even when their recorded settings match
    quiet: bool  # no progress bar
    write: WriteOptions  # PNG compression level, JPEG/WebP quality


def _auto_groups(jobs: list[Job]) -> list[tuple[str, float | None, list[Job], dict[str, dict]]]:
    """``--model auto``: the model (and t) per input, one line per model used; the choice goes into each output's
    settings record (keyed by the input's sha256, which the record already carries)."""
    from oftsr_edge.fileio import sha256_file
    from oftsr_edge.runtime.auto_model import choose_for_file

    by_model: dict[tuple[str, float | None], tuple[list[Job], dict[str, dict], list[str]]] = {}
    for job in jobs:
        try:
            choice = choose_for_file(job.source)
            sha = sha256_file(job.source)
        except (OftsrError, OSError):  # the run reports the file's problem in its own line
            from oftsr_edge.runtime.auto_model import Choice
            from oftsr_edge.runtime.models import auto_table

            clean = auto_table()["clean"]
            choice, sha = Choice("clean", clean["model"], clean.get("t"), "unreadable"), ""
        group = by_model.setdefault((choice.model, choice.t), ([], {}, []))
        group[0].append(job)
        if sha:
            group[1][sha] = choice.record()
        group[2].append(choice.line(job.source.name))
    for (_name, _), (group, _, lines) in by_model.items():
        more = f" (and {len(group) - 1} more image(s) with this model)" if len(group) > 1 else ""
        click.echo(f"oftsr-edge: --model auto: {lines[0]}{more}; --model NAME chooses yourself")
    return [(name, t, group, choices) for (name, t), (group, choices, _) in by_model.items()]


def _run(jobs: list[Job], model: str | None, settings: Settings, options: FolderRun,
         choices: dict[str, dict] | None = None) -> int:  # fmt: skip
    """Upscale ``jobs`` with one Upscaler through the folder pipeline; a bad image is one line and the rest go on,
    a bad option stops the run. Existing outputs follow the rerun rule; both kinds are counted in the summary.
    ``choices``: --model auto's choice per input sha256, for the records. Returns the number of failed images."""
    from oftsr_edge.runtime.pipeline import run_folder
    from oftsr_edge.runtime.upscaler import Upscaler

    err = sys.stderr
    start = time.perf_counter()
    # the model as given: a bundled name lets --backend auto choose among its precision files
    with Upscaler(model, options.backend, settings) as upscaler:
        upscaler.auto_choices = choices
        check_scale_option(options.scale, upscaler.spec)
        bar = None
        if not options.quiet:  # tqdm is imported only for a bar (start-up time counts in short runs)
            from tqdm import tqdm

            bar = tqdm(total=0, unit="tile", file=err, disable=None)  # None: off when stderr is no terminal

        def progress(job: Job, index: int) -> object:
            bar.set_description(f"{index}/{len(jobs)} {job.source.name}")

            def step(done: int, total: int) -> None:
                if done == 1:
                    bar.total += total
                    bar.refresh()
                bar.update(1)

            return step

        def on_error(job: Job, exc: OftsrError) -> None:
            if bar is not None:
                bar.write(f"oftsr-edge: error: {exc}", file=err)
            else:
                click.echo(f"oftsr-edge: error: {exc}", err=True)

        result = FolderResult()
        try:
            run_folder(
                upscaler, jobs, overwrite=options.overwrite, write=options.write, on_error=on_error,
                progress=progress if bar is not None else None, result=result,
            )  # fmt: skip
        except KeyboardInterrupt:  # Ctrl-C or SIGTERM: say what is finished, then exit 130
            if not interrupts.reported():
                interrupts.mark_reported()
                click.echo(_stopped(result, len(jobs)))
            raise
        finally:
            if bar is not None:
                bar.close()
        name = upscaler.backend_name
    seconds = time.perf_counter() - start
    failed = len(result.failures)
    click.echo(_summary(result.done, result.skipped, result.rewritten, failed, result.lr_mp, result.hr_mp, seconds,
                        name, result.swept))  # fmt: skip
    return failed


def _stopped(result: FolderResult, total: int) -> str:
    """The summary of an interrupted run: what is finished (complete files only) and how to finish the rest."""
    skipped = f", {result.skipped} skipped" if result.skipped else ""
    return (
        f"oftsr-edge: stopped early: upscaled {result.done} of {total} image(s){skipped}; no partial files were "
        "left; rerun the same command to finish the rest"
    )


def _summary(
    done: int, skipped: int, rewritten: int, failed: int, lr_mp: float, hr_mp: float, seconds: float, backend: str,
    swept: int = 0,
) -> str:
    """One line: what was made, and what happened to outputs that already existed (the rerun rule)."""
    notes = []
    if swept:
        notes.append(f"{swept} stale temporary file(s) of an interrupted run removed")
    if skipped:
        notes.append(f"{skipped} skipped (made from the same input with the same model and settings)")
    if rewritten:
        notes.append(f"{rewritten} rewritten (made with other settings, or with no record of them)")
    if failed:
        notes.append(f"{failed} failed")
    tail = f"; {', '.join(notes)}" if notes else ""
    if not done and not failed:
        return f"oftsr-edge: nothing to do{tail}; --overwrite rewrites them"
    rate = hr_mp / seconds if seconds > 0 else 0.0
    return (
        f"oftsr-edge: upscaled {done} image(s), {lr_mp:.2f} MP -> {hr_mp:.2f} MP in {seconds:.2f} s "
        f"({rate:.2f} MP/s) on {backend}{tail}"
    )
