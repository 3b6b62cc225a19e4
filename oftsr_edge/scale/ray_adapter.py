"""Ray Data adapter: ``ds.map_batches(RayUpscaler, fn_constructor_kwargs=..., concurrency=N)`` upscales a dataset
with oftsr-edge's runtime on every worker of a Ray cluster.

Why a callable class: Ray makes one instance per worker (an actor) and feeds it batch after batch, so the model is
loaded once per worker, not once per image. Each worker opens its own backend from the options it is given: CPU
workers ONNX Runtime (``OrtCpu(threads=k)``, k = the CPUs the worker reserves), GPU workers ``"auto"`` (TensorRT,
else ONNX Runtime's CUDA provider) with ``num_gpus=1`` in ``map_batches``.

Rows come from ``ray.data.read_images(..., include_paths=True)`` (pixels decoded by Ray, column ``image``) or from
any dataset with a ``path`` column (pixels read here with :func:`oftsr_edge.runtime.io.image_io.read_image`, which
also honours EXIF orientation and 16-bit PNGs, as the CLI does). With ``output`` each HR image is written
atomically beside its peers under ``output`` with the same settings record as ``oftsr-edge upscale`` writes, so the
files equal the CLI's byte for byte and reruns skip current outputs; without it the HR pixels are returned in the
``image`` column for the rest of the pipeline.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from oftsr_edge.errors import MissingExtraError, OftsrError, OptionError
from oftsr_edge.runtime import provenance
from oftsr_edge.runtime.backends.options import BackendOptions
from oftsr_edge.runtime.io import image_io
from oftsr_edge.runtime.records import planned_record
from oftsr_edge.runtime.settings import Settings


def import_ray() -> Any:
    try:
        import ray
        import ray.data  # noqa: F401 - the Data library is a separate part of the ray package
    except ImportError:
        raise MissingExtraError("Ray Data is not installed: pip install 'oftsr-edge[ray]'") from None
    return ray


class RayUpscaler:
    """One Upscaler per Ray worker; call it with a batch (column name -> array), get a batch back.

    ``settings``: a :class:`~oftsr_edge.runtime.settings.Settings` (t, seed, solver steps, tiling), or its fields
    as keywords (``t=0.5, tile=128``: picklable either way, for ``fn_constructor_kwargs``). ``root``: the input
    folder that ``output`` mirrors (default: each file is written under its own name). ``suffix`` and ``fmt``
    ("auto" = the input's extension) name the outputs as the upscale command does.
    """

    def __init__(
        self,
        model: str | Path | None = None,
        backend: str | BackendOptions = "auto",
        settings: Settings | None = None,
        *,
        output: str | Path | None = None,
        root: str | Path | None = None,
        suffix: str = "",
        fmt: str = "auto",
        overwrite: bool = False,
        **fields: Any,
    ) -> None:
        from oftsr_edge.runtime.upscaler import Upscaler

        if settings is not None and fields:
            raise OptionError("give the settings either as settings or as keywords, not both")
        self.upscaler = Upscaler(model, backend, settings if settings is not None else Settings(**fields))
        self.output = Path(output) if output is not None else None
        self.root = Path(root).resolve() if root is not None else None
        self.suffix, self.fmt, self.overwrite = suffix, fmt, overwrite

    def target_for(self, source: Path) -> Path:
        """Where ``source``'s output goes: ``output / (path under root)``, with the suffix and format applied."""
        assert self.output is not None
        rel = Path(source.name)
        if self.root is not None:
            try:
                rel = source.resolve().relative_to(self.root)
            except ValueError:
                raise OftsrError(f"{source}: is not under the input folder {self.root}") from None
        ext = rel.suffix if self.fmt == "auto" else f".{self.fmt}"
        return self.output / rel.with_name(f"{rel.stem}{self.suffix}{ext}")

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        paths = [Path(str(p)) for p in batch["path"]] if "path" in batch else None
        images = list(batch["image"]) if "image" in batch else None
        if images is None and paths is None:
            raise OftsrError("a batch needs an 'image' or a 'path' column (read_images(..., include_paths=True))")
        if self.output is not None and paths is None:
            raise OftsrError("writing outputs needs the 'path' column: read_images(..., include_paths=True)")
        count = len(images) if images is not None else len(paths)
        out: dict[str, list[Any]] = {"path": [], "seconds": []}
        if self.output is not None:
            out.update(output=[], status=[])
        else:
            out["image"] = []
        for k in range(count):
            start = time.perf_counter()
            source = paths[k] if paths is not None else None
            out["path"].append(str(source) if source is not None else "")
            if self.output is not None:
                out["output"].append(str(self._write(source, images[k] if images is not None else None, out)))
            else:
                pixels = images[k] if images is not None else image_io.read_image(source)
                out["image"].append(self.upscaler.upscale(np.asarray(pixels)))
            out["seconds"].append(time.perf_counter() - start)
        return {key: _as_column(values) if key == "image" else np.array(values) for key, values in out.items()}

    def _write(self, source: Path, pixels: np.ndarray | None, out: dict[str, list[Any]]) -> Path:
        """Upscale one file into its output (atomic, with the settings record), unless the output is current."""
        target = self.target_for(source)
        record = planned_record(self.upscaler, source, self.upscaler.settings, target)  # random seed: never current
        if not self.overwrite and provenance.is_current(target, record):
            out["status"].append("skipped")
            return target
        pixels = np.asarray(pixels) if pixels is not None else image_io.read_image(source)
        hr = self.upscaler.upscale(pixels)  # the settings' t and seed (None: a fresh random seed)
        image_io.write_image(target, hr, note=provenance.encode(record))
        out["status"].append("written")
        return target

    def __del__(self) -> None:
        upscaler = getattr(self, "upscaler", None)
        if upscaler is not None:
            upscaler.close()


def _as_column(images: list[np.ndarray]) -> np.ndarray:
    """HR images as one array when they share a shape, else an object array (Ray's variable-shaped tensors)."""
    if images and all(i.shape == images[0].shape and i.dtype == images[0].dtype for i in images):
        return np.stack(images)
    column = np.empty(len(images), dtype=object)
    column[:] = images
    return column


def upscale_folder(
    source: str | Path,
    output: str | Path,
    *,
    workers: int = 1,
    cpus_per_worker: float = 1.0,
    gpus_per_worker: float = 0.0,
    batch_rows: int = 4,
    **options: Any,
) -> list[dict[str, Any]]:
    """Upscale every image in ``source`` (recursively, like ``upscale -r``) into ``output`` on the Ray cluster
    this process is connected to (``ray.init(...)`` first; a local one is started otherwise). Rows are paths and
    pixels are read on the workers with our reader, so the files equal ``oftsr-edge upscale``'s. ``options`` go to
    :class:`RayUpscaler` (model, backend, t, seed, tile, ...). Returns one row per image (path, output, status)."""
    ray = import_ray()
    root = Path(source)
    paths = image_io.list_images(root, recursive=True)
    if not paths:
        raise OftsrError(f"{root}: no images found ({', '.join(sorted(image_io.FORMATS))})")
    dataset = ray.data.from_items([{"path": str(p)} for p in paths])
    kwargs = {"output": Path(output).resolve(), "root": root.resolve(), **options}
    rows = dataset.map_batches(
        RayUpscaler,
        fn_constructor_kwargs=kwargs,
        batch_size=batch_rows,
        concurrency=workers,
        num_cpus=cpus_per_worker,
        num_gpus=gpus_per_worker,
    ).take_all()
    return sorted(rows, key=lambda row: row["path"])
