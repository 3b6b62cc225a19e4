"""``oftsr-edge upscale``: upscale image files and folders with an exported model, torch-free.

Outputs mirror the inputs' names (and sub-folders, with --recursive) under the output folder; existing outputs are
skipped unless --overwrite. In a run over several images a bad image is reported on one line and the rest still
complete; the exit status is non-zero at the end. Every output is written atomically, so a failure never leaves a
partial file.
"""

from __future__ import annotations

import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import click

from oftsr_edge.errors import OftsrError
from oftsr_edge.runtime import image_io
from oftsr_edge.runtime.backends.options import BACKEND_NAMES, BackendOptions, parse_backend
from oftsr_edge.runtime.checks import OptionError

#: the model used when --model is not given (shipped as package data once a trained default exists)
DEFAULT_MODEL = Path(__file__).resolve().parents[1] / "models" / "default.onnx"
_FORMATS = ("same", "png", "jpg", "webp", "tif", "bmp")


@dataclass(frozen=True)
class Job:
    source: Path
    target: Path


@dataclass(frozen=True)
class RunOptions:
    """One run as the command line asked for it: text already parsed, values checked by whoever uses them (the
    backend options when made, the Upscaler for the tiling, t and the seed)."""

    model: Path
    backend: BackendOptions
    tile: int | None = None  # LR tile edge; None = the model's, 0 = whole image
    overlap: int | None = None  # None = tile/8, at least 8
    batch: int = 1  # tiles per backend call
    t: float | None = None  # None = the model's default
    seed: int | None = 0  # None = a fresh random seed per image
    quiet: bool = False  # no progress bar


def default_model() -> Path:
    if DEFAULT_MODEL.is_file():
        return DEFAULT_MODEL
    raise OftsrError(
        "no default model ships with this version of oftsr-edge yet: pass --model PATH "
        "(an ONNX from 'oftsr-edge export' or a TensorRT engine from 'oftsr-edge build')"
    )


def _images_in(folder: Path, recursive: bool) -> list[Path]:
    return image_io.list_images(folder, recursive)


def plan_jobs(inputs: tuple[Path, ...], output: Path, recursive: bool, suffix: str, fmt: str) -> list[Job]:
    """Pair every input image with its output path; input problems are one-line errors."""
    if not inputs:
        raise OftsrError("no input given: oftsr-edge upscale INPUT... -o OUT")
    found: list[tuple[Path, Path]] = []  # (source, path relative to the output folder)
    out_root = output.resolve()
    for item in inputs:
        if not item.exists():
            raise OftsrError(f"{item}: no such file or directory")
        if item.is_dir():
            # never feed earlier outputs back in (e.g. upscale photos -o photos/x4 -r)
            images = [p for p in _images_in(item, recursive) if out_root not in p.resolve().parents]
            if not images:
                hint = "" if recursive else "; use --recursive for sub-folders"
                raise OftsrError(f"{item}: no images found ({', '.join(sorted(image_io.FORMATS))}{hint})")
            found += [(p, p.relative_to(item)) for p in images]
        else:
            image_io.format_for(item)
            found.append((item, Path(item.name)))
    single_file = len(inputs) == 1 and not inputs[0].is_dir()
    if single_file and image_io.is_image_path(output) and not output.is_dir():
        return [Job(found[0][0], output)]
    if output.exists() and not output.is_dir():
        raise OftsrError(f"{output}: exists and is not a folder; give an output folder for these inputs")
    jobs, seen = [], set()
    for source, rel in found:
        ext = source.suffix if fmt == "same" else f".{fmt}"
        target = output / rel.with_name(f"{rel.stem}{suffix}{ext}")
        if target in seen:
            raise OftsrError(
                f"{target}: two inputs would write the same output; use separate runs or --suffix"
            )
        seen.add(target)
        jobs.append(Job(source, target))
    return jobs


def _echo_warning(message: warnings.WarningMessage | Warning | str, *args: object, **kwargs: object) -> None:
    from tqdm import tqdm

    tqdm.write(f"oftsr-edge: warning: {message}", file=sys.stderr)  # never a click helper: it may warn itself


@click.command("upscale")
@click.argument("inputs", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    required=True,
    help="Output folder (or an image file name when the input is one file).",
)
@click.option(
    "--t", "t", type=str, default=None, help="Fidelity (0) to realism (1) knob; default: the model's."
)
@click.option(
    "--seed", type=str, default="0", show_default=True, help="Noise seed (an integer, or 'random')."
)
@click.option(
    "--model",
    type=click.Path(path_type=Path),
    default=None,
    help="Exported .onnx or TensorRT .engine; default: the bundled model.",
)
@click.option(
    "--backend", type=str, default="auto", show_default=True, help=f"One of {', '.join(BACKEND_NAMES)}."
)
@click.option("--device", type=int, default=None, help="GPU index (default 0); GPU backends and auto only.")
@click.option("--tile", type=int, default=None, help="LR tile size (0 = whole image); default: the model's.")
@click.option(
    "--overlap", type=int, default=None, help="LR overlap between tiles; default: tile/8, at least 8."
)
@click.option("--batch", type=int, default=1, show_default=True, help="Tiles per backend call (GPU).")
@click.option(
    "--threads",
    type=int,
    default=None,
    help="CPU threads for ONNX Runtime (default: one per core); ort-cpu, ort, auto.",
)
@click.option("--overwrite", is_flag=True, help="Replace existing outputs (default: skip them).")
@click.option("-r", "--recursive", is_flag=True, help="Descend into sub-folders of input folders.")
@click.option("--suffix", default="", help="Appended to each output file's stem, e.g. _x4.")
@click.option(
    "--format",
    "fmt",
    type=str,
    default="same",
    show_default=True,
    help=f"Output format: {', '.join(_FORMATS)}.",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def upscale(
    inputs: tuple[Path, ...],
    output: Path,
    t: str | None,
    seed: str,
    model: Path | None,
    backend: str,
    device: int | None,
    tile: int | None,
    overlap: int | None,
    batch: int,
    threads: int | None,
    overwrite: bool,
    recursive: bool,
    suffix: str,
    fmt: str,
    quiet: bool,
) -> None:
    """Upscale INPUT images/folders into OUT with a one-step OFTSR model."""
    backend_options = parse_backend(backend, device=device, threads=threads)
    t_value, seed_value = _parse_t(t), _parse_seed(seed)
    if fmt.lower().lstrip(".") not in _FORMATS:
        raise OftsrError(f"unknown output format {fmt!r} (choose from {', '.join(_FORMATS)})")
    jobs = plan_jobs(inputs, output, recursive, suffix, fmt.lower().lstrip("."))
    todo = [job for job in jobs if overwrite or not job.target.exists()]
    options = RunOptions(
        model=model or default_model(),
        backend=backend_options,
        tile=tile,
        overlap=overlap,
        batch=batch,
        t=t_value,
        seed=seed_value,
        quiet=quiet,
    )
    with warnings.catch_warnings():
        warnings.showwarning = _echo_warning
        _run(todo, len(jobs) - len(todo), options)


def _parse_t(text: str | None) -> float | None:
    """--t as a number (None = the model's default); its range is the Upscaler's to check."""
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        raise OptionError(f"--t must be a number in [0, 1], got {text!r}") from None


def _parse_seed(text: str) -> int | None:
    """--seed as an integer, or None for 'random'; its range is the Upscaler's to check."""
    if text.strip().lower() == "random":
        return None
    try:
        return int(text)
    except ValueError:
        raise OptionError(f"--seed must be an integer or 'random', got {text!r}") from None


def _run(jobs: list[Job], skipped: int, options: RunOptions) -> None:
    """Upscale ``jobs`` with one Upscaler; a bad image is one line and the rest go on, a bad option stops the run."""
    from tqdm import tqdm

    from oftsr_edge.runtime.upscaler import Upscaler

    err = sys.stderr
    if not jobs:
        click.echo(f"oftsr-edge: nothing to do: {skipped} output(s) exist already (use --overwrite)")
        return
    start = time.perf_counter()
    failures: list[str] = []
    lr_mp = hr_mp = 0.0
    done = 0
    with Upscaler(
        options.model, options.backend, tile=options.tile, overlap=options.overlap, batch=options.batch
    ) as upscaler:
        bar = tqdm(total=0, unit="tile", disable=True if options.quiet else None, file=err)
        for index, job in enumerate(jobs, 1):
            bar.set_description(f"{index}/{len(jobs)} {job.source.name}")

            def progress(step: int, total: int) -> None:
                if step == 1:
                    bar.total += total
                    bar.refresh()
                bar.update(1)

            try:
                result = upscaler.upscale_file(
                    job.source, job.target, t=options.t, seed=options.seed, progress=progress
                )
            except OftsrError as exc:
                if len(jobs) == 1 or isinstance(exc, OptionError):  # an option is wrong for every image
                    bar.close()
                    raise
                failures.append(str(exc))
                tqdm.write(f"oftsr-edge: error: {exc}", file=err)
                continue
            done += 1
            lr_mp += result.lr_size[0] * result.lr_size[1] / 1e6
            hr_mp += result.hr_size[0] * result.hr_size[1] / 1e6
        bar.close()
        name = upscaler.backend_name
    seconds = time.perf_counter() - start
    rate = hr_mp / seconds if seconds > 0 else 0.0
    notes = [f"{skipped} skipped (exist; --overwrite replaces)"] if skipped else []
    notes += [f"{len(failures)} failed"] if failures else []
    click.echo(
        f"oftsr-edge: upscaled {done} image(s), {lr_mp:.2f} MP -> {hr_mp:.2f} MP in {seconds:.2f} s "
        f"({rate:.2f} MP/s) on {name}" + (f"; {', '.join(notes)}" if notes else "")
    )
    if failures:
        raise OftsrError(f"{len(failures)} of {len(jobs)} image(s) failed (see above)")
