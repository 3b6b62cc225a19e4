"""Which file each input of ``oftsr-edge upscale`` becomes: every check that needs only names, done before any work.

Why all here, before the model opens: a run that would destroy or clobber something must stop before it writes
anything. The rules:

- an output is never any input of the same run (not only its own: ``upscale a.png a_x4.png -o . --suffix _x4``
  would replace the input ``a_x4.png`` with a's upscale), nor the input folder itself;
- ``-o`` names one image file only for one input file; a name that ends in ``/`` is a folder; a name with an image
  extension we cannot write (``x.gif``) or an image name with several inputs is refused instead of silently
  becoming a folder of that name;
- an output file name longer than the folder allows (a long ``--suffix``) is refused here, in one line;
- ``--recursive`` follows symlinked folders, once each: a link back to a folder already walked (a loop) is skipped
  with a warning.

Whether an *existing* output may be replaced (only one we wrote, or with ``--overwrite``) is decided per image when
the run reaches it (:mod:`oftsr_edge.runtime.pipeline`), from the record inside the file.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from PIL import Image

from oftsr_edge.errors import OftsrError, OptionError
from oftsr_edge.runtime.io import image_io
from oftsr_edge.runtime.pipeline import Job


def plan_jobs(
    inputs: tuple[Path, ...], output: Path, recursive: bool, suffix: str, fmt: str, *, folder: bool = False
) -> list[Job]:
    """Pair every input image with its output path; every problem is a one-line error. ``folder``: ``-o`` was
    written with a trailing slash, so it is a folder whatever its name."""
    if not inputs:
        raise OftsrError("no input given: oftsr-edge upscale INPUT... -o OUT")
    _check_suffix(suffix)
    found = _sources(inputs, output, recursive)
    single_file = len(inputs) == 1 and not inputs[0].is_dir()
    _check_output_name(output, folder, single_file, len(found))
    if single_file and image_io.is_image_path(output) and not output.is_dir() and not folder:
        if fmt != "auto" and image_io.format_for(output) != image_io.format_for(Path(f"x.{fmt}")):
            raise OftsrError(
                f"{output}: --format {fmt} does not match the file name's extension "
                f"{output.suffix!r}; name the output .{fmt} or drop --format"
            )
        jobs = [Job(found[0][0], output)]
    else:
        if output.exists() and not output.is_dir():
            raise OftsrError(f"{output}: exists and is not a folder; give an output folder for these inputs")
        jobs, seen = [], set()
        for source, rel in found:
            ext = source.suffix if fmt == "auto" else f".{fmt}"
            target = output / rel.with_name(f"{rel.stem}{suffix}{ext}")
            if target in seen:
                raise OftsrError(f"{target}: two inputs would write the same output; use separate runs or --suffix")
            seen.add(target)
            jobs.append(Job(source, target))
    _check_names(jobs)
    _not_onto_inputs(jobs)
    return jobs


def _sources(inputs: tuple[Path, ...], output: Path, recursive: bool) -> list[tuple[Path, Path]]:
    """(source, path relative to the output folder) of every input image."""
    found: list[tuple[Path, Path]] = []
    out_root = output.resolve()
    for item in inputs:
        if not item.exists():
            raise OftsrError(f"{item}: no such file or directory")
        if item.is_dir():
            root = item.resolve()
            if out_root == root:
                raise OftsrError(f"{output}: is the input folder; outputs would overwrite their inputs or be read "
                                 "back as inputs on the next run: choose another -o")  # fmt: skip
            # never feed earlier outputs back in (e.g. upscale photos -o photos/x4 -r)
            inside = root in out_root.parents
            images = [p for p in images_in(item, recursive) if not (inside and out_root in p.resolve().parents)]
            if not images:
                hint = "" if recursive else "; use --recursive for sub-folders"
                raise OftsrError(f"{item}: no images found ({', '.join(sorted(image_io.FORMATS))}{hint})")
            found += [(p, p.relative_to(item)) for p in images]
        else:
            image_io.format_for(item)
            image_io.check_regular_file(item)  # a FIFO or device would block the run forever
            found.append((item, Path(item.name)))
    return found


def images_in(folder: Path, recursive: bool) -> list[Path]:
    """The images of ``folder`` (:func:`~oftsr_edge.runtime.io.image_io.list_images`'s rule); with ``recursive``,
    symlinked sub-folders are followed, each real folder walked once (a loop is skipped with a warning)."""
    if not recursive:
        return image_io.list_images(folder, False)
    found: list[Path] = []
    walked: dict[tuple[int, int], str] = {}
    for path, subfolders, files in os.walk(folder, followlinks=True):
        try:
            info = os.stat(path)
        except OSError:
            subfolders[:] = []
            continue
        key = (info.st_dev, info.st_ino)
        if key in walked:
            warnings.warn(f"{path}: a symlink to {walked[key]}, which is already read; not read twice",
                          RuntimeWarning, stacklevel=2)  # fmt: skip
            subfolders[:] = []
            continue
        walked[key] = path
        subfolders.sort()
        for name in files:
            candidate = Path(path) / name
            if not name.startswith(".") and image_io.is_image_path(candidate) and candidate.is_file():
                found.append(candidate)
    return sorted(found)


def _writable_suffixes() -> set[str]:
    """Every extension Pillow knows as an image format (so ``x.gif`` reads as a file name, not a folder)."""
    Image.init()
    return {ext.lower() for ext in Image.registered_extensions()}


def _check_output_name(output: Path, folder: bool, single_file: bool, count: int) -> None:
    """``-o`` that looks like an image file must be one: refuse what would silently become a folder of that name."""
    if folder or output.exists():
        return  # an existing folder is one; an existing file with a folder's inputs is refused by the caller
    suffix = output.suffix.lower()
    if suffix in image_io.FORMATS:
        if not single_file:
            raise OftsrError(f"{output}: names an image file, but this run writes {count} image(s) (from a folder or "
                             "several inputs); give a folder for -o "
                             f"(end it with '/' for a folder named {output.name!r})")  # fmt: skip
        return
    if suffix in _writable_suffixes():
        raise OftsrError(f"{output}: unsupported output format {suffix!r} (supported: "
                         f"{', '.join(sorted(image_io.FORMATS))}); end it with '/' for a folder of that name")  # fmt: skip


def _check_suffix(suffix: str) -> None:
    """The suffix goes into a file name: a path separator would point elsewhere (or out of -o)."""
    bad = [c for c in dict.fromkeys(("/", os.sep, os.altsep, "\0")) if c and c in suffix]
    if bad:
        raise OptionError(f"--suffix {suffix!r} must not contain {bad[0]!r}: it is appended to each output's "
                          "file name")  # fmt: skip


def _name_max(folder: Path) -> int:
    """The longest file name (bytes) the nearest existing folder on the way to ``folder`` allows."""
    for candidate in (folder, *folder.parents):
        if candidate.is_dir():
            try:
                return int(os.pathconf(candidate, "PC_NAME_MAX"))
            except (OSError, ValueError):
                break
    return 255


def _check_names(jobs: list[Job]) -> None:
    """Every output name fits its folder (checked on the longest, once per folder)."""
    longest: dict[Path, Path] = {}
    for job in jobs:
        current = longest.get(job.target.parent)
        if current is None or len(os.fsencode(job.target.name)) > len(os.fsencode(current.name)):
            longest[job.target.parent] = job.target
    for parent, target in longest.items():
        size, limit = len(os.fsencode(target.name)), _name_max(parent)
        if size > limit:
            raise OptionError(f"{target.name[:40]}...: output file name is {size} bytes, over the limit of {limit} "
                              "(a shorter --suffix, or shorter input names)")  # fmt: skip


def _identity(path: Path) -> tuple[object, ...]:
    """What makes two paths one file: the device and inode when it exists (hard links too), else the real path."""
    try:
        info = path.stat()
    except OSError:
        return ("path", os.path.realpath(path))
    return ("inode", info.st_dev, info.st_ino)


def _not_onto_inputs(jobs: list[Job]) -> None:
    """No output may be any input of the run: refused before anything is written."""
    sources = {_identity(job.source): job.source for job in jobs}
    for job in jobs:
        hit = sources.get(_identity(job.target))
        if hit is not None:
            what = "its input" if hit == job.source else f"the input {hit} of this run"
            raise OftsrError(f"{job.target}: output would overwrite {what}; choose another -o or a --suffix")
