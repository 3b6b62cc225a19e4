"""The one interface every backend implements, so the tiler never knows which runtime executes a tile."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from oftsr_edge.contract import ModelSpec
from oftsr_edge.errors import OftsrError


class Backend(ABC):
    """Runs the exported graph: ``hr = run(lr, noise, t)`` on float32 NCHW arrays (contract in docs/architecture.md §3).

    ``lr`` is (N, 3, h, w) in [0, 1], ``noise`` (N, 3, h·s, w·s), ``t`` (N,); the result is (N, 3, h·s, w·s) in
    [0, 1]. Implementations own their session/engine and device buffers; ``close`` releases them.

    The tiler relies on two more things: ``run`` returns a fresh array on every call (it is blended while the next
    batch runs), and a backend whose engine has one static shape says so with ``fixed_shape = True`` (images
    smaller than a tile are then padded up to the tile).

    A backend that can feed a two-time graph (contract format 2, a MeanFlow student) also implements
    ``run_step``; its ``run`` is then the first step from state 0 at r = 0, i.e. the one-step map.
    """

    #: short label shown to users, e.g. "ort-cpu", "ort-cuda", "ort-trt", "trt"
    name: str
    spec: ModelSpec

    @abstractmethod
    def run(self, lr: np.ndarray, noise: np.ndarray, t: np.ndarray) -> np.ndarray: ...

    def run_step(
        self, lr: np.ndarray, noise: np.ndarray, t: np.ndarray, state: np.ndarray, r: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """One call of a two-time graph: ``(hr, next_state)`` for the state at time ``r`` and the step's end ``t``
        (docs/architecture.md §3). Backends that cannot feed ``state`` and ``r`` refuse in one line."""
        raise OftsrError(f"{self.name}: this backend runs one-step (format 1) models only")

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release sessions, engines and buffers (default: nothing to do)."""

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
