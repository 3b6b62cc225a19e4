"""The Python API of the runtime: ``Upscaler(model).upscale(image, t, seed)`` on arrays, ``upscale_file`` on files.

It owns the backend and the tiling policy (per image with ``tile="auto"``), resolves the run's
:class:`~oftsr_edge.runtime.settings.Settings` (checked when made) against its model once, checks each image
(:func:`~oftsr_edge.runtime.checks.check_image`) and adapts it to what the model takes: gray
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
from oftsr_edge.runtime import provenance, records
from oftsr_edge.runtime.backends.base import Backend, StepBackend
from oftsr_edge.runtime.backends.cpu_choice import resolve_auto
from oftsr_edge.runtime.backends.options import Auto, BackendOptions, as_options
from oftsr_edge.runtime.backends.select import find_fp32_sibling, open_backend
from oftsr_edge.runtime.checks import check_image, check_tile
from oftsr_edge.runtime.device.threads import is_thread_start_failure, thread_start_error
from oftsr_edge.runtime.io import image_io
from oftsr_edge.runtime.io.image_io import resize_alpha
from oftsr_edge.runtime.model_probe import check_scale
from oftsr_edge.runtime.models import resolve_model
from oftsr_edge.runtime.records import file_sha256
from oftsr_edge.runtime.settings import AUTO, UNSET, MaybeSeed, MaybeT, Settings
from oftsr_edge.runtime.tiling.memory_plan import TileChoice
from oftsr_edge.runtime.tiling.policy import TilingPolicy
from oftsr_edge.runtime.tiling.tiler import NonFiniteOutputError, ProgressFn


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
    (``oftsr-edge models`` lists them) or an ``.onnx`` / ``.engine`` path. ``backend``: one of the options classes
    of :mod:`oftsr_edge.runtime.backends.options` (``OrtCpu(threads=4)``, ``OrtCuda(device=1)``, ``TensorRT()``,
    ...) or its short name ("auto", "ort", "trt", "ort-cpu", "ort-cuda", "ort-trt"); ``backend_name`` says what
    was picked. ``settings``: a :class:`~oftsr_edge.runtime.settings.Settings` (t, seed, solver steps, tile,
    overlap, batch size, memory budget), or the tiling knobs as keywords of the same names: ``tile`` "auto" (the
    default) = per image, one whole-image call when it fits the memory budget, else the least-waste tiling that
    does (:mod:`oftsr_edge.runtime.tiling.memory_plan`; a TensorRT engine keeps its profile's tile); 0 = whole image; N =
    tiles of N², rounded up to the model's ``multiple_of``. :attr:`settings` holds them resolved against the model
    (:meth:`resolve`); a call's own ``t`` / ``seed`` override them for that call.
    """

    def __init__(
        self,
        model: str | Path | None = None,
        backend: str | BackendOptions = "auto",
        settings: Settings | None = None,
        *,
        tile: int | str | None = AUTO,
        overlap: int | None = None,
        batch_size: int = 1,
        memory_budget: int | None = None,
        solver_steps: int | None = None,
        fp32_fallback: bool = True,
    ) -> None:
        self._options = as_options(backend)
        asked = _settings(settings, tile, overlap, batch_size, memory_budget, solver_steps)
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
        opened = open_backend(self.model_path, self._options, tile=asked.fixed_tile, batch=asked.batch_size)
        try:
            check_scale(opened, self.model_path)  # a model whose metadata lies fails here, in one line
            self._setup(opened, asked)
        except BaseException:
            opened.close()  # a bad knob must not leak a session or device buffers
            raise

    @classmethod
    def from_backend(
        cls,
        backend: Backend,
        settings: Settings | None = None,
        *,
        tile: int | str | None = AUTO,
        overlap: int | None = None,
        batch_size: int = 1,
        memory_budget: int | None = None,
        solver_steps: int | None = None,
        model_path: str | Path | None = None,
    ) -> Upscaler:
        """Wrap an already open :class:`~oftsr_edge.runtime.backends.base.Backend` (any object with its members;
        a :class:`~oftsr_edge.runtime.backends.base.StepBackend` for a two-time model's few-step path), e.g. a
        custom runtime."""
        self = cls.__new__(cls)
        self.auto, self._siblings, self.auto_choices = False, {}, None
        self._options = Auto()
        asked = _settings(settings, tile, overlap, batch_size, memory_budget, solver_steps)
        self.model_path = Path(model_path) if model_path is not None else None
        self.fp32_fallback = model_path is not None
        self._setup(backend, asked)
        return self

    def _setup(self, backend: Backend, asked: Settings) -> None:
        """Adopt ``backend``: resolve the settings against its model and make the tiling policy for it."""
        self._backend, self._asked = backend, asked
        self.__dict__.pop("settings", None)  # a new backend (the fp32 sibling) resolves them afresh
        self.settings = self.resolve(asked)
        spec, steps = backend.spec, self.settings.solver_steps
        run_step = backend.run_step if spec.two_time and isinstance(backend, StepBackend) else None
        policy = TilingPolicy(
            backend.run, spec, asked.tile, asked.overlap, asked.batch_size,
            fixed_tile=(backend.profile_tile or spec.tile) if backend.fixed_shape else None,
            device=backend.device, budget=asked.memory_budget, run_step=run_step, steps=steps,
        )  # fmt: skip
        if policy.tile and policy.overlap >= policy.tile:
            raise OptionError(f"overlap {policy.overlap} must be smaller than the tile {policy.tile} (LR pixels)")
        self._tiling = policy

    def resolve(self, settings: Settings) -> Settings:
        """``settings`` as this Upscaler runs them: the model's ``t`` and solver steps where they are None, checked
        against the model once (K > 1 needs a two-time graph and a backend that feeds it; a fixed tile must leave
        room for an overlap of one ``multiple_of``). Its tiling must be this Upscaler's: another tiling needs
        another Upscaler."""
        spec, backend = self.spec, self._backend
        steps = spec.default_steps if settings.solver_steps is None else settings.solver_steps
        check_steps(steps, spec.two_time, spec.name)
        if steps > 1 and not isinstance(backend, StepBackend):
            raise OftsrError(f"backend {backend.name!r} has no run_step: it cannot run {steps} solver steps")
        if settings.fixed_tile is not None:
            check_tile(settings.fixed_tile, spec.multiple_of)  # 1 or 3 were silently raised to 4, with no overlap
        resolved = settings.with_defaults(spec.default_t if settings.t is None else settings.t, steps)
        current = getattr(self, "settings", None)
        if current is not None and _tiling_of(resolved) != _tiling_of(current):
            raise OptionError(f"settings {_tiling_of(resolved)} differ from this Upscaler's tiling "
                              f"{_tiling_of(current)}: open an Upscaler with them")  # fmt: skip
        return resolved

    def _for_call(self, t: MaybeT, seed: MaybeSeed) -> Settings:
        """The settings of one call: this Upscaler's, with the call's own ``t`` / ``seed`` where given."""
        if t is UNSET and seed is UNSET:
            return self.settings
        return self.resolve(self.settings.with_call(t, seed))

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
    def tiling(self) -> TilingPolicy:
        """The tiling of this Upscaler's model and backend: ``tiling.plan(h, w)`` is the tiling an image gets now."""
        return self._tiling

    @property
    def tile(self) -> int:
        """The fixed LR tile edge (0 = whole image), after rounding to the model's multiple_of; 0 with auto, whose
        per-image choice is ``tiling.plan``."""
        return self._tiling.tile

    @property
    def overlap(self) -> int:
        return self._tiling.overlap

    @property
    def batch_size(self) -> int:
        return self.settings.batch_size

    @property
    def solver_steps(self) -> int:
        return int(self.settings.solver_steps or 1)

    def upscale_frames(
        self, frames: Iterable[np.ndarray], t: MaybeT = UNSET, seed: MaybeSeed = UNSET, reuse: bool = False
    ) -> Iterator[np.ndarray]:
        """A stream of frames with one t and seed (noise fixed per pixel: a static scene does not flicker), each
        output bit-identical to :meth:`upscale` of that frame; see :mod:`oftsr_edge.runtime.frames`."""
        from oftsr_edge.runtime.frames import upscale_frames

        return upscale_frames(self, frames, t, seed, reuse)

    def upscale(
        self,
        image: np.ndarray,
        t: MaybeT = UNSET,
        seed: MaybeSeed = UNSET,
        progress: ProgressFn | None = None,
    ) -> np.ndarray:
        """Upscale an (H, W) or (H, W, C) array, C in 1–4 (gray, gray+alpha, RGB, RGBA), uint8/uint16/float32.

        Returns the same layout and dtype at (H·s, W·s). ``t`` and ``seed`` default to :attr:`settings` (t None =
        the model's default; seed None = a fresh random seed). ``progress(done, total)`` is called per tile.
        """
        if self.auto:
            from oftsr_edge.runtime.auto_model import choose, measure
            from oftsr_edge.runtime.models import auto_table

            choice = choose(measure(check_image(image)), auto_table())
            up = self._for(choice.model)
            return up._upscale(image, up._for_call(self._auto_t(choice.t, t), seed), progress)[0]
        return self._upscale(image, self._for_call(t, seed), progress)[0]

    def _auto_t(self, chosen: float | None, t: MaybeT) -> MaybeT:
        """``--model auto``'s t for its choice, unless the call or the settings gave one."""
        return chosen if t is UNSET and self._asked.t is None else t

    def upscale_file(
        self,
        source: str | Path,
        target: str | Path,
        t: MaybeT = UNSET,
        seed: MaybeSeed = UNSET,
        progress: ProgressFn | None = None,
        *,
        png_compression: int = image_io.PNG_COMPRESSION,
        quality: int | None = None,
    ) -> FileResult:
        """Read ``source``, upscale, write ``target`` atomically (format from its extension), with the record of
        what made it (:mod:`~oftsr_edge.runtime.provenance`) in its metadata. ``png_compression`` (0–9) and
        ``quality`` (JPEG/WebP, 1–100) are :func:`~oftsr_edge.runtime.io.image_io.write_image`'s."""
        source, target = Path(source), Path(target)
        image_io.format_for(source)
        image_io.format_for(target)
        if target.resolve() == source.resolve():
            raise OftsrError(f"{target}: output would overwrite its input")
        if self.auto:
            from oftsr_edge.runtime.auto_model import choose_for_file

            choice = choose_for_file(source)
            up = self._for(choice.model)
            up.auto_choices = {file_sha256(source): choice.record()}
            try:
                return up._upscale_file_as(source, target, up._for_call(self._auto_t(choice.t, t), seed), progress,
                                           png_compression, quality)  # fmt: skip
            finally:
                up.auto_choices = None
        return self._upscale_file_as(source, target, self._for_call(t, seed), progress, png_compression, quality)

    def _for(self, name: str) -> Upscaler:
        """This Upscaler when it runs ``name`` already, else a sibling on the same backend options, opened once."""
        if name == self.spec.name:
            return self
        if name not in self._siblings:
            self._siblings[name] = Upscaler(name, self._options, self._asked, fp32_fallback=self.fp32_fallback)
        return self._siblings[name]

    def _upscale_file_as(self, source: Path, target: Path, settings: Settings, progress: ProgressFn | None,
                         png_compression: int, quality: int | None) -> FileResult:  # fmt: skip
        """:meth:`upscale_file` with this Upscaler's own model."""
        start = time.perf_counter()
        height, width, itemsize, channels = image_io.image_layout(source)
        self._tiling.check_fits(source, target, height, width, itemsize, channels)
        pixels = image_io.read_image(source)
        seed = settings.seed_for_image()
        result, choice = self._upscale_planned(pixels, settings.t, seed, progress)
        encoding = provenance.encoding(target, png_compression, quality, 8 * pixels.dtype.itemsize)
        record = records.file_record(self, file_sha256(source), settings.t, seed, settings.seed is None, choice,
                                     encoding)  # fmt: skip
        image_io.write_image(
            target, result, note=provenance.encode(record), png_compression=png_compression, quality=quality
        )
        return FileResult(source, target, pixels.shape[:2], result.shape[:2], time.perf_counter() - start)

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

    def _upscale(
        self, image: np.ndarray, settings: Settings, progress: ProgressFn | None
    ) -> tuple[np.ndarray, TileChoice]:
        return self._upscale_planned(image, settings.t, settings.seed_for_image(), progress)

    def _upscale_planned(
        self, image: np.ndarray, t: float, seed: int, progress: ProgressFn | None
    ) -> tuple[np.ndarray, TileChoice]:
        """One image with a resolved ``t`` and a drawn ``seed``: the array and the tiling it used (for the record
        of a file; the folder pipeline calls this for each image)."""
        pixels = check_image(image)
        height, width, channels = pixels.shape
        choice = self._tiling.check_fits("image", None, height, width, pixels.dtype.itemsize, channels)
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
            self._tiling.tiler_for(choice).upscale(pixels[..., :colour], t, seed, progress=progress,
                                                   out=out[..., :colour])  # fmt: skip
        except NonFiniteOutputError:
            self._fall_back_to_fp32()
            choice = self._tiling.plan(height, width, pixels.dtype.itemsize, channels)
            self._tiling.tiler_for(choice).upscale(pixels[..., :colour], t, seed, progress=progress,
                                                   out=out[..., :colour])  # fmt: skip
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
        backend = open_backend(sibling, self._options, tile=self._asked.fixed_tile, batch=self._asked.batch_size)
        self._backend.close()
        self.model_path = sibling
        self._setup(backend, self._asked)

    def close(self) -> None:
        for sibling in getattr(self, "_siblings", {}).values():
            sibling.close()
        self._backend.close()

    def __enter__(self) -> Upscaler:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _settings(
    settings: Settings | None, tile: int | str | None, overlap: int | None, batch_size: int,
    memory_budget: int | None, solver_steps: int | None,
) -> Settings:  # fmt: skip
    """``settings``, or the keywords as one; both at once is a mistake that would drop one of them silently."""
    if settings is None:
        return Settings(tile=AUTO if tile is None else tile, overlap=overlap, batch_size=batch_size,
                        memory_budget=memory_budget, solver_steps=solver_steps)  # fmt: skip
    if not isinstance(settings, Settings):
        raise OptionError(f"settings must be a Settings, got {type(settings).__name__}")
    if (tile, overlap, batch_size, memory_budget, solver_steps) != (AUTO, None, 1, None, None):
        raise OptionError("give the tiling either as settings or as keywords, not both")
    return settings


def _tiling_of(settings: Settings) -> tuple:
    return settings.tile, settings.overlap, settings.batch_size, settings.memory_budget, settings.solver_steps
