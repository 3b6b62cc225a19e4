"""One run's settings as one frozen object, checked once when it is made: what the CLI, the folder pipeline, video,
frame streams and the Ray adapter hand the :class:`~oftsr_edge.runtime.upscaler.Upscaler`.

The names are the CLI's (``--t``, ``--seed``, ``--solver-steps``, ``--tile``, ``--overlap``, ``--batch-size``,
``--memory-budget``), in the API's units (the budget in bytes). ``None`` means "the default": for ``t`` and
``solver_steps`` the model's, which only an open model knows, so :meth:`Upscaler.resolve
<oftsr_edge.runtime.upscaler.Upscaler.resolve>` fills them in (and checks the tiling against the model) once per
Upscaler; a ``None`` seed stays None and means a fresh random seed per image (one per frame stream).
"""

from __future__ import annotations

import copy
import dataclasses
import enum
from dataclasses import dataclass
from typing import Any, Union

import numpy as np

from oftsr_edge.runtime.checks import check_int, check_seed, check_t

AUTO = "auto"


class _Unset(enum.Enum):
    UNSET = "unset"


#: "not given": a per-call argument that keeps the Upscaler's own setting (``None`` has a meaning of its own)
UNSET = _Unset.UNSET
MaybeT = Union[float, None, _Unset]
MaybeSeed = Union[int, None, _Unset]


@dataclass(frozen=True)
class Settings:
    """``t`` (None = the model's default), ``seed`` (None = random), ``solver_steps`` (K; None = the model's),
    ``tile`` (LR pixels; "auto" = per image from the memory budget, 0 = whole image), ``overlap`` (None = the
    tiling's default), ``batch_size`` (tiles per backend call), ``memory_budget`` (bytes; None = half the free
    memory, read per image). Every value is checked here, once: a bad one is an
    :class:`~oftsr_edge.errors.OptionError` in one line."""

    t: float | None = None
    seed: int | None = 0
    solver_steps: int | None = None
    tile: int | str = AUTO
    overlap: int | None = None
    batch_size: int = 1
    memory_budget: int | None = None

    def __post_init__(self) -> None:
        fix = object.__setattr__
        fix(self, "t", None if self.t is None else check_t(self.t))
        fix(self, "seed", None if self.seed is None else check_seed(self.seed))
        fix(self, "solver_steps", None if self.solver_steps is None else check_int("solver_steps", self.solver_steps, 1))
        if self.tile is None or (isinstance(self.tile, str) and self.tile.strip().lower() == AUTO):
            fix(self, "tile", AUTO)
        else:
            fix(self, "tile", check_int("tile", self.tile, 0))
        fix(self, "overlap", None if self.overlap is None else check_int("overlap", self.overlap, 0))
        fix(self, "batch_size", check_int("batch_size", self.batch_size, 1))
        budget = self.memory_budget
        fix(self, "memory_budget", None if budget is None else check_int("memory_budget", budget, 1))

    def replace(self, **changes: Any) -> Settings:
        """A copy with ``changes`` (checked like any new value)."""
        return dataclasses.replace(self, **changes)

    def with_call(self, t: MaybeT = UNSET, seed: MaybeSeed = UNSET) -> Settings:
        """These settings with a call's own ``t`` / ``seed`` where it gave one (:data:`UNSET` keeps the setting)."""
        changes: dict[str, Any] = {}
        if t is not UNSET:
            changes["t"] = t
        if seed is not UNSET:
            changes["seed"] = seed
        return self.replace(**changes) if changes else self

    def with_defaults(self, t: float, solver_steps: int) -> Settings:
        """A copy with ``t`` and ``solver_steps`` given by an open model (values its metadata check has passed, so
        they are not checked again)."""
        filled = copy.copy(self)
        object.__setattr__(filled, "t", float(t))
        object.__setattr__(filled, "solver_steps", int(solver_steps))
        return filled

    @property
    def fixed_tile(self) -> int | None:
        """The fixed tile asked for, or None with "auto" (the tile a TensorRT profile is built for)."""
        return None if self.tile == AUTO else int(self.tile)

    def seed_for_image(self) -> int:
        """The seed one image (or one stream) runs with: the setting, or a fresh random one when it is None."""
        return draw_seed() if self.seed is None else int(self.seed)


def draw_seed() -> int:
    """A fresh random 64-bit Philox key word (still one seed for a whole image, so tiles stay consistent)."""
    return int(np.random.SeedSequence().entropy) % 2**64
