"""``oftsr-edge reference-cache``: run a trained peer once over degraded training crops (resumable)."""

from __future__ import annotations

from pathlib import Path

import click

from oftsr_edge.extras import require
from oftsr_edge.vocabulary import option


@click.command(name="reference-cache")
@option("--data", required=True, type=click.Path(path_type=Path))
@option("--exclude", multiple=True, metavar="GLOB")
@option("--output", "out", required=True, type=click.Path(path_type=Path), detail="the cache folder")
@option("--realism-teacher", "reference", type=click.Choice(["realesrgan-ncnn"]), default="realesrgan-ncnn",
        show_default=True, detail="Real-ESRGAN x4plus through ncnn on CPU")
@option("--degradation", type=click.Choice(["bicubic", "realesrgan", "realesrgan-mix"]), default="realesrgan-mix",
        show_default=True)
@option("--count", type=click.IntRange(min=1), default=800, show_default=True,
        detail="a rerun with a larger count adds crops")
@option("--lr-size", type=click.IntRange(min=16, max=512), default=64, show_default=True)
@option("--seed", type=int, default=0, show_default=True)
@option("--threads", type=click.IntRange(min=1), default=None, detail="for torch's degradations")
def reference_cache(data: Path, exclude: tuple[str, ...], out: Path, reference: str, degradation: str, count: int,
                    lr_size: int, seed: int, threads: int | None) -> None:
    """Cache a trained peer's x4 outputs on degraded crops, the realism end's target for `distill --realism-cache`.
    Crop i depends only on (data, exclude, seed, i): rerunning the command resumes or regenerates it."""
    require("train", "torch", "scipy")
    from tqdm import tqdm

    from oftsr_edge.teachers.reference_cache import CacheSettings, build_reference_cache

    if threads:
        import torch

        torch.set_num_threads(threads)
    settings = CacheSettings(reference, str(data.resolve()), tuple(exclude), degradation, 4, lr_size, seed)
    with tqdm(total=count, desc="reference crops", unit="crop", dynamic_ncols=True) as bar:
        def progress(done: int, todo: int) -> None:
            bar.n = count - todo + done
            bar.refresh()

        written = build_reference_cache(out, settings, count, progress)
    click.echo(f"{out}: {written} crops written, {count} in all")
