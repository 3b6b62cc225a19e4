"""Checks that an exported file computes what it should: numbers close to its reference.

The I/O and metadata contract itself is checked by :func:`oftsr_edge.contract.read_spec` (every written file goes
through it in :func:`oftsr_edge.export.onnx_export.write_model`); this module compares numbers:

- :func:`verify_against_torch`: ONNX Runtime vs the PyTorch reference (max abs error) on two shapes × three t
  (a two-time graph: every output, at a random state and r = t/2).
- :func:`psnr_against_fp32`: an FP16/INT8 variant vs its FP32 sibling on real tiles (PSNR per t; a two-time
  graph over its one-step map and its K-step chain, where a variant's rounding compounds from step to step).
- :func:`time_ort_cpu`: ONNX Runtime CPU latency, to report what INT8 buys on this machine.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from oftsr_edge import contract
from oftsr_edge.contract import ModelSpec
from oftsr_edge.errors import OftsrError

if TYPE_CHECKING:
    import onnxruntime

VERIFY_T = (0.0, 0.5, 1.0)


def ort_session(model: str | os.PathLike, threads: int = 0) -> onnxruntime.InferenceSession:
    """A CPU session; ``threads`` 0 lets ONNX Runtime pick (one per physical core)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.log_severity_level = 3
    return ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])


def run_ort(session: onnxruntime.InferenceSession, feed: dict[str, np.ndarray]) -> np.ndarray:
    hr = session.run([contract.OUTPUT_HR], feed)[0]
    _check_finite(hr)
    return hr


def checked_steps(spec: ModelSpec) -> tuple[int, ...]:
    """The K a variant is compared at: 1, and for a two-time graph also its default (at least 2) steps."""
    return (1, max(2, spec.default_steps)) if spec.two_time else (1,)


def session_hr(session: onnxruntime.InferenceSession, spec: ModelSpec, feed: dict[str, np.ndarray],
               steps: int = 1) -> np.ndarray:  # fmt: skip
    """hr for a one-step feed {lr, noise, t}: one call, or a two-time graph's K-step chain (state 0 at r = 0)."""
    from oftsr_edge.few_step import run_graph

    if not spec.two_time:
        return run_ort(session, feed)

    def step(lr: np.ndarray, noise: np.ndarray, t: np.ndarray, state: np.ndarray,
             r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        hr, next_state = session.run(list(spec.output_names), contract.feeds(lr, noise, t, state, r))
        _check_finite(hr, next_state)
        return hr, next_state

    lr, noise, t = (feed[name] for name in contract.INPUT_NAMES)
    return run_graph(step, lr, noise, float(t[0]), steps)


def _check_finite(*arrays: np.ndarray) -> None:
    if not all(np.all(np.isfinite(a)) for a in arrays):
        raise OftsrError("the model produced non-finite values (NaN/Inf): this precision is not usable for it")


def verification_shapes(spec: ModelSpec) -> list[tuple[int, int, int]]:
    """(N, h, w) at the tile size and at a smaller non-square batch-2 shape: proves N, h and w are all dynamic."""
    m = spec.multiple_of
    h = max(m, (spec.tile // 2) // m * m)
    w = max(2 * m, (3 * spec.tile // 4) // m * m)
    return [(1, spec.tile, spec.tile), (2, h, w)]


def random_feed(n: int, h: int, w: int, scale: int, t: float, seed: int = 0,
                two_time: bool = False) -> dict[str, np.ndarray]:
    """Uniform lr, normal noise, t; for a two-time graph also a random state (σ 0.1) at r = t/2 (mid-chain)."""
    rng = np.random.default_rng(seed)
    lr = rng.random((n, contract.CHANNELS, h, w), dtype=np.float32)
    noise = rng.standard_normal((n, contract.CHANNELS, h * scale, w * scale), dtype=np.float32)
    t_array = np.full((n,), t, dtype=np.float32)
    if not two_time:
        return contract.feeds(lr, noise, t_array)
    state = 0.1 * rng.standard_normal(noise.shape, dtype=np.float32)
    return contract.feeds(lr, noise, t_array, state, t_array / 2)


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
    """Max abs error of ONNX Runtime vs the PyTorch reference (:class:`OneStepSR`, or :class:`TwoTimeStepSR` over
    all its outputs) on the same feeds, per shape and t.

    Shapes default to :func:`verification_shapes`; the lr images are uniform noise, the worst case for ranges.
    """
    import torch

    from oftsr_edge.export.onnx_export import load_student

    spec = contract.read_spec(onnx_path, allow_two_time=True)
    model, _ = load_student(checkpoint)
    session = ort_session(onnx_path)
    results = []
    for n, h, w in shapes or verification_shapes(spec):
        for i, t in enumerate(t_values):
            feed = random_feed(n, h, w, spec.scale, t, seed=seed + i, two_time=spec.two_time)
            with torch.no_grad():
                ref = model(*(torch.from_numpy(feed[k]) for k in spec.input_names))
            refs = ref if isinstance(ref, tuple) else (ref,)
            got = session.run(list(spec.output_names), feed)
            _check_finite(*got)
            worst = max(float(np.abs(g - r.numpy()).max()) for g, r in zip(got, refs))
            results.append(Deviation((n, h, w), float(t), worst))
    return results


def psnr_against_fp32(
    fp32_path: str | os.PathLike,
    other_path: str | os.PathLike,
    feeds: list[dict[str, np.ndarray]],
) -> dict[float, float]:
    """PSNR (dB, peak 1) of ``other`` vs its FP32 sibling per t, over all one-step ``feeds`` (same lr, noise and
    t); a two-time graph's outputs at every K of :func:`checked_steps` count together."""
    from oftsr_edge.metrics.fidelity import psnr

    spec = contract.read_spec(fp32_path, allow_two_time=True)
    ref_session, other_session = ort_session(fp32_path), ort_session(other_path)
    per_t: dict[float, list[tuple[np.ndarray, np.ndarray]]] = {}
    for feed in feeds:
        t = float(feed[contract.INPUT_T][0])
        for k in checked_steps(spec):
            pair = (session_hr(ref_session, spec, feed, k), session_hr(other_session, spec, feed, k))
            per_t.setdefault(t, []).append(pair)
    return {
        t: psnr(np.concatenate([a for a, _ in pairs]), np.concatenate([b for _, b in pairs]), peak=1.0)
        for t, pairs in per_t.items()
    }


def time_ort_cpu(
    model: str | os.PathLike, feed: dict[str, np.ndarray], repeats: int = 5, threads: int = 0
) -> float:
    """Median seconds per call on ONNX Runtime CPU, after one warm-up call."""
    session = ort_session(model, threads)
    session.run([contract.OUTPUT_HR], feed)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        session.run([contract.OUTPUT_HR], feed)
        times.append(time.perf_counter() - start)
    return float(np.median(times))
