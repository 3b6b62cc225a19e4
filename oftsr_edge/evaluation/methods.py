"""The things ``bench``, ``eval`` and ``tune-t`` run: our exported model through the runtime, the bicubic
baseline, and the PyTorch teacher — each wrapped as a :class:`~oftsr_edge.evaluation.quality.Method`.

Our model always goes through :class:`oftsr_edge.runtime.upscaler.Upscaler`, the object users call, so measured
time and quality are what users get. The teacher needs torch (the [train] extra) and is imported only when asked.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from oftsr_edge.errors import OftsrError
from oftsr_edge.evaluation.peers import bicubic_upscale
from oftsr_edge.evaluation.quality import Method


class OpenedModel:
    """Our exported model opened by the runtime, with what ``bench`` needs: one tile batch and whole images."""

    def __init__(self, upscaler: object, path: Path | None = None) -> None:
        self.upscaler = upscaler
        self.path = path  # the model file (a bundled name resolved)
        self.spec = upscaler.spec
        self.backend_name = upscaler.backend_name
        self.on_gpu = upscaler.backend.device.on_gpu  # which memory bench's fit check reads, how it times
        self.overlap = _find_attr(upscaler, ("overlap",), ("tiler", "overlap"))
        self.tile = _find_attr(upscaler, ("tile",))  # effective LR tile after rounding to multiple_of
        self._run = _find_attr(upscaler, ("backend", "run"), ("_backend", "run"))
        self.solver_steps = int(getattr(upscaler, "solver_steps", 1))  # K of a two-time model's few-step path

    def run_tiles(self, lr: np.ndarray, noise: np.ndarray, t: float) -> np.ndarray:
        """The model on a batch of tiles: the pure model time, without tiling or noise (one backend call, or
        the K chained calls of a two-time model's few-step path)."""
        if self._run is None:
            raise OftsrError(
                "this runtime's Upscaler does not expose its backend; per-tile timing is unavailable"
            )
        if self.solver_steps > 1:
            from oftsr_edge.few_step import run_graph

            return run_graph(self.upscaler.backend.run_step, lr, noise, t, self.solver_steps)
        return self._run(lr, noise, t)

    def describe(self) -> str:
        """How the model runs, for a row's note: steps, backend, precision."""
        k = self.solver_steps
        return f"{'one step' if k == 1 else f'{k} steps'}, {self.backend_name}, {self.spec.precision}"

    def upscale(self, image: np.ndarray, t: float | None = None, seed: int = 0) -> np.ndarray:
        return self.upscaler.upscale(image, t=t, seed=seed)

    def close(self) -> None:
        close = getattr(self.upscaler, "close", None)
        if close:
            close()


def _find_attr(obj: object, *paths: tuple[str, ...]) -> object | None:
    for path in paths:
        value = obj
        for name in path:
            value = getattr(value, name, None)
            if value is None:
                break
        if value is not None:
            return value
    return None


def open_upscaler(
    model: str | Path | None,
    backend: str = "auto",
    tile: int | None = None,
    overlap: int | None = None,
    batch_size: int = 1,
    device: int | None = None,
    solver_steps: int | None = None,
) -> OpenedModel:
    """Open ``model`` (a file, a bundled name, or None for the bundled default) with the runtime's Upscaler on
    backend ``backend`` (a name; ``device`` None = its default); ``tile`` 0 means whole images; ``solver_steps``
    is ``--solver-steps`` (None = the model's default)."""
    from oftsr_edge.runtime.backends.options import parse_backend
    from oftsr_edge.runtime.models import resolve_model
    from oftsr_edge.runtime.upscaler import Upscaler

    path = resolve_model(model)
    options = parse_backend(backend, device=device)
    upscaler = Upscaler(path, options, tile=tile, overlap=overlap, batch_size=batch_size, solver_steps=solver_steps)
    return OpenedModel(upscaler, path)


def student_methods(model: OpenedModel, ts: list[float], seed: int = 0) -> list[Method]:
    """One row per t; ``seed`` fixes the noise so rows differ only by t."""
    name = model.spec.name + (f" K={model.solver_steps}" if model.solver_steps > 1 else "")
    return [
        Method(
            f"{name} t={t:g}",
            "student",
            lambda lr, t=t: model.upscale(lr, t=t, seed=seed),
            t,
            model.describe(),
        )
        for t in ts
    ]


def bicubic_method(scale: int) -> Method:
    return Method(
        "bicubic", "baseline", lambda lr: bicubic_upscale(lr, scale), None, "Pillow BICUBIC (a = −0.5)"
    )


def hr_reference() -> Method:
    return Method("HR (reference)", "reference", None, None, "NIQE of the ground truth itself")


def peer_methods(names: tuple[str, ...], model: OpenedModel) -> tuple[list[Method], list[str]]:
    """Quality rows for peers, tiled like our model; random-weight peers are refused (speed only, no quality)."""
    from oftsr_edge.evaluation.ncnn_peers import HOW_TO, NCNN_PEERS, available
    from oftsr_edge.evaluation.peers import make_peers

    notes = []
    random = [n for n in names if n not in NCNN_PEERS]
    if random:
        notes.append(
            f"peers {', '.join(random)} have random weights (bench only) or are the bicubic row: skipped"
        )
    peers, more = make_peers([n for n in names if n in NCNN_PEERS], model.backend_name)
    notes += more
    if not names and not available():
        notes.append(f"trained peers (Real-ESRGAN via ncnn) can be added as rows: {HOW_TO}")
    tile, overlap = int(model.tile or 128), int(model.overlap or 0)
    rows = [
        Method(
            p.label, "peer", lambda lr, p=p: p.upscale(lr, tile, overlap, 1), None, f"{p.note}, tile {tile}"
        )
        for p in peers
    ]
    return rows, notes


def teacher_method(
    checkpoint: str | Path, scale: int, steps: int, solver: str = "euler", seed: int = 0
) -> Method:
    """The PyTorch flow teacher integrated from t = 0 to 1 with ``steps`` solver steps (whole image, CPU)."""
    from oftsr_edge.extras import require

    require("train", "torch", "safetensors")
    import torch

    from oftsr_edge.train.checkpoint import load_checkpoint
    from oftsr_edge.train.solvers import SOLVER_NAMES
    from oftsr_edge.train.validate import sample_teacher

    if solver not in SOLVER_NAMES:
        raise OftsrError(f"--teacher-solver must be one of {', '.join(SOLVER_NAMES)}, got {solver!r}")
    if steps < 1:
        raise OftsrError(f"--teacher-steps must be ≥ 1, got {steps}")
    ckpt = load_checkpoint(checkpoint, kind="teacher", scale=scale)
    net = ckpt.build_model("ema")
    sigma_p = ckpt.sigma_p
    nfe_seen: list[int] = []

    def upscale(lr: np.ndarray) -> np.ndarray:
        rgb = np.repeat(lr, 3, axis=2) if lr.shape[2] == 1 else lr
        x = torch.from_numpy(np.array(rgb, copy=True)).permute(2, 0, 1)[None].float() / 255.0
        hr, nfe = sample_teacher(net, x, sigma_p, solver=solver, steps=steps, seed=seed)
        nfe_seen.append(nfe)
        out = (hr[0].permute(1, 2, 0).numpy() * 255.0 + 0.5).clip(0, 255).astype(np.uint8)
        if lr.shape[2] == 1:
            luma = out.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
            out = np.clip(luma + 0.5, 0, 255).astype(np.uint8)[..., None]
        return out

    label = f"teacher {solver}×{steps}"
    method = Method(label, "teacher", None, 1.0, "")

    def upscale_and_note(lr: np.ndarray) -> np.ndarray:
        out = upscale(lr)
        # the NFE the solver really spent (adaptive for rk45), averaged over the images so far
        method.note = f"PyTorch, {np.mean(nfe_seen):g} NFE (mean), {Path(checkpoint).name}"
        return out

    method.upscale = upscale_and_note
    return method
