"""Does an engine's fast path compute the model it was given? One smooth test tile and a PSNR threshold.

Used where a faster way of running a file may be wrong for some graphs: ``--backend auto`` compares every
engine × precision with ONNX Runtime fp32 before timing it, and the OpenVINO backend compares its int8 kernels
with the same file run without them. Torch-free.
"""

from __future__ import annotations

import numpy as np

#: PSNR (dB) against the reference output below which a fast path is refused; a sound int8 file is ~45-60 dB
AGREE_DB = 40.0


def smooth_tile(edge: int, scale: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(lr, noise) float32 NCHW: a smooth picture with one edge, not uniform noise — an int8 file is calibrated on
    photos, so the check must judge it where it is meant to work."""
    yy, xx = np.mgrid[0:edge, 0:edge].astype(np.float32)
    lr = np.stack([0.5 + 0.3 * np.sin(xx / (4 + c)) * np.cos(yy / (6 + c)) + 0.1 * (xx > edge / 2) for c in range(3)])
    lr = np.clip(lr, 0.0, 1.0)[None].astype(np.float32)
    noise = np.random.default_rng(seed).standard_normal((1, 3, edge * scale, edge * scale), dtype=np.float32)
    return lr, noise


def agreement_db(out: np.ndarray, reference: np.ndarray) -> float:
    """PSNR of ``out`` against ``reference`` (images in [0, 1]); inf when equal."""
    mse = float(np.mean((np.clip(out, 0, 1).astype(np.float64) - np.clip(reference, 0, 1)) ** 2))
    return float("inf") if mse == 0 else 10.0 * float(np.log10(1.0 / mse))
