"""``oftsr-edge degrade``: a paired LR/HR test set made from any HR folder by a named degradation, at a fixed seed.

Users who want to know how a model does on *their* kind of photos need pairs; real LR photos have no HR. This writes
the layout of the shipped validation sets (``OUT/HR`` + ``OUT/LR_<degradation>/X<s>``), so ``eval --hr --lr`` reads
it as is, and the same seed gives the same pairs on every machine (docs/degradations.md).
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import click
import numpy as np

from oftsr_edge.errors import MissingExtraError, OftsrError
from oftsr_edge.evaluation.dataset import image_rng, list_images, make_lr, read_uint8
from oftsr_edge.fileio import sweep_stale, temp_dir, write_text_atomic
from oftsr_edge.pairs import DEGRADATIONS
from oftsr_edge.runtime.io import image_io
from oftsr_edge.vocabulary import option

MANIFEST = "degrade.json"
DEFAULT_DEGRADATION = "realesrgan"


def _crop(hr: np.ndarray, crop: int | None, rng: np.random.Generator) -> np.ndarray | None:
    """A ``crop``² window at a seeded position (None when the image is smaller), or the whole image."""
    if crop is None:
        return hr
    h, w = hr.shape[:2]
    if h < crop or w < crop:
        return None
    top, left = int(rng.integers(0, h - crop + 1)), int(rng.integers(0, w - crop + 1))
    return hr[top : top + crop, left : left + crop]


def _check_output(out: Path, hr_dir: Path, overwrite: bool) -> None:
    """Refuse to mix with an earlier set, to replace a folder this command did not write, or to write where the
    photos are read from: ``--overwrite`` replaces the whole output folder, so an output that is or holds the
    ``--hr`` folder (``-o ds`` with ``--hr ds/HR``) would delete the very photos the set is made from."""
    source, target = hr_dir.resolve(), out.resolve()
    if target == source or target in source.parents:
        raise OftsrError(f"--output {out} is or contains the --hr folder {hr_dir}; write the set to another folder")
    if out.exists() and not out.is_dir():
        raise OftsrError(f"--output {out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise OftsrError(f"--output {out} is not empty; pass --overwrite to replace the set in it")
        if not (out / MANIFEST).is_file():
            raise OftsrError(f"--output {out} holds files that 'oftsr-edge degrade' did not write; not touching them")


def _publish(staging: Path, out: Path) -> None:
    """Swap the finished set into place: an earlier set is moved aside (two renames, no gap while it is deleted)
    only once the new one is complete, and removed after."""
    if not out.exists():
        staging.rename(out)
        return
    aside = temp_dir(out.parent, out.name)
    out.rename(aside / "old")
    try:
        staging.rename(out)
    except BaseException:
        (aside / "old").rename(out)
        raise
    finally:
        shutil.rmtree(aside, ignore_errors=True)


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
    _check_output(out, hr_dir, overwrite)
    out.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale(out.parent)  # the staging folder of a killed run
    # named like every temporary (owner pid inside), so a SIGKILLed run's folder is swept by the next one; the set
    # is made in a sub-folder, which gets the usual permissions (the temporary folder itself is private)
    holder = temp_dir(out.parent, out.name)
    staging = holder / "set"
    try:
        staging.mkdir()
        manifest = _write_pairs(files, staging, scale, degradation, seed, crop)
        if not manifest["written"]:
            raise OftsrError(f"no readable image in {hr_dir} is at least {crop or scale} pixels on each side")
        manifest = {"hr_dir": str(hr_dir), **manifest}
        write_text_atomic(staging / MANIFEST, json.dumps(manifest, indent=1) + "\n")
        _publish(staging, out)
    finally:  # an error, Ctrl-C or SIGTERM: nothing half-made stays beside the output
        shutil.rmtree(holder, ignore_errors=True)
    return manifest


def _write_pairs(files: list[Path], staging: Path, scale: int, degradation: str, seed: int,
                 crop: int | None) -> dict:
    """Write each readable, large-enough photo's pair into ``staging``; an unreadable file (truncated, corrupt)
    is skipped with a one-line warning, as ``upscale`` and ``train`` do, instead of ending the whole set."""
    hr_out, lr_out = staging / "HR", staging / f"LR_{degradation}" / f"X{scale}"
    written, skipped, unreadable = [], [], []
    for path in files:
        rng = image_rng(seed, path.name)
        try:
            pixels = read_uint8(path)
        except OftsrError as exc:
            warnings.warn(f"skipped: {exc}", RuntimeWarning, stacklevel=2)
            unreadable.append(path.name)
            continue
        hr = _crop(pixels, crop, rng)
        if hr is None or min(hr.shape[:2]) < scale:
            skipped.append(path.name)
            continue
        hr = hr[: hr.shape[0] // scale * scale, : hr.shape[1] // scale * scale]
        lr = make_lr(np.ascontiguousarray(hr), scale, degradation, rng)
        for folder, pixels in ((hr_out, hr), (lr_out, lr)):
            image_io.write_image(folder / f"{path.stem}.png", pixels[..., 0] if pixels.shape[2] == 1 else pixels)
        written.append(path.stem)
    return {"scale": scale, "degradation": degradation, "seed": seed, "crop": crop, "written": written,
            "skipped_too_small": skipped, "skipped_unreadable": unreadable}


@click.command(name="degrade")
@option("--hr", "hr_dir", required=True, type=click.Path(path_type=Path))
@option("--output", "out", required=True, type=click.Path(path_type=Path), detail="a folder: HR/ and LR_<d>/X<s>/")
@option("--scale", default=4, show_default=True, type=int, detail="2, 4 or 8")
@option("--degradation", default=DEFAULT_DEGRADATION, show_default=True, type=click.Choice(list(DEGRADATIONS)))
@option("--seed", default=0, show_default=True, type=click.IntRange(0), detail="of the degradation and the crops")
@option("--crop", type=click.IntRange(8), default=None, detail="one window per image at a seeded position; "
        "default: the whole image (smaller images are skipped and counted)")
@option("--limit", type=click.IntRange(1), default=None)
@option("--overwrite", is_flag=True)
def degrade(hr_dir: Path, out: Path, scale: int, degradation: str, seed: int, crop: int | None, limit: int | None,
            overwrite: bool) -> None:
    """Make a paired test set (HR + degraded LR) from a folder of HR photos; needs torch for realesrgan."""
    if degradation != "bicubic":
        _require_torch(degradation)
    manifest = degrade_folder(hr_dir, out, scale, degradation, seed, crop, limit, overwrite)
    lr_dir = out / f"LR_{degradation}" / f"X{scale}"
    notes = [f"{n} {why} skipped" for n, why in ((len(manifest["skipped_too_small"]), "smaller than --crop"),
                                                   (len(manifest["skipped_unreadable"]), "unreadable")) if n]
    click.echo(f"wrote {len(manifest['written'])} pairs to {out}" + (f" ({', '.join(notes)})" if notes else "")
               + f"; score a model with: oftsr-edge eval --hr {out / 'HR'} --lr {lr_dir}")


def _require_torch(degradation: str) -> None:
    """The default degradation stays the realistic one (the set must not change with what is installed), so a
    base install is told in one line how to get it, or which degradation needs nothing more."""
    from oftsr_edge.extras import require

    try:
        require("train", "torch")
    except MissingExtraError:
        default = " (the default)" if degradation == DEFAULT_DEGRADATION else ""
        raise MissingExtraError(f"--degradation {degradation}{default} needs torch, which is not installed: "
                                "pip install 'oftsr-edge[train]', or pass --degradation bicubic (no torch needed)"
                                ) from None
