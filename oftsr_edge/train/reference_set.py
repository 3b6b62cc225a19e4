"""A reference cache (``oftsr-edge reference-cache``) read back for distillation: LR crops and a trained peer's
outputs for them, sampled as aligned sub-crops with dihedral flips.

The realism end learns from these pairs: the student's one-step output at t = 1 for the LR crop is compared with the
peer's output (TV-LPIPS and ℓ1), so t = 1 takes on the peer's look while t < 1 stays on the teacher's ODE. Each crop
also holds the HR photo it was degraded from: with ``photo=True`` it is read and sampled at the same place, for a
TV-LPIPS term against the photo itself (``distill --lpips-target photo``), or against the photo only where the
peer's output has detail and the peer's output where it is flat (``--lpips-target blend``, :func:`detail_blend`).
Sampling is a pure function of the generator it is given, so a resumed distillation replays the same batches.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from oftsr_edge.errors import OftsrError
from oftsr_edge.train.losses import noisy_start

MANIFEST = "reference.json"
#: Format of a reference cache. 2: the first with correct peer outputs (format-1 caches, made before the ncnn
#: input fix, hold outputs of freed memory for a quarter of their crops and are refused).
CACHE_FORMAT = 2


@dataclass
class ReferenceSet:
    """Every complete crop of a cache folder, decoded into memory (600 crops of 64² LR take ~250 MB; the photos,
    when asked for, as much again)."""

    folder: Path
    scale: int
    lr: list[np.ndarray]
    ref: list[np.ndarray]
    manifest: dict
    photo: list[np.ndarray] | None = None  # the HR crops the LR were made from (load(..., photo=True))

    @classmethod
    def load(cls, folder: str | Path, scale: int, photo: bool = False) -> ReferenceSet:
        folder = Path(folder)
        try:
            manifest = json.loads((folder / MANIFEST).read_text())
            cache_scale = int(manifest["settings"]["scale"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise OftsrError(f"--realism-cache {folder}: not a reference cache ({MANIFEST}: {exc})") from None
        if manifest.get("format", 1) != CACHE_FORMAT:
            raise OftsrError(f"--realism-cache {folder} is a format-{manifest.get('format', 1)} cache (this version "
                             f"reads format {CACHE_FORMAT}; older caches hold corrupt peer outputs): rebuild it with "
                             "'oftsr-edge reference-cache' into a new folder")
        if cache_scale != scale:
            raise OftsrError(f"--realism-cache {folder} holds x{cache_scale} outputs; the teacher is x{scale}")
        lrs, refs = [], []
        photos: list[np.ndarray] | None = [] if photo else None
        for path in sorted(folder.glob("*.npz")):
            try:
                with np.load(path) as crop:
                    lr, ref = crop["lr"], crop["ref"]
                    hrs = [ref] if photos is None else [ref, crop["hr"]]
            except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
                raise OftsrError(f"--realism-cache: unreadable crop {path} ({exc}); delete it and rerun "
                                 "'oftsr-edge reference-cache' to regenerate it") from None
            hr_shape = (lr.shape[0] * scale, lr.shape[1] * scale)
            if any(hr.shape[:2] != hr_shape for hr in hrs) or lr.dtype != np.uint8:
                raise OftsrError(f"--realism-cache: crop {path} is not an x{scale} uint8 pair")
            lrs.append(lr)
            refs.append(ref)
            if photos is not None:
                photos.append(hrs[1])
        if not lrs:
            raise OftsrError(f"--realism-cache {folder}: no crops yet (run 'oftsr-edge reference-cache')")
        return cls(folder, scale, lrs, refs, manifest, photos)

    def __len__(self) -> int:
        return len(self.lr)

    def sample(self, batch_size: int, hr_crop: int,
               rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """(lr (B, c/s, c/s, 3), ref (B, c, c, 3), photo (B, c, c, 3) or None) uint8 aligned random sub-crops with
        the same flips; the draws from ``rng`` do not depend on whether the photos are loaded."""
        s, lr_crop = self.scale, hr_crop // self.scale
        lrs = np.empty((batch_size, lr_crop, lr_crop, 3), np.uint8)
        refs = np.empty((batch_size, lr_crop * s, lr_crop * s, 3), np.uint8)
        photos = np.empty_like(refs) if self.photo is not None else None
        for i in range(batch_size):
            k = int(rng.integers(len(self.lr)))
            lr, ref = self.lr[k], self.ref[k]
            hr = self.photo[k] if self.photo is not None else ref
            if min(lr.shape[:2]) < lr_crop:
                raise OftsrError(f"--realism-cache crops are {lr.shape[1]}x{lr.shape[0]} LR; --crop {hr_crop} "
                                 f"needs at least {lr_crop}")
            y = int(rng.integers(lr.shape[0] - lr_crop + 1))
            x = int(rng.integers(lr.shape[1] - lr_crop + 1))
            window = (slice(y * s, (y + lr_crop) * s), slice(x * s, (x + lr_crop) * s))
            a, b, c = lr[y : y + lr_crop, x : x + lr_crop], ref[window], hr[window]
            if rng.random() < 0.5:
                a, b, c = a[:, ::-1], b[:, ::-1], c[:, ::-1]
            if rng.random() < 0.5:
                a, b, c = a[::-1], b[::-1], c[::-1]
            if rng.random() < 0.5:
                a, b, c = a.transpose(1, 0, 2), b.transpose(1, 0, 2), c.transpose(1, 0, 2)
            lrs[i], refs[i] = a, b
            if photos is not None:
                photos[i] = c
        return lrs, refs, photos


#: :func:`detail_blend`'s ramp: the peer's local standard deviation of luma (7 × 7 window, images in [0, 1]) below
#: which the target is all peer and above which it is all photo. On x4plus's cached outputs a third of the pixels
#: fall under the lower end (skin, sky, walls) and a third over the upper (the photos' median is 0.044).
BLEND_FLAT, BLEND_DETAIL = 0.01, 0.03
_BLEND_WINDOW = 7


def detail_blend(peer: torch.Tensor, photo: torch.Tensor) -> torch.Tensor:
    """The photo where the peer drew detail, the peer's output where it left the area flat, a smooth ramp between;
    (B, 3, H, W) in [-1, 1].

    Why: TV-LPIPS toward the photo asks for the photo's texture everywhere, and on JPEG input the student cannot
    tell skin pores from block edges, so it draws the block edges (thin contour lines on faces). x4plus keeps such
    areas smooth; following it there and the photo elsewhere asks for texture only where a strong peer found some.
    """
    gray = ((peer + 1) * 0.5 * peer.new_tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
    pad = _BLEND_WINDOW // 2
    mean = F.avg_pool2d(gray, _BLEND_WINDOW, 1, pad, count_include_pad=False)
    var = F.avg_pool2d(gray * gray, _BLEND_WINDOW, 1, pad, count_include_pad=False) - mean * mean
    weight = ((var.clamp(min=0).sqrt() - BLEND_FLAT) / (BLEND_DETAIL - BLEND_FLAT)).clamp(0, 1)
    weight = F.avg_pool2d(weight, _BLEND_WINDOW, 1, pad, count_include_pad=False)  # no seams at the ramp's ends
    return weight * photo + (1 - weight) * peer


class ReferenceBatches:
    """Turns sampled cache pairs into the flow's tensors: x_lr from the model's own conditioning (its base network
    when it has one), x0 the noisy start, the peer's output in the place of x1, and the photo crop when the set
    holds photos (with ``blend``, that crop through :func:`detail_blend`)."""

    def __init__(self, references: ReferenceSet, condition: Callable[[torch.Tensor], torch.Tensor], sigma_p: float,
                 batch_size: int, hr_crop: int, blend: bool = False) -> None:
        if blend and references.photo is None:
            raise ValueError("blend needs a reference set loaded with its photos")
        self.references, self.condition, self.sigma_p = references, condition, sigma_p
        self.batch_size, self.hr_crop, self.blend = batch_size, hr_crop, blend

    def __call__(self, generator: torch.Generator,
                 device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """(x0, target, x_lr, photo or None) in [-1, 1]; crops drawn from a numpy generator seeded by
        ``generator``."""
        rng = np.random.default_rng(int(torch.randint(2**62, (1,), generator=generator)))
        lr, ref, photo = self.references.sample(self.batch_size, self.hr_crop, rng)
        lr_t = _to_tensor(lr, device)
        target = _to_tensor(ref, device)
        with torch.no_grad():
            x_lr = F.pixel_shuffle(self.condition(lr_t), self.references.scale)
        noise = torch.randn(target.shape, generator=generator).to(device)
        photo_t = _to_tensor(photo, device) if photo is not None else None
        if self.blend:
            photo_t = detail_blend(target, photo_t)
        return noisy_start(x_lr, noise, self.sigma_p), target, x_lr, photo_t


def _to_tensor(images: np.ndarray, device: torch.device) -> torch.Tensor:
    """(B, H, W, 3) uint8 → (B, 3, H, W) float in [-1, 1]."""
    return torch.from_numpy(images).permute(0, 3, 1, 2).float().to(device) / 127.5 - 1.0
