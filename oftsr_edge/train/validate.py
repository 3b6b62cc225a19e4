"""Validation: LR/HR pairs from a folder, whole-image teacher sampling and one-step inference, PSNR-Y.

A folder laid out like the shared val sets (``HR/`` + ``LR_<degradation>/X{s}/`` with matching names, as the shared
sets and ``oftsr-edge degrade`` write them) uses its own LR images — those of the run's degradation, so a real-photo
run validates on real-style LR; any other folder of HR images gets LR by antialiased bicubic downsampling after cropping HR to a multiple
of the scale.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from oftsr_edge.errors import OftsrError
from oftsr_edge.metrics.fidelity import psnr_y
from oftsr_edge.pairs import crop_hr_to_lr
from oftsr_edge.train.data import find_images, read_rgb
from oftsr_edge.train.degradations import bicubic_down, quantize_8bit
from oftsr_edge.train.losses import noisy_start
from oftsr_edge.train.model import OFTSRUNet
from oftsr_edge.train.solvers import integrate, one_step_estimate


@dataclass
class ValPair:
    name: str
    hr: np.ndarray  # (H, W, 3) uint8, H = s·h
    lr: np.ndarray  # (h, w, 3) uint8


def load_val_pairs(folder: str | Path, scale: int, limit: int | None = None,
                   degradation: str = "bicubic") -> list[ValPair]:
    folder = Path(folder)
    hr_dir, lr_dir = folder / "HR", folder / f"LR_{degradation}" / f"X{scale}"
    if degradation != "bicubic" and hr_dir.is_dir() and not lr_dir.is_dir():
        raise OftsrError(f"{folder} has no LR_{degradation}/X{scale}/ folder to validate a {degradation} run on "
                         f"(make one with: oftsr-edge degrade --hr {hr_dir} -o {folder} --degradation {degradation})")
    pairs = []
    if hr_dir.is_dir() and lr_dir.is_dir():
        for hr_path in find_images(hr_dir):
            lr_path = lr_dir / hr_path.name
            if not lr_path.is_file():
                continue
            lr = read_rgb(lr_path)
            hr = crop_hr_to_lr(read_rgb(hr_path), lr.shape, scale, hr_path, lr_path)
            pairs.append(ValPair(hr_path.stem, hr, lr))
    else:
        pairs = pairs_from_hr(find_images(folder), scale)
    if not pairs:
        raise OftsrError(f"no validation images in {folder}")
    return pairs[:limit] if limit else pairs


def pairs_from_hr(paths: list[Path], scale: int) -> list[ValPair]:
    """Pairs whose LR is made from HR by the training pipeline's antialiased bicubic downsample, rounded to 8 bits
    (HR cropped to a multiple of the scale first). Used for held-out photos that have no shipped LR."""
    pairs = []
    for hr_path in paths:
        hr = read_rgb(hr_path)
        h, w = (hr.shape[0] // scale) * scale, (hr.shape[1] // scale) * scale
        hr = hr[:h, :w]
        x = torch.from_numpy(hr).permute(2, 0, 1)[None].float() / 255.0
        lr = (quantize_8bit(bicubic_down(x, scale))[0].permute(1, 2, 0).numpy() * 255.0 + 0.5).astype(np.uint8)
        pairs.append(ValPair(hr_path.stem, hr, lr))
    return pairs


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 → (1, 3, H, W) float in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float() / 255.0


def to_uint8(x: torch.Tensor) -> np.ndarray:
    return (x[0].clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255.0 + 0.5).astype(np.uint8)


def pad_to_multiple(lr: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Reflect-pad (replicate when the image is too small to reflect) so h and w are multiples of ``multiple``."""
    h, w = lr.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph or pw:
        mode = "reflect" if ph < h and pw < w else "replicate"
        lr = F.pad(lr, (0, pw, 0, ph), mode=mode)
    return lr, (h, w)


@torch.no_grad()
def sample_teacher(model: OFTSRUNet, lr: torch.Tensor, sigma_p: float, solver: str = "euler", steps: int = 1,
                   rtol: float = 1e-3, seed: int = 0, jump_at: float | None = None) -> tuple[torch.Tensor, int]:
    """Integrate the teacher's flow for one LR image (1, 3, h, w) in [0, 1]; returns HR in [0, 1] and the NFE.

    With ``jump_at`` the solver stops at that t and the one-step estimate x1ᵗ finishes the path (+1 NFE).
    """
    device = next(model.parameters()).device
    s = model.scale
    padded, (h, w) = pad_to_multiple(lr.to(device), model.config.multiple_of)
    x_lr = F.pixel_shuffle(model.condition(padded * 2 - 1), s)
    gen = torch.Generator().manual_seed(seed)
    x0 = noisy_start(x_lr, torch.randn(x_lr.shape, generator=gen).to(device), sigma_p)

    def v(x: torch.Tensor, t: float) -> torch.Tensor:
        return model(x, x_lr, t)

    t_end = 1.0 if jump_at is None else jump_at
    result = integrate(v, x0, solver, steps=steps, rtol=rtol, t1=t_end) if t_end > 0 else None
    x, nfe = (result.x, result.nfe) if result else (x0, 0)
    if jump_at is not None:
        x, nfe = one_step_estimate(v, x, jump_at), nfe + 1
    return ((x[..., : h * s, : w * s] + 1) * 0.5).clamp(0, 1), nfe


@torch.no_grad()
def one_step_psnr(model: OFTSRUNet, pairs: list[ValPair], sigma_p: float, t: float = 0.0, seed: int = 0) -> float:
    """Mean PSNR-Y of x0 + v(x0, t) over ``pairs``: the student's output at ``t``, the teacher's Euler-1 at t = 0."""
    from oftsr_edge.train.onestep import OneStepSR, upscale_reference

    was_training = model.training
    model.eval()
    wrapper = OneStepSR(model, sigma_p).to(next(model.parameters()).device)
    scores = []
    for pair in pairs:
        lr, (h, w) = pad_to_multiple(to_tensor(pair.lr), model.config.multiple_of)
        out = upscale_reference(wrapper, lr.to(next(model.parameters()).device), t, seed=seed)
        sr = to_uint8(out[..., : h * model.scale, : w * model.scale])
        scores.append(psnr_y(sr, pair.hr, border=model.scale))
    model.train(was_training)
    return float(np.mean(scores))


def mean_psnr(pairs: list[ValPair], upscale: Callable[[torch.Tensor], torch.Tensor], border: int) -> float:
    """Mean PSNR-Y of any ``upscale(lr (1,3,h,w) in [0,1]) -> hr`` over the pairs."""
    return float(np.mean([psnr_y(to_uint8(upscale(to_tensor(p.lr))), p.hr, border=border) for p in pairs]))
