"""TensorRT optimization-profile shapes for the OFTSR graph, derived from tile, batch and scale.

One profile covers the three inputs of docs/architecture.md §3 together: ``lr`` [N, 3, h, w], ``noise`` [N, 3, h·s, w·s] and
``t`` [N] (a two-time graph, format 2, adds ``state`` like ``noise`` and ``r`` like ``t``). Only the ``lr`` shape is
chosen (N, h, w); the others follow from it, so they can never disagree. The default is what the tiled runtime feeds: a fixed tile (min = opt = max spatially, the fastest engine,
as vs-mlrt's ``static_shape`` default) and a batch from 1 (the last, partial group of tiles) up to ``batch``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Tuple

from oftsr_edge.contract import (
    CHANNELS,
    INPUT_LR,
    INPUT_NAMES,
    INPUT_NOISE,
    INPUT_R,
    INPUT_STATE,
    INPUT_T,
    OUTPUT_HR,
    OUTPUT_STATE,
    TWO_TIME_INPUT_NAMES,
)
from oftsr_edge.errors import OftsrError

LEVELS = ("min", "opt", "max")

#: an ``lr`` shape without its fixed channel count: (N, h, w)
LrShape = Tuple[int, int, int]


def tensor_shapes(n: int, h: int, w: int, scale: int, two_time: bool = False) -> dict[str, tuple[int, ...]]:
    """Shapes of every tensor of the graph for a batch of ``n`` LR tiles of ``h``×``w`` (``two_time``: with
    state, r and next_state).

    The rule of :func:`oftsr_edge.contract.io_shapes` for a profile, which knows the model's scale but not its
    :class:`~oftsr_edge.contract.ModelSpec` (its tiles are checked against ``multiple_of`` once, when it is made).
    """
    hr = (n, CHANNELS, h * scale, w * scale)
    shapes = {INPUT_LR: (n, CHANNELS, h, w), INPUT_NOISE: hr, INPUT_T: (n,), OUTPUT_HR: hr}
    if two_time:
        shapes.update({INPUT_STATE: hr, INPUT_R: (n,), OUTPUT_STATE: hr})
    return shapes


@dataclass(frozen=True)
class ProfileShapes:
    """min/opt/max ``lr`` shapes (N, h, w) of one optimization profile, plus the model's scale."""

    scale: int
    min: LrShape
    opt: LrShape
    max: LrShape

    def level(self, name: str) -> LrShape:
        return {"min": self.min, "opt": self.opt, "max": self.max}[name]

    def input_shapes(self, name: str, two_time: bool = False) -> dict[str, tuple[int, ...]]:
        """Input shapes (lr, noise, t; and state, r when ``two_time``) at one level ("min", "opt" or "max")."""
        shapes = tensor_shapes(*self.level(name), self.scale, two_time)
        return {k: shapes[k] for k in (TWO_TIME_INPUT_NAMES if two_time else INPUT_NAMES)}

    def per_input(
        self, two_time: bool = False
    ) -> dict[str, tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]]:
        """``{input: (min, opt, max)}``: the arguments of ``IOptimizationProfile.set_shape`` for each input."""
        levels = [self.input_shapes(name, two_time) for name in LEVELS]
        return {k: (levels[0][k], levels[1][k], levels[2][k]) for k in levels[0]}

    @property
    def max_batch(self) -> int:
        return self.max[0]

    def accepts(self, n: int, h: int, w: int) -> bool:
        return all(lo <= v <= hi for lo, v, hi in zip(self.min, (n, h, w), self.max))

    def to_dict(self) -> dict[str, object]:
        """JSON-friendly form, used by the engine sidecar and the cache key."""
        return {"scale": self.scale, **{name: list(self.level(name)) for name in LEVELS}}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> ProfileShapes:
        try:
            shapes = [tuple(int(v) for v in data[name]) for name in LEVELS]  # type: ignore[union-attr]
            if any(len(s) != 3 for s in shapes):
                raise ValueError("each level needs (N, h, w)")
            return cls(int(data["scale"]), *shapes)  # type: ignore[arg-type]
        except (KeyError, TypeError, ValueError) as exc:
            raise OftsrError(f"bad profile shapes {data!r} ({exc})") from None

    def describe(self) -> str:
        return ", ".join(
            f"{name} {'x'.join(map(str, tensor_shapes(*self.level(name), 1)[INPUT_LR]))}" for name in LEVELS
        )


def parse_lr_shape(value: str | Sequence[int]) -> LrShape:
    """Read an ``lr`` shape: "1x3x128x128", "1,3,128,128", "lr:1x3x128x128", "[1, 3, 128, 128]" or a sequence.

    The channel count must be 3; the result is (N, h, w).
    """
    text = value if isinstance(value, str) else ",".join(str(v) for v in value)
    body = text.strip()
    if body.startswith(f"{INPUT_LR}:"):
        body = body[len(INPUT_LR) + 1 :]
    parts = [p for p in re.split(r"[x,\s\[\]()]+", body) if p]
    try:
        dims = [int(p) for p in parts]
    except ValueError:
        raise OftsrError(f"bad lr shape {text!r}: expected N x 3 x h x w, e.g. 1x3x128x128") from None
    if len(dims) != 4:
        raise OftsrError(f"bad lr shape {text!r}: expected 4 dimensions N x 3 x h x w")
    if dims[1] != CHANNELS:
        raise OftsrError(f"bad lr shape {text!r}: the model takes {CHANNELS} channels")
    return dims[0], dims[2], dims[3]


def make_profile(
    scale: int,
    multiple_of: int = 1,
    *,
    tile: int = 128,
    batch: int = 1,
    min_shape: str | Sequence[int] | None = None,
    opt_shape: str | Sequence[int] | None = None,
    max_shape: str | Sequence[int] | None = None,
) -> ProfileShapes:
    """Profile from tile and batch (min N=1, opt = max = (batch, tile, tile)), with any level overridden."""
    if tile < 1 or batch < 1:
        raise OftsrError(f"tile and batch must be positive, got tile {tile}, batch {batch}")
    profile = ProfileShapes(
        scale,
        parse_lr_shape(min_shape) if min_shape is not None else (1, tile, tile),
        parse_lr_shape(opt_shape) if opt_shape is not None else (batch, tile, tile),
        parse_lr_shape(max_shape) if max_shape is not None else (batch, tile, tile),
    )
    validate_profile(profile, multiple_of)
    return profile


def validate_profile(profile: ProfileShapes, multiple_of: int = 1) -> None:
    """min ≤ opt ≤ max in every dimension, all positive, h and w multiples of the model's ``multiple_of``."""
    for name in LEVELS:
        n, h, w = profile.level(name)
        if min(n, h, w) < 1:
            raise OftsrError(f"profile {name} shape {n}x3x{h}x{w} has a non-positive dimension")
        if h % multiple_of or w % multiple_of:
            raise OftsrError(f"profile {name} tile {h}x{w} is not a multiple of the model's {multiple_of}")
    for axis, label in enumerate(("batch", "height", "width")):
        lo, mid, hi = (profile.level(name)[axis] for name in LEVELS)
        if not lo <= mid <= hi:
            raise OftsrError(f"profile {label} must satisfy min <= opt <= max, got {lo}, {mid}, {hi}")


def check_run_shapes(
    profile: ProfileShapes, lr: Sequence[int], noise: Sequence[int], t: Sequence[int]
) -> None:
    """Reject a call whose shapes break the graph contract or whose tile falls outside the engine's profile.

    The batch is not checked: the caller splits batches above the profile's max and pads those below its min.
    """
    if len(lr) != 4 or lr[1] != CHANNELS:
        raise OftsrError(f"lr must be (N, 3, h, w), got {tuple(lr)}")
    n, _, h, w = lr
    expected = tensor_shapes(n, h, w, profile.scale)
    if tuple(noise) != expected[INPUT_NOISE]:
        raise OftsrError(f"noise must be {expected[INPUT_NOISE]} for lr {tuple(lr)}, got {tuple(noise)}")
    if tuple(t) != expected[INPUT_T]:
        raise OftsrError(f"t must be {expected[INPUT_T]} for lr {tuple(lr)}, got {tuple(t)}")
    if not profile.accepts(profile.min[0], h, w):
        raise OftsrError(
            f"tile {h}x{w} is outside the engine's profile ({profile.describe()}): rebuild with --tile/--min/--max"
        )


def split_batches(n: int, max_batch: int) -> list[tuple[int, int]]:
    """[start, stop) ranges of at most ``max_batch`` items covering ``n`` items."""
    if max_batch < 1:
        raise ValueError("max_batch must be positive")
    return [(start, min(start + max_batch, n)) for start in range(0, n, max_batch)]
