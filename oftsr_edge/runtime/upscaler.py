"""The Python API of the runtime: ``Upscaler(model).upscale(image, t, seed)`` on arrays, ``upscale_file`` on files.

It owns the backend and the tiling policy (per image with ``tile="auto"``), checks what users hand in once (``t``,
seed, tile, overlap, batch, the image; :mod:`oftsr_edge.runtime.checks`) and adapts it to what the model takes: gray
images are fed as RGB and come back gray; an alpha channel is upscaled separately with Pillow's bicubic resize (a
mask has no texture for a generative model to invent, and a second model pass would double the cost) and
re-attached; uint8, uint16 and float32 come back in their own dtype (float32 must already be in [0, 1]: a 0–255
float image would otherwise be clipped to white without a word, so it is refused). A reduced-precision model (fp16/int8) whose
output has NaN/Inf is replaced, with a warning, by its fp32 sibling (same checkpoint, read from metadata).

``solver_steps`` (K, ``--solver-steps``) is the few-step path of a two-time (MeanFlow) student: the K calls of
:func:`oftsr_edge.few_step.schedule`, each a full tiled pass (docs/architecture.md §5); None = the model's
``default_steps``. A one-step OFTSR student takes K = 1 only and refuses more in one line
(:func:`~oftsr_edge.few_step.check_steps`).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from oftsr_edge.contract import ModelSpec
from oftsr_edge.errors import NotEnoughMemoryError, OftsrError, OptionError
from oftsr_edge.few_step import check_steps
from oftsr_edge.fileio import sha256_file
from oftsr_edge.runtime import image_io, image_limits, memory, provenance
from oftsr_edge.runtime.backends.base import Backend, StepBackend
from oftsr_edge.runtime.backends.cpu_choice import resolve_auto
from oftsr_edge.runtime.backends.options import Auto, BackendOptions, as_options
from oftsr_edge.runtime.backends.select import find_fp32_sibling, open_backend
from oftsr_edge.runtime.checks import check_image, check_int, check_t, check_tile, resolve_seed
from oftsr_edge.runtime.image_io import resize_alpha
from oftsr_edge.runtime.memory import TileChoice
from oftsr_edge.runtime.model_probe import check_scale
from oftsr_edge.runtime.models import resolve_model
from oftsr_edge.runtime.threads import is_thread_start_failure, thread_start_error
from oftsr_edge.runtime.tiling.policy import AUTO, TilingPolicy
from oftsr_edge.runtime.tiling.tiler import NonFiniteOutputError, ProgressFn, Tiler


@dataclass(frozen=True)
class FileResult:
    """What one ``upscale_file`` call did (the CLI sums these into its summary line)."""

    source: Path
    target: Path
    lr_size: tuple[int, int]  # (height, width)
    hr_size: tuple[int, int]
    seconds: float


class Upscaler:
    """One model on one backend, ready to upscale arrays or files.

    ``model``: None = the bundled default; "auto" = per image, the model ``upscale --model auto`` picks
    (:mod:`~oftsr_edge.runtime.auto_model`: ``oftsr-real-x4`` at t = 0 for JPEGs, lossy WebP, noisy or blocky
    images, else the bundled default, whose ``spec`` it reports and whose model frame streams use); a bundled name
    (``oftsr-edge models`` lists them) or an ``.onnx`` / ``.engine`` path. ``backend``: one of the options classes of :mod:`oftsr_edge.runtime.backends.options` (``OrtCpu(threads=4)``,
    ``OrtCuda(device=1)``, ``TensorRT()``, ...) or its short name ("auto", "ort", "trt", "ort-cpu", "ort-cuda",
    "ort-trt"); ``backend_name`` says what was picked. ``tile`` (LR pixels): "auto" (or None, the default) = per
    image, one whole-image call when it fits ``memory_budget`` (bytes; None = half the free RAM, or free VRAM on
    a GPU, read per image) and otherwise the least-waste tiling that does (:mod:`oftsr_edge.runtime.memory`; a
    TensorRT engine keeps its profile's tile); 0 = whole image in one call; N = tiles of N², rounded up to the
    model's ``multiple_of``. ``overlap``: None = 16 with auto, else
    :func:`~oftsr_edge.runtime.tiling.geometry.default_overlap`. ``batch_size``: tiles per backend call (helps on
    GPUs). ``solver_steps``: K steps of a two-time student's few-step path (None = the model's default; one-step
    models: 1). The names are the CLI's (``--tile``, ``--overlap``, ``--batch-size``, ``--memory-budget``,
    ``--solver-steps``).
    """

    def __init__(
        self,
        model: str | Path | None = None,
        backend: str | BackendOptions = "auto",
        *,
        tile: int | str | None = AUTO,
        overlap: int | None = None,
        batch_size: int = 1,
        memory_budget: int | None = None,
        fp32_fallback: bool = True,
        solver_steps: int | None = None,
    ) -> None:
        self._options = as_options(backend)
        self._check_tiling(tile, overlap, batch_size, memory_budget, solver_steps)
        #: "auto" (the default): per image, the model models.json's auto table gives it (runtime/auto_model.py)
        # None stays the bundled default: frame streams and video need one model for every frame
        self.auto = isinstance(model, str) and model.lower() == "auto" and not Path(model).is_file()
        self._siblings: dict[str, Upscaler] = {}
        #: --model auto's choice per input sha256, set by whoever chose (the folder run, or this Upscaler's
        #: auto mode) so that each output's settings record says why this model ran
        self.auto_choices: dict[str, dict] | None = None
        self.model_path: Path | None = resolve_model(model)
        self.fp32_fallback = fp32_fallback
        chosen = resolve_auto(model, self.model_path, self._options)  # auto on a CPU: measured once, cached
        if chosen is not None:
            self.model_path, self._options = chosen
        opened = open_backend(self.model_path, self._options, tile=self._profile_arg, batch=self.batch_size)
        try:
            check_scale(opened, self.model_path)  # a model whose metadata lies fails here, in one line
            self._setup(opened)
        except BaseException:
            opened.close()  # a bad knob must not leak a session or device buffers
            raise

    @classmethod
    def from_backend(
        cls,
        backend: Backend,
        *,
        tile: int | str | None = AUTO,
        overlap: int | None = None,
        batch_size: int = 1,
        memory_budget: int | None = None,
        model_path: str | Path | None = None,
        solver_steps: int | None = None,
    ) -> Upscaler:
        """Wrap an already open :class:`~oftsr_edge.runtime.backends.base.Backend` (any object with its members;
        a :class:`~oftsr_edge.runtime.backends.base.StepBackend` for a two-time model's few-step path), e.g. a
        custom runtime."""
        self = cls.__new__(cls)
        self.auto, self._siblings = False, {}
        self._options = Auto()
        self._check_tiling(tile, overlap, batch_size, memory_budget, solver_steps)
        self.model_path = Path(model_path) if model_path is not None else None
        self.fp32_fallback = model_path is not None
        self._setup(backend)
        return self

    def _check_tiling(
        self,
        tile: int | str | None,
        overlap: int | None,
        batch_size: int,
        memory_budget: int | None,
        solver_steps: int | None,
    ) -> None:
        """Check the tiling (and K) the caller asked for and keep it for a reopen."""
        if tile is None or (isinstance(tile, str) and tile.strip().lower() == AUTO):
            self._tile_arg: int | str = AUTO
        else:
            self._tile_arg = check_int("tile", tile, 0)
        self._overlap_arg = None if overlap is None else check_int("overlap", overlap, 0)
        self.batch_size = check_int("batch_size", batch_size, 1)
        self._budget = None if memory_budget is None else check_int("memory_budget", memory_budget, 1)
        self._steps_arg = None if solver_steps is None else check_int("solver_steps", solver_steps, 1)

    @property
    def _profile_arg(self) -> int | None:
        """The tile a TensorRT profile is built for: the fixed tile, or None (the model's) with auto."""
        return None if self._tile_arg == AUTO else self._tile_arg

    def _setup(self, backend: Backend) -> None:
        """Make the tiling policy for this backend (the tile rounded to the model's ``multiple_of``) and check K
        against the model: K > 1 needs a two-time graph and a backend that feeds it."""
        spec = backend.spec
        steps = spec.default_steps if self._steps_arg is None else self._steps_arg
        check_steps(steps, spec.two_time, spec.name)
        run_step = backend.run_step if spec.two_time and isinstance(backend, StepBackend) else None
        if steps > 1 and run_step is None:
            raise OftsrError(f"backend {backend.name!r} has no run_step: it cannot run {steps} solver steps")
        self._backend, self.solver_steps = backend, steps
        if self._tile_arg != AUTO:
            check_tile(self._tile_arg, spec.multiple_of)  # 1 or 3 were silently raised to 4, with no overlap
        policy = TilingPolicy(
            backend.run, spec, self._tile_arg, self._overlap_arg, self.batch_size,
            fixed_tile=(backend.profile_tile or spec.tile) if backend.fixed_shape else None,
            device=backend.device, budget=self._budget, run_step=run_step, steps=steps,
        )  # fmt: skip
        if policy.tile and policy.overlap >= policy.tile:
            raise OptionError(f"overlap {policy.overlap} must be smaller than the tile {policy.tile} (LR pixels)")
        self._policy = policy

    @property
    def spec(self) -> ModelSpec:
        return self._backend.spec

    @property
    def backend_name(self) -> str:
        return self._backend.name

    @property
    def backend(self) -> Backend:
        """The open backend (its ``run`` is the raw per-batch model call, e.g. for timing without tiling)."""
        return self._backend

    @property
    def tile(self) -> int:
        """The fixed LR tile edge (0 = whole image), after rounding to the model's multiple_of; 0 with auto, whose
        per-image choice is :meth:`plan`."""
        return self._policy.tile

    @property
    def auto_tile(self) -> bool:
        return self._policy.auto

    @property
    def overlap(self) -> int:
        return self._policy.overlap

    def plan(self, height: int, width: int, itemsize: int = 1, channels: int = 3) -> TileChoice:
        """The tiling an LR image of ``height × width`` gets now (auto: from the free memory at this moment)."""
        return self._policy.plan(height, width, itemsize, channels)

    def tiler_for(self, choice: TileChoice) -> Tiler:
        """The :class:`Tiler` that runs ``choice`` (from :meth:`plan`) on this backend: e.g. for frame streams."""
        return self._policy.tiler_for(choice)

    def upscale_frames(
        self, frames: Iterable[np.ndarray], t: float | None = None, seed: int | None = 0, reuse: bool = False
    ) -> Iterator[np.ndarray]:
        """A stream of frames with one t and seed (noise fixed per pixel: a static scene does not flicker), each
        output bit-identical to :meth:`upscale` of that frame; see :mod:`oftsr_edge.runtime.frames`."""
        from oftsr_edge.runtime.frames import upscale_frames

        return upscale_frames(self, frames, t, seed, reuse)

    def upscale(
        self,
        image: np.ndarray,
        t: float | None = None,
        seed: int | None = 0,
        progress: ProgressFn | None = None,
    ) -> np.ndarray:
        """Upscale an (H, W) or (H, W, C) array, C in 1–4 (gray, gray+alpha, RGB, RGBA), uint8/uint16/float32.

        Returns the same layout and dtype at (H·s, W·s). ``t`` None = the model's default; ``seed`` None = a fresh
        random seed. ``progress(done, total)`` is called per tile.
        """
        if self.auto:
            from oftsr_edge.runtime.auto_model import choose, measure
            from oftsr_edge.runtime.models import auto_table

            choice = choose(measure(check_image(image)), auto_table())
            up = self._for(choice.model)
            return up._upscale(image, *up._settings(choice.t if t is None else t, seed), progress)[0]
        t, seed = self._settings(t, seed)
        return self._upscale(image, t, seed, progress)[0]

    def upscale_file(
        self,
        source: str | Path,
        target: str | Path,
        t: float | None = None,
        seed: int | None = 0,
        progress: ProgressFn | None = None,
        *,
        png_compression: int = image_io.PNG_COMPRESSION,
        quality: int | None = None,
    ) -> FileResult:
        """Read ``source``, upscale, write ``target`` atomically (format from its extension), with the record of
        what made it (:mod:`~oftsr_edge.runtime.provenance`) in its metadata. ``png_compression`` (0–9) and
        ``quality`` (JPEG/WebP, 1–100) are :func:`~oftsr_edge.runtime.image_io.write_image`'s."""
        source, target = Path(source), Path(target)
        image_io.format_for(source)
        image_io.format_for(target)
        if target.resolve() == source.resolve():
            raise OftsrError(f"{target}: output would overwrite its input")
        if self.auto:
            from oftsr_edge.runtime.auto_model import choose_for_file

            choice = choose_for_file(source)
            up = self._for(choice.model)
            up.auto_choices = {_file_sha256(source): choice.record()}
            try:
                return up._upscale_file_as(source, target, choice.t if t is None else t, seed, progress,
                                           png_compression, quality)  # fmt: skip
            finally:
                up.auto_choices = None
        return self._upscale_file_as(source, target, t, seed, progress, png_compression, quality)

    def _for(self, name: str) -> Upscaler:
        """This Upscaler when it runs ``name`` already, else a sibling on the same backend options, opened once."""
        if name == self.spec.name:
            return self
        if name not in self._siblings:
            self._siblings[name] = Upscaler(
                name, self._options, tile=self._tile_arg, overlap=self._overlap_arg, batch_size=self.batch_size,
                memory_budget=self._budget, fp32_fallback=self.fp32_fallback, solver_steps=self._steps_arg,
            )  # fmt: skip
        return self._siblings[name]

    def _upscale_file_as(self, source: Path, target: Path, t: float | None, seed: int | None,
                         progress: ProgressFn | None, png_compression: int, quality: int | None) -> FileResult:
        """:meth:`upscale_file` with this Upscaler's own model."""
        start = time.perf_counter()
        t_used, seed_used = self._settings(t, seed)
        height, width, itemsize, channels = image_io.image_layout(source)
        self.check_image_fits(source, target, height, width, itemsize, channels)
        pixels = image_io.read_image(source)
        result, choice = self._upscale(pixels, t_used, seed_used, progress)
        encoding = provenance.encoding(target, png_compression, quality, 8 * pixels.dtype.itemsize)
        record = self.file_record(_file_sha256(source), t_used, seed_used, seed is None, choice, encoding)
        image_io.write_image(
            target, result, note=provenance.encode(record), png_compression=png_compression, quality=quality
        )
        return FileResult(source, target, pixels.shape[:2], result.shape[:2], time.perf_counter() - start)

    def record(
        self, source: str | Path, t: float | None = None, seed: int | None = 0, target: str | Path | None = None,
        *, png_compression: int = image_io.PNG_COMPRESSION, quality: int | None = None,
    ) -> dict:  # fmt: skip
        """The provenance record ``upscale_file(source, target, t, seed)`` would write now (seed None = random;
        ``target`` None = a PNG, whose encoding the record then holds)."""
        t_used = self.spec.default_t if t is None else check_t(t)
        seed_used = 0 if seed is None else resolve_seed(seed)
        height, width, itemsize, channels = image_io.image_layout(source)
        choice = self.plan(height, width, itemsize, channels)
        encoding = provenance.encoding(target or "x.png", png_compression, quality, 8 * itemsize)
        return self.file_record(_file_sha256(Path(source)), t_used, seed_used, seed is None, choice, encoding)

    def file_record(
        self, input_sha256: str, t: float, seed: int, random_seed: bool, choice: TileChoice,
        encoding: dict | None = None,
    ) -> dict:  # fmt: skip
        """The record of an output made from an input with this sha256, with ``choice``'s tiling, written with
        ``encoding`` (:func:`~oftsr_edge.runtime.provenance.encoding`)."""
        tile = choice.tile[0] if choice.tile[0] == choice.tile[1] else choice.tile
        auto = (self.auto_choices or {}).get(input_sha256)  # --model auto's choice, if it chose
        return provenance.make_record(
            input_sha256, self.model_sha256, t, seed, random_seed, tile, choice.overlap, self.backend_name,
            solver_steps=self.solver_steps, encoding=encoding, auto=auto,
        )  # fmt: skip

    def check_image_fits(
        self, source: str | Path, target: str | Path | None, height: int, width: int, itemsize: int = 1,
        channels: int = 3, choice: TileChoice | None = None,
    ) -> TileChoice:  # fmt: skip
        """Refuse an LR image of ``height × width`` whose output ``target``'s format cannot hold or that needs more
        memory than there is (one line, before anything is allocated); returns its tiling."""
        s = self.spec.scale
        if target is not None:
            image_limits.check_output_size(Path(target), height * s, width * s, channels, itemsize)
        what = f"{source} ({width}x{height} -> {width * s}x{height * s})"
        image_limits.check_memory(what, memory.host_bytes(self.spec, (height, width), itemsize, channels))
        choice = choice or self.plan(height, width, itemsize, channels)
        if not self._policy.device.on_gpu:  # on the CPU the network's working memory is RAM too
            image_limits.check_memory(what, choice.peak_bytes)
        return choice

    @property
    def model_sha256(self) -> str | None:
        """sha256 of the model file in use (None when wrapped around a backend without one); hashed once."""
        if self.model_path is None:
            return None
        cached = getattr(self, "_model_sha", None)
        if cached is None or cached[0] != self.model_path:
            cached = (self.model_path, sha256_file(self.model_path))
            self._model_sha = cached
        return cached[1]

    def _settings(self, t: float | None, seed: int | None) -> tuple[float, int]:
        """The one check of ``t`` (None = the model's default) and the seed (None = a fresh random one)."""
        return (self.spec.default_t if t is None else check_t(t)), resolve_seed(seed)

    def upscale_planned(
        self, image: np.ndarray, t: float | None = None, seed: int | None = 0, progress: ProgressFn | None = None
    ) -> tuple[np.ndarray, TileChoice]:
        """:meth:`upscale`, also returning the tiling it used (for the record of a file)."""
        t, seed = self._settings(t, seed)
        return self._upscale(image, t, seed, progress)

    def _upscale(
        self, image: np.ndarray, t: float, seed: int, progress: ProgressFn | None
    ) -> tuple[np.ndarray, TileChoice]:
        pixels = check_image(image)
        height, width, channels = pixels.shape
        choice = self.check_image_fits("image", None, height, width, pixels.dtype.itemsize, channels)
        try:
            return self._upscale_checked(pixels, image.ndim, choice, t, seed, progress)
        except MemoryError:  # the estimate was short: still one line, and the caller's run goes on
            raise NotEnoughMemoryError(
                f"image {width}x{height}: out of memory while upscaling ({choice.describe()})"
            ) from None
        except RuntimeError as exc:  # "can't start new thread" from the tiler's or the converter's workers
            if is_thread_start_failure(exc):
                raise thread_start_error(exc) from None
            raise

    def _upscale_checked(
        self, pixels: np.ndarray, ndim: int, choice: TileChoice, t: float, seed: int, progress: ProgressFn | None
    ) -> tuple[np.ndarray, TileChoice]:
        height, width, channels = pixels.shape
        colour = 3 if channels >= 3 else 1
        s = self.spec.scale
        out = np.empty((height * s, width * s, channels), dtype=pixels.dtype)
        try:
            self.tiler_for(choice).upscale(pixels[..., :colour], t, seed, progress=progress, out=out[..., :colour])
        except NonFiniteOutputError:
            self._fall_back_to_fp32()
            choice = self.plan(height, width, pixels.dtype.itemsize, channels)
            self.tiler_for(choice).upscale(pixels[..., :colour], t, seed, progress=progress, out=out[..., :colour])
        if channels in (2, 4):
            out[..., colour] = resize_alpha(pixels[..., colour], s)
        return (out[..., 0] if ndim == 2 else out), choice

    def _fall_back_to_fp32(self) -> None:
        spec, model = self.spec, self.model_path
        where = str(model) if model is not None else spec.name
        if not self.fp32_fallback or model is None:
            raise OftsrError(f"{where}: the {spec.precision} model produced NaN/Inf values")
        sibling = find_fp32_sibling(model, spec)
        if sibling is None:
            raise OftsrError(
                f"{where}: the {spec.precision} model produced NaN/Inf values and no fp32 model of the "
                "same checkpoint lies beside it"
            )
        warnings.warn(
            f"{where}: the {spec.precision} model produced NaN/Inf values; falling back to the fp32 "
            f"model {sibling}",
            RuntimeWarning,
            stacklevel=4,
        )
        backend = open_backend(sibling, self._options, tile=self._profile_arg, batch=self.batch_size)
        self._backend.close()
        self.model_path = sibling
        self._setup(backend)

    def close(self) -> None:
        for sibling in getattr(self, "_siblings", {}).values():
            sibling.close()
        self._backend.close()

    def __enter__(self) -> Upscaler:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _file_sha256(path: Path) -> str:
    try:
        return sha256_file(path)
    except OSError as exc:
        raise OftsrError(f"{path}: cannot read ({exc.strerror or exc})") from None
