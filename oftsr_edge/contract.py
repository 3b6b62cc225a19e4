"""The model contract of docs/architecture.md §3 in one place: tensor names, dtypes, shape rules, metadata schema, reader, validator.

Two graph formats, told apart by the metadata's ``format_version``: 1, the one-step graph ``hr = f(lr, noise, t)``
(every OFTSR student; what every runtime reads), and 2, the two-time graph of a MeanFlow student,
``hr, next_state = f(lr, noise, t, state, r)``, one step of the few-step path (:mod:`oftsr_edge.few_step`). A reader
accepts format 2 only when it says it can feed it (``allow_two_time``), so code written for one-step graphs fails
with one clear line instead of a missing-input error.

Export writes what this module defines (:func:`metadata_props`, :func:`dim_names`), and everything that opens a model
(runtime backends, ``check``, ``eval``, the engine builder, tests) reads it back through :func:`read_spec` or
:func:`spec_from_session`, which both end in the one validator :func:`validate`. No other module spells a tensor name
or the metadata key: they use the constants below.

Only stdlib, numpy, :mod:`oftsr_edge.errors` and :mod:`oftsr_edge.contract_io` (the readers) at module level: the
runtime imports this on a box without torch or onnx. The ``onnx`` package is imported inside the readers, and only
when the caller lets it.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from oftsr_edge.contract_io import (  # noqa: F401 - ModelIO, TensorInfo and the describers are part of this API
    ModelIO,
    TensorInfo,
    describe_proto,
    describe_session,
    onnx_available,
    read_with_onnx,
    read_with_onnxruntime,
)
from oftsr_edge.errors import OftsrError
from oftsr_edge.few_step import MAX_STEPS

INPUT_LR = "lr"  # float32 [N, 3, h, w]: RGB LR image in [0, 1]
INPUT_NOISE = "noise"  # float32 [N, 3, s·h, s·w]: standard normal noise drawn by the runtime
INPUT_T = "t"  # float32 [N]: fidelity-realism knob in [0, 1]; an input of every exported graph (a backend may
#               run a copy with one t value baked in as a constant: runtime/backends/baked_inputs.py)
OUTPUT_HR = "hr"  # float32 [N, 3, s·h, s·w]: RGB HR image in [0, 1]
INPUT_NAMES = (INPUT_LR, INPUT_NOISE, INPUT_T)  # in graph order
OUTPUT_NAMES = (OUTPUT_HR,)
# format 2 (two-time graph, one step r → t): t is the step's end time (the knob itself for one step)
INPUT_STATE = "state"  # float32 [N, 3, s·h, s·w]: x_r − x0 in HR image units ([0, 1] scale); zeros at r = 0
INPUT_R = "r"  # float32 [N]: the time r of the state, 0 <= r <= t
OUTPUT_STATE = "next_state"  # float32 [N, 3, s·h, s·w]: x_t − x0, the next step's state (unclamped)
TWO_TIME_INPUT_NAMES = (*INPUT_NAMES, INPUT_STATE, INPUT_R)
TWO_TIME_OUTPUT_NAMES = (OUTPUT_HR, OUTPUT_STATE)  # hr: x_r + (1 − r)·u(x_r, r, t), clamped to [0, 1]
DTYPE = np.dtype(np.float32)  # every I/O tensor at every precision (fp16/int8 graphs keep float32 I/O)
CHANNELS = 3
RANKS = {INPUT_LR: 4, INPUT_NOISE: 4, INPUT_T: 1, OUTPUT_HR: 4, INPUT_STATE: 4, INPUT_R: 1, OUTPUT_STATE: 4}
_IMAGE_AXES = (0, 2, 3)
DYNAMIC_AXES = {
    INPUT_LR: _IMAGE_AXES,
    INPUT_NOISE: _IMAGE_AXES,
    INPUT_T: (0,),
    OUTPUT_HR: _IMAGE_AXES,
    INPUT_STATE: _IMAGE_AXES,
    INPUT_R: (0,),
    OUTPUT_STATE: _IMAGE_AXES,
}

METADATA_KEY = "oftsr_edge"  # the one ONNX metadata_props key; its value is ModelSpec.to_json()
FORMAT_VERSION = 1  # the one-step graph (lr, noise, t -> hr)
TWO_TIME_FORMAT_VERSION = (
    2  # the two-time graph (lr, noise, t, state, r -> hr, next_state) + method, default_steps
)
FORMAT_VERSIONS = (FORMAT_VERSION, TWO_TIME_FORMAT_VERSION)
_TWO_TIME_FIELDS = ("method", "default_steps")  # absent from format-1 metadata
PRECISIONS = ("fp32", "fp16", "int8")
SCALES = (2, 4, 8)
# ranges of the metadata's numbers (docs/architecture.md §3): far beyond every real model, short of absurd
MAX_SIGMA_P = 1.0  # the noise σp in image units of [-1, 1]; the models here use 0.2
MAX_MULTIPLE_OF = 256  # 2**(levels - 1) of a UNet with at most 9 levels
MAX_TILE = 8192  # LR pixels per side of the recommended tile
MAX_OPSET = 99


@dataclass(frozen=True)
class ModelSpec:
    """Facts the runtime needs: scale, σp, padding multiple, default t, precision, recommended tile, provenance;
    for a two-time graph (format 2) also the distillation method and the default number of steps."""

    name: str
    scale: int
    sigma_p: float
    multiple_of: int
    default_t: float
    precision: str
    opset: int
    tile: int
    degradation: str
    checkpoint_sha256: str
    format_version: int = FORMAT_VERSION
    method: str = "oftsr"  # format 2: "meanflow"
    default_steps: int = 1  # format 2: the K a runtime uses when not told

    def __post_init__(self) -> None:
        if self.format_version not in FORMAT_VERSIONS:
            raise OftsrError(f"model metadata: format_version must be one of {FORMAT_VERSIONS}")
        if not self.two_time and (self.method, self.default_steps) != ("oftsr", 1):
            raise OftsrError("model metadata: a format-1 (one-step) model is an oftsr student with 1 step")
        if self.two_time and (self.method != "meanflow" or not 1 <= self.default_steps <= MAX_STEPS):
            raise OftsrError(
                f"model metadata: a format-2 model is a meanflow student with 1-{MAX_STEPS} steps, "
                f"got {self.method!r}, {self.default_steps}"
            )
        if self.scale not in SCALES:
            raise OftsrError(f"model metadata: scale must be 2, 4 or 8, got {self.scale}")
        if self.precision not in PRECISIONS:
            raise OftsrError(f"model metadata: precision must be one of {PRECISIONS}, got {self.precision!r}")
        if not 0.0 <= self.default_t <= 1.0:
            raise OftsrError(f"model metadata: default_t must be in [0, 1], got {self.default_t}")
        self._check_ranges()
        if self.tile % self.multiple_of:
            raise OftsrError(f"model metadata: tile {self.tile} is not a multiple of {self.multiple_of}")

    def _check_ranges(self) -> None:
        """Values a runtime sizes buffers and pads by, checked once when a model is opened: crafted or damaged
        metadata (multiple_of 65536, a negative tile or σp) is one line here, never an allocation later."""
        if not (math.isfinite(self.sigma_p) and 0.0 <= self.sigma_p <= MAX_SIGMA_P):
            raise OftsrError(f"model metadata: sigma_p must be in [0, {MAX_SIGMA_P:g}], got {self.sigma_p}")
        m = self.multiple_of
        if not (1 <= m <= MAX_MULTIPLE_OF and m & (m - 1) == 0):
            raise OftsrError(f"model metadata: multiple_of must be a power of two from 1 to {MAX_MULTIPLE_OF}, got {m}")
        if not 1 <= self.tile <= MAX_TILE:
            raise OftsrError(f"model metadata: tile must be in [1, {MAX_TILE}], got {self.tile}")
        if not 1 <= self.opset <= MAX_OPSET:
            raise OftsrError(f"model metadata: opset must be in [1, {MAX_OPSET}], got {self.opset}")

    @property
    def two_time(self) -> bool:
        """A two-time (MeanFlow) graph with state and r inputs: the few-step path is available."""
        return self.format_version == TWO_TIME_FORMAT_VERSION

    @property
    def input_names(self) -> tuple[str, ...]:
        return TWO_TIME_INPUT_NAMES if self.two_time else INPUT_NAMES

    @property
    def output_names(self) -> tuple[str, ...]:
        return TWO_TIME_OUTPUT_NAMES if self.two_time else OUTPUT_NAMES

    def to_json(self) -> str:
        """The metadata value; format 1 leaves out the format-2 fields, so it is byte-for-byte what it always was."""
        data = asdict(self)
        if not self.two_time:
            for name in _TWO_TIME_FIELDS:
                del data[name]
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str, source: str = "model") -> ModelSpec:
        """Parse and validate; any problem is one :class:`OftsrError` line naming ``source``."""
        try:
            data = json.loads(text)
        except (TypeError, ValueError) as exc:
            raise OftsrError(f"{source}: oftsr-edge metadata is not valid JSON ({exc})") from None
        if not isinstance(data, dict):
            raise OftsrError(f"{source}: oftsr-edge metadata is not a JSON object")
        version = data.get("format_version")
        if version not in FORMAT_VERSIONS or isinstance(version, bool):
            raise OftsrError(
                f"{source}: metadata format_version {version!r} is not supported (expected "
                f"{' or '.join(map(str, FORMAT_VERSIONS))})"
            )
        needed = {f.name for f in fields(cls)} - (
            set() if version == TWO_TIME_FORMAT_VERSION else set(_TWO_TIME_FIELDS)
        )
        missing = sorted(needed - set(data))
        if missing:
            raise OftsrError(f"{source}: oftsr-edge metadata lacks {', '.join(missing)}")
        try:
            return cls(
                name=str(data["name"]), scale=int(data["scale"]), sigma_p=float(data["sigma_p"]),
                multiple_of=int(data["multiple_of"]), default_t=float(data["default_t"]),
                precision=str(data["precision"]), opset=int(data["opset"]), tile=int(data["tile"]),
                degradation=str(data["degradation"]), checkpoint_sha256=str(data["checkpoint_sha256"]),
                format_version=int(version), method=str(data.get("method", "oftsr")),
                default_steps=int(data.get("default_steps", 1)),
            )  # fmt: skip
        except (TypeError, ValueError) as exc:
            raise OftsrError(f"{source}: oftsr-edge metadata has a bad value ({exc})") from None
        except OftsrError as exc:  # __post_init__'s range checks: say which file
            raise OftsrError(f"{source}: {exc}") from None

    def with_precision(self, precision: str) -> ModelSpec:
        """The same spec at another precision (FP16/INT8 variants)."""
        return ModelSpec(**{**asdict(self), "precision": precision})


# ---- shape rules ------------------------------------------------------------------------------------------------


def dim_names(scale: int, two_time: bool = False) -> dict[str, tuple[int | str, ...]]:
    """The symbolic I/O dims an export carries: ``N``, 3 channels, ``h, w`` for lr and ``s*h, s*w`` for noise/hr
    (and state/next_state); t and r are ``N``."""
    hr = ("N", CHANNELS, f"{scale}*h", f"{scale}*w")
    names = {INPUT_LR: ("N", CHANNELS, "h", "w"), INPUT_NOISE: hr, INPUT_T: ("N",), OUTPUT_HR: hr}
    if two_time:
        names.update({INPUT_STATE: hr, INPUT_R: ("N",), OUTPUT_STATE: hr})
    return names


def io_shapes(spec: ModelSpec, n: int, h: int, w: int) -> dict[str, tuple[int, ...]]:
    """Concrete shapes of every I/O tensor for ``n`` LR tiles of ``h``×``w``; h and w must be multiples of
    ``spec.multiple_of`` (the UNet's down-sampling), which the runtime reaches by padding."""
    m = spec.multiple_of
    if n < 1 or h < m or w < m or h % m or w % m:
        raise OftsrError(f"LR tiles of {n}x{h}x{w}: h and w must be positive multiples of {m}")
    s = spec.scale
    hr = (n, CHANNELS, s * h, s * w)
    shapes = {INPUT_LR: (n, CHANNELS, h, w), INPUT_NOISE: hr, INPUT_T: (n,), OUTPUT_HR: hr}
    if spec.two_time:
        shapes.update({INPUT_STATE: hr, INPUT_R: (n,), OUTPUT_STATE: hr})
    return shapes


def image_feeds(lr: np.ndarray, noise: np.ndarray) -> dict[str, np.ndarray]:
    """The image inputs of a feed: contiguous float32 ``lr`` and ``noise`` under the contract's names (all a graph
    with ``t`` baked in as a constant takes)."""
    return {INPUT_LR: np.ascontiguousarray(lr, dtype=DTYPE), INPUT_NOISE: np.ascontiguousarray(noise, dtype=DTYPE)}


def feeds(
    lr: np.ndarray,
    noise: np.ndarray,
    t: float | np.ndarray,
    state: np.ndarray | None = None,
    r: np.ndarray | float | None = None,
) -> dict[str, np.ndarray]:
    """The input dict a session runs on: contiguous float32 arrays under the contract's names. A float ``t`` is the
    knob of the whole batch (one value per batch item in the feed); an array is flattened. ``state`` and ``r``
    together make a format-2 feed."""
    out = image_feeds(lr, noise)
    if np.ndim(t) == 0:
        out[INPUT_T] = np.full((out[INPUT_LR].shape[0],), t, dtype=DTYPE)
    else:
        out[INPUT_T] = np.ascontiguousarray(np.reshape(t, (-1,)), dtype=DTYPE)
    if (state is None) != (r is None):
        raise ValueError("a two-time feed needs both state and r")
    if state is not None:
        out[INPUT_STATE] = np.ascontiguousarray(state, dtype=DTYPE)
        r_array = np.array(np.reshape(r, (-1,)), dtype=DTYPE)  # a copy: writable and contiguous
        out[INPUT_R] = np.full(out[INPUT_T].shape, r_array[0], DTYPE) if r_array.size == 1 else r_array
    return out


def first_step_feeds(
    spec: ModelSpec, lr: np.ndarray, noise: np.ndarray, t: float | np.ndarray
) -> dict[str, np.ndarray]:
    """The one-step feed of either format: a format-2 graph gets state 0 and r = 0 (hr = x0 + u(x0, 0, t))."""
    if not spec.two_time:
        return feeds(lr, noise, t)
    return feeds(lr, noise, t, np.zeros(np.shape(noise), DTYPE), np.zeros(np.shape(lr)[0], DTYPE))


def metadata_props(spec: ModelSpec) -> dict[str, str]:
    """What export writes into the ONNX ``metadata_props`` (one JSON value under :data:`METADATA_KEY`)."""
    return {METADATA_KEY: spec.to_json()}


# ---- validating what a reader (oftsr_edge.contract_io) saw ----------------------------------------------------------


def validate(
    io: ModelIO, source: str, *, expect_precision: str | None = None, allow_two_time: bool = False
) -> ModelSpec:
    """The one contract check: metadata, I/O names, dtypes, ranks, channels, named dynamic axes and live times.

    Every breach is one :class:`OftsrError` line that starts with ``source``. A format-2 (two-time) model passes only
    with ``allow_two_time``: callers that feed the one-step inputs alone must not get one.
    """
    if METADATA_KEY not in io.metadata:
        raise OftsrError(
            f"{source}: not an oftsr-edge model (no '{METADATA_KEY}' metadata); export one with 'oftsr-edge export'"
        )
    spec = ModelSpec.from_json(io.metadata[METADATA_KEY], source=source)
    if spec.two_time and not allow_two_time:
        raise OftsrError(
            f"{source}: a two-time MeanFlow student (contract format {spec.format_version}, inputs "
            f"{', '.join(spec.input_names)}); this command runs one-step (format 1) models only"
        )
    inputs = [v.name for v in io.inputs]
    outputs = [v.name for v in io.outputs]
    if tuple(inputs) != spec.input_names or tuple(outputs) != spec.output_names:
        raise OftsrError(
            f"{source}: inputs {inputs} / outputs {outputs} do not match the oftsr-edge contract "
            f"({', '.join(spec.input_names)} -> {', '.join(spec.output_names)})"
        )
    for value in (*io.inputs, *io.outputs):
        if value.dtype != DTYPE.name:
            raise OftsrError(f"{source}: '{value.name}' must be float32 (keep_io_types), got {value.dtype}")
        rank = RANKS[value.name]
        if len(value.dims) != rank:
            raise OftsrError(f"{source}: '{value.name}' has rank {len(value.dims)}, expected {rank}")
        fixed = [i for i in DYNAMIC_AXES[value.name] if not isinstance(value.dims[i], str)]
        if fixed:
            raise OftsrError(f"{source}: '{value.name}' axes {fixed} are not named dynamic axes")
        if rank == 4 and value.dims[1] != CHANNELS:
            raise OftsrError(f"{source}: '{value.name}' must have {CHANNELS} channels, got {value.dims[1]}")
    _check_axis_scale(io, spec, source)
    for name in (INPUT_T, INPUT_R) if spec.two_time else (INPUT_T,):
        if io.consumed is not None and name not in io.consumed:
            raise OftsrError(
                f"{source}: input '{name}' feeds no node (folded to a constant?): the knob would do nothing"
            )
    if expect_precision is not None and spec.precision != expect_precision:
        raise OftsrError(f"{source}: metadata says precision {spec.precision}, expected {expect_precision}")
    return spec


_SCALED_AXIS = re.compile(r"^\s*(\d+)\s*\*\s*[hw]\s*$")


def _check_axis_scale(io: ModelIO, spec: ModelSpec, source: str) -> None:
    """Export names the HR axes ``{s}*h`` and ``{s}*w`` (:func:`dim_names`): a graph whose names say another scale
    than its metadata would fail at the first call with a shape error deep in the graph, so say it here."""
    for value in (*io.inputs, *io.outputs):
        if RANKS.get(value.name) != 4 or value.name == INPUT_LR:
            continue
        for dim in value.dims[2:]:
            match = _SCALED_AXIS.match(dim) if isinstance(dim, str) else None
            if match and int(match.group(1)) != spec.scale:
                raise OftsrError(
                    f"{source}: the metadata says x{spec.scale}, but the graph's '{value.name}' axes are "
                    f"({', '.join(str(d) for d in value.dims[2:])}), i.e. x{match.group(1)}: its metadata does not "
                    "describe this graph; re-export it"
                )


def spec_from_session(
    session: Any,
    source: str | os.PathLike,
    *,
    expect_precision: str | None = None,
    allow_two_time: bool = False,
) -> ModelSpec:
    """Validate a session a backend already opened (no second session for the metadata)."""
    return validate(
        describe_session(session),
        str(source),
        expect_precision=expect_precision,
        allow_two_time=allow_two_time,
    )


def read_spec(
    source: str | os.PathLike | bytes | Any,
    *,
    via: str = "auto",
    expect_precision: str | None = None,
    allow_two_time: bool = False,
) -> ModelSpec:
    """The one reader: a model file path, ONNX bytes or an ``onnx.ModelProto`` -> its validated :class:`ModelSpec`.

    ``via="auto"`` uses the onnx package when it is installed (it also sees whether ``t`` feeds a node) and an
    onnxruntime session otherwise; the runtime passes ``via="onnxruntime"`` so that it never loads onnx.
    """
    if via not in ("auto", "onnx", "onnxruntime"):
        raise ValueError(f"via must be 'auto', 'onnx' or 'onnxruntime', got {via!r}")
    is_file = isinstance(source, (str, os.PathLike))
    if is_file:
        path = Path(source)
        if not path.is_file():
            raise OftsrError(f"{path}: no such model file")
        label = str(path)
    else:
        label = "ONNX bytes" if isinstance(source, bytes) else "exported graph"
    in_memory_proto = not is_file and not isinstance(source, bytes)
    use_onnx = via == "onnx" or (via == "auto" and (in_memory_proto or onnx_available()))
    io = read_with_onnx(source, label) if use_onnx else read_with_onnxruntime(source, label)
    return validate(io, label, expect_precision=expect_precision, allow_two_time=allow_two_time)
