"""Checks that an exported file is what it claims: the DESIGN §2 contract, and numbers close to its reference.

- :func:`check_contract`: inputs exactly ``lr, noise, t`` (float32, named dynamic N/h/w), output ``hr``, ``t``
  consumed by the graph (not folded away), and valid :class:`ModelSpec` metadata.
- :func:`verify_against_torch`: ONNX Runtime vs the PyTorch reference (max abs error) on two shapes × three t.
- :func:`psnr_against_fp32`: an FP16/INT8 variant vs its FP32 sibling on real tiles (PSNR per t).
- :func:`time_ort_cpu`: ONNX Runtime CPU latency, to report what INT8 buys on this machine.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from oftsr_edge.errors import OftsrError
from oftsr_edge.runtime.model_spec import INPUT_NAMES, METADATA_KEY, OUTPUT_NAME, ModelSpec

if TYPE_CHECKING:
    import onnx
    import onnxruntime

FLOAT = 1  # onnx.TensorProto.FLOAT, without importing onnx at module level
RANKS = {"lr": 4, "noise": 4, "t": 1, OUTPUT_NAME: 4}
DYNAMIC_AXES = {"lr": (0, 2, 3), "noise": (0, 2, 3), "t": (0,), OUTPUT_NAME: (0, 2, 3)}
VERIFY_T = (0.0, 0.5, 1.0)


def load_model(model: onnx.ModelProto | str | os.PathLike) -> tuple[onnx.ModelProto, str]:
    """The proto and a label for messages; an unreadable file is a one-line error."""
    import onnx

    if isinstance(model, onnx.ModelProto):
        return model, "exported graph"
    path = Path(model)
    if not path.is_file():
        raise OftsrError(f"ONNX file not found: {path}")
    try:
        return onnx.load(str(path)), str(path)
    except Exception as exc:  # protobuf's DecodeError and friends
        raise OftsrError(f"{path} is not a readable ONNX file ({type(exc).__name__})") from None


def read_spec(model: onnx.ModelProto, source: str = "model") -> ModelSpec:
    for entry in model.metadata_props:
        if entry.key == METADATA_KEY:
            return ModelSpec.from_json(entry.value, source=source)
    raise OftsrError(
        f"{source} has no oftsr-edge metadata ('{METADATA_KEY}' in metadata_props): not an oftsr-edge export"
    )


def check_contract(
    model: onnx.ModelProto | str | os.PathLike, expect_precision: str | None = None
) -> ModelSpec:
    """Validate the I/O contract and metadata of DESIGN §2; any breach is one :class:`OftsrError` line."""
    proto, source = load_model(model)
    graph = proto.graph
    initializers = {init.name for init in graph.initializer}
    inputs = [v for v in graph.input if v.name not in initializers]
    names = tuple(v.name for v in inputs)
    if names != INPUT_NAMES:
        raise OftsrError(
            f"{source}: graph inputs are {list(names)}, the contract needs exactly {list(INPUT_NAMES)}"
        )
    outputs = tuple(v.name for v in graph.output)
    if outputs != (OUTPUT_NAME,):
        raise OftsrError(
            f"{source}: graph outputs are {list(outputs)}, the contract needs exactly ['{OUTPUT_NAME}']"
        )
    for value in [*inputs, *graph.output]:
        tensor = value.type.tensor_type
        if tensor.elem_type != FLOAT:
            raise OftsrError(
                f"{source}: '{value.name}' must be float32 (keep_io_types), got element type {tensor.elem_type}"
            )
        dims = tensor.shape.dim
        if len(dims) != RANKS[value.name]:
            raise OftsrError(f"{source}: '{value.name}' has rank {len(dims)}, expected {RANKS[value.name]}")
        fixed = [i for i in DYNAMIC_AXES[value.name] if not dims[i].dim_param]
        if fixed:
            raise OftsrError(f"{source}: '{value.name}' axes {fixed} are not named dynamic axes")
        if RANKS[value.name] == 4 and dims[1].dim_value != 3:
            raise OftsrError(f"{source}: '{value.name}' must have 3 channels")
    if not any("t" in node.input for node in graph.node):
        raise OftsrError(
            f"{source}: input 't' feeds no node (folded to a constant?): the knob would do nothing"
        )
    spec = read_spec(proto, source)
    if expect_precision is not None and spec.precision != expect_precision:
        raise OftsrError(f"{source}: metadata says precision {spec.precision}, expected {expect_precision}")
    return spec


def ort_session(model: str | os.PathLike, threads: int = 0) -> onnxruntime.InferenceSession:
    """A CPU session; ``threads`` 0 lets ONNX Runtime pick (one per physical core)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.log_severity_level = 3
    return ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])


def run_ort(session: onnxruntime.InferenceSession, feed: dict[str, np.ndarray]) -> np.ndarray:
    hr = session.run([OUTPUT_NAME], feed)[0]
    if not np.all(np.isfinite(hr)):
        raise OftsrError(
            "the model produced non-finite values (NaN/Inf): this precision is not usable for it"
        )
    return hr


def verification_shapes(spec: ModelSpec) -> list[tuple[int, int, int]]:
    """(N, h, w) at the tile size and at a smaller non-square batch-2 shape: proves N, h and w are all dynamic."""
    m = spec.multiple_of
    h = max(m, (spec.tile // 2) // m * m)
    w = max(2 * m, (3 * spec.tile // 4) // m * m)
    return [(1, spec.tile, spec.tile), (2, h, w)]


def random_feed(n: int, h: int, w: int, scale: int, t: float, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "lr": rng.random((n, 3, h, w), dtype=np.float32),
        "noise": rng.standard_normal((n, 3, h * scale, w * scale), dtype=np.float32),
        "t": np.full((n,), t, dtype=np.float32),
    }


@dataclass(frozen=True)
class Deviation:
    """ONNX Runtime vs PyTorch at one input shape (N, h, w) and one t."""

    shape: tuple[int, int, int]
    t: float
    max_abs: float


def verify_against_torch(
    onnx_path: str | os.PathLike,
    checkpoint: str | os.PathLike,
    shapes: list[tuple[int, int, int]] | None = None,
    t_values: tuple[float, ...] = VERIFY_T,
    seed: int = 0,
) -> list[Deviation]:
    """Max abs error of ONNX Runtime vs :class:`OneStepSR` on the same lr/noise, per shape and t.

    Shapes default to :func:`verification_shapes`; the lr images are uniform noise, the worst case for ranges.
    """
    import torch

    from oftsr_edge.export.onnx_export import load_student

    spec = check_contract(onnx_path)
    model, _ = load_student(checkpoint)
    session = ort_session(onnx_path)
    results = []
    for n, h, w in shapes or verification_shapes(spec):
        for i, t in enumerate(t_values):
            feed = random_feed(n, h, w, spec.scale, t, seed=seed + i)
            with torch.no_grad():
                ref = model(*(torch.from_numpy(feed[k]) for k in INPUT_NAMES)).numpy()
            got = run_ort(session, feed)
            results.append(Deviation((n, h, w), float(t), float(np.abs(got - ref).max())))
    return results


def psnr_against_fp32(
    fp32_path: str | os.PathLike,
    other_path: str | os.PathLike,
    feeds: list[dict[str, np.ndarray]],
) -> dict[float, float]:
    """PSNR (dB, peak 1) of ``other`` vs its FP32 sibling per t, over all ``feeds`` (same lr, noise and t)."""
    from oftsr_edge.metrics.fidelity import psnr

    ref_session, other_session = ort_session(fp32_path), ort_session(other_path)
    per_t: dict[float, list[tuple[np.ndarray, np.ndarray]]] = {}
    for feed in feeds:
        t = float(feed["t"][0])
        per_t.setdefault(t, []).append((run_ort(ref_session, feed), run_ort(other_session, feed)))
    return {
        t: psnr(np.concatenate([a for a, _ in pairs]), np.concatenate([b for _, b in pairs]), peak=1.0)
        for t, pairs in per_t.items()
    }


def time_ort_cpu(
    model: str | os.PathLike, feed: dict[str, np.ndarray], repeats: int = 5, threads: int = 0
) -> float:
    """Median seconds per call on ONNX Runtime CPU, after one warm-up call."""
    session = ort_session(model, threads)
    session.run([OUTPUT_NAME], feed)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        session.run([OUTPUT_NAME], feed)
        times.append(time.perf_counter() - start)
    return float(np.median(times))
