"""The one interface every backend implements, so the tiler and the Upscaler never know which runtime runs a tile.

:class:`Backend` is a :class:`typing.Protocol`: any object with these members is a backend (a custom runtime, a test
double), checked structurally by type checkers and, at run time, by ``isinstance(obj, Backend)``. The project's
backends inherit :class:`BackendBase`, which adds ``with backend:``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from oftsr_edge.contract import ModelSpec
from oftsr_edge.errors import OftsrError


@dataclass(frozen=True)
class Device:
    """Where a backend computes: ``kind`` "cpu" or "cuda" and the CUDA device ``index``. It decides which memory an
    automatic tiling reads its budget from (free RAM on the CPU, free VRAM on a GPU)."""

    kind: str = "cpu"
    index: int = 0

    @property
    def on_gpu(self) -> bool:
        return self.kind != "cpu"

    def __str__(self) -> str:
        return "cpu" if not self.on_gpu else f"{self.kind}:{self.index}"


CPU = Device("cpu")


@runtime_checkable
class Backend(Protocol):
    """Runs the exported graph: ``hr = run(lr, noise, t)`` (contract in docs/architecture.md §3).

    ``lr`` is float32 (N, 3, h, w) in [0, 1], ``noise`` float32 (N, 3, h·s, w·s), ``t`` one float for the whole
    batch (already checked to lie in [0, 1]); the backend turns ``t`` into its own feed once. The result is a fresh
    float32 (N, 3, h·s, w·s) array in [0, 1] on every call (the tiler blends it while the next batch runs).

    ``name``: the short label users see ("ort-cpu", "ort-cuda", "ort-trt", "trt", "openvino"); ``spec``: the
    model's contract metadata; ``device``: where it computes; ``fixed_shape``: the engine takes one static tile
    shape (smaller images are padded up to it); ``profile_tile``: the square LR tile that shape was built for, or
    None when any shape runs.
    """

    name: str
    spec: ModelSpec
    device: Device
    fixed_shape: bool
    profile_tile: int | None

    def run(self, lr: np.ndarray, noise: np.ndarray, t: float) -> np.ndarray: ...

    def close(self) -> None:
        """Release sessions, engines and buffers."""


class BackendBase(Backend):
    """What the project's backends inherit: the protocol, and ``with backend:`` closing it."""

    def close(self) -> None:  # noqa: B027 - a backend with nothing to release keeps this
        """Nothing to release by default."""

    def __enter__(self) -> BackendBase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@runtime_checkable
class StepBackend(Protocol):
    """What a :class:`Backend` adds to feed a two-time graph (contract format 2, a MeanFlow student): ``run_step``
    is one step from the state at time ``r`` to the step's end ``t`` (float32 (N,) arrays, as the few-step chain
    of :func:`oftsr_edge.few_step.run_graph` feeds them), returning ``(hr, next_state)``; the backend's ``run`` is
    then the one-step map (state 0, r = 0)."""

    def run_step(
        self, lr: np.ndarray, noise: np.ndarray, t: np.ndarray, state: np.ndarray, r: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]: ...


def one_step_only(backend: Backend) -> OftsrError:
    """The error of a backend asked for a two-time step of a one-step (format 1) model."""
    return OftsrError(f"{backend.name}: {backend.spec.name} is a one-step (format 1) model: it has no two-time step")
