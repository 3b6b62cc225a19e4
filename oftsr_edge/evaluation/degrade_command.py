"""``oftsr-edge degrade``: a paired LR/HR test set made from any HR folder by a named degradation, at a fixed seed.

Users who want to know how a model does on *their* kind of photos need pairs; real LR photos have no HR. This writes
the layout of the shipped validation sets (``OUT/HR`` + ``OUT/LR_<degradation>/X<s>``), so ``eval --hr --lr`` reads
it as is, and the same seed gives the same pairs on every machine (docs/degradations.md).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import click
import numpy as np

from oftsr_edge.errors import OftsrError
from oftsr_edge.evaluation.dataset import DEGRADATIONS, image_rng, list_images, make_lr, read_uint8
from oftsr_edge.fileio import write_text_atomic
from oftsr_edge.runtime import image_io
from oftsr_edge.vocabulary import option

MANIFEST = "degrade.json"


def _crop(hr: np.ndarray, crop: int | None, rng: np.random.Generator) -> np.ndarray | None:
    """A ``crop``² window at a seeded position (None when the image is smaller), or the whole image."""
    if crop is None:
        return hr
    h, w = hr.shape[:2]
    if h < crop or w < crop:
        return None
    top, left = int(rng.integers(0, h - crop + 1)), int(rng.integers(0, w - crop + 1))
    return hr[top : top + crop, left : left + crop]


def _check_output(out: Path, overwrite: bool) -> None:
    """Refuse to mix with an earlier set, or to replace a folder this command did not write."""
    if out.exists() and not out.is_dir():
        raise OftsrError(f"--output {out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise OftsrError(f"--output {out} is not empty; pass --overwrite to replace the set in it")
        if not (out / MANIFEST).is_file():
            raise OftsrError(f"--output {out} holds files that 'oftsr-edge degrade' did not write; not touching them")


def _publish(staging: Path, out: Path) -> None:
    """Swap the finished set into place: an earlier set is removed only once the new one is complete."""
    if out.exists():
        shutil.rmtree(out)
    staging.rename(out)


def _stems_unique(files: list[Path]) -> None:
    seen: dict[str, Path] = {}
    for f in files:
        if f.stem in seen:
            raise OftsrError(f"{seen[f.stem].name} and {f.name} would both be written as {f.stem}.png")
        seen[f.stem] = f


def degrade_folder(
    hr_dir: Path, out: Path, scale: int, degradation: str, seed: int, crop: int | None, limit: int | None,
    overwrite: bool = False,
) -> dict:
    """Write the pairs; returns the manifest (settings, written and skipped names), which is also saved beside them."""
    if degradation not in DEGRADATIONS:
        raise OftsrError(f"unknown degradation {degradation!r}; choose from {', '.join(DEGRADATIONS)}")
    if scale not in (2, 4, 8):
        raise OftsrError(f"--scale must be 2, 4 or 8, got {scale}")
    if crop is not None and crop % scale:
        raise OftsrError(f"--crop {crop} is not a multiple of the scale {scale}")
    files = list_images(hr_dir)[:limit] if limit else list_images(hr_dir)
    _stems_unique(files)
    _check_output(out, overwrite)
    staging = out.parent / f".{out.name}.partial"  # a run killed midway leaves only this, replaced by the next run
    if staging.exists():
        shutil.rmtree(staging)
    hr_out, lr_out = staging / "HR", staging / f"LR_{degradation}" / f"X{scale}"
    written, skipped = [], []
    for path in files:
        rng = image_rng(seed, path.name)
        hr = _crop(read_uint8(path), crop, rng)
        if hr is None or min(hr.shape[:2]) < scale:
            skipped.append(path.name)
            continue
        hr = hr[: hr.shape[0] // scale * scale, : hr.shape[1] // scale * scale]
        lr = make_lr(np.ascontiguousarray(hr), scale, degradation, rng)
        for folder, pixels in ((hr_out, hr), (lr_out, lr)):
            image_io.write_image(folder / f"{path.stem}.png", pixels[..., 0] if pixels.shape[2] == 1 else pixels)
        written.append(path.stem)
    if not written:
        shutil.rmtree(staging, ignore_errors=True)
        raise OftsrError(f"no image in {hr_dir} is at least {crop or scale} pixels on each side")
    manifest = {"hr_dir": str(hr_dir), "scale": scale, "degradation": degradation, "seed": seed, "crop": crop,
                "written": written, "skipped_too_small": skipped}
    write_text_atomic(staging / MANIFEST, json.dumps(manifest, indent=1) + "\n")
    _publish(staging, out)
    return manifest


@click.command(name="degrade")
@option("--hr", "hr_dir", required=True, type=click.Path(path_type=Path))
@option("--output", "out", required=True, type=click.Path(path_type=Path), detail="a folder: HR/ and LR_<d>/X<s>/")
@option("--scale", default=4, show_default=True, type=int, detail="2, 4 or 8")
@option("--degradation", default="realesrgan", show_default=True, type=click.Choice(list(DEGRADATIONS)))
@option("--seed", default=0, show_default=True, type=click.IntRange(0), detail="of the degradation and the crops")
@option("--crop", type=click.IntRange(8), default=None, detail="one window per image at a seeded position; "
        "default: the whole image (smaller images are skipped and counted)")
@option("--limit", type=click.IntRange(1), default=None)
@option("--overwrite", is_flag=True)
def degrade(hr_dir: Path, out: Path, scale: int, degradation: str, seed: int, crop: int | None, limit: int | None,
            overwrite: bool) -> None:
    """Make a paired test set (HR + degraded LR) from a folder of HR photos; needs torch for realesrgan."""
    if degradation != "bicubic":
        from oftsr_edge.extras import require

        require("train", "torch")
    manifest = degrade_folder(hr_dir, out, scale, degradation, seed, crop, limit, overwrite)
    lr_dir = out / f"LR_{degradation}" / f"X{scale}"
    skipped = len(manifest["skipped_too_small"])
    click.echo(f"wrote {len(manifest['written'])} pairs to {out}" + (f" ({skipped} smaller than --crop skipped)"
               if skipped else "") + f"; score a model with: oftsr-edge eval --hr {out / 'HR'} --lr {lr_dir}")
