"""Bicubic upsampling as a fixed-weight convolution at LR resolution.

Why: ``F.interpolate(mode="bicubic", align_corners=False)`` is the upsample that forms ``x_lr`` (docs/architecture.md §4), but
ONNX ``Resize`` cubic costs ~0.3 s per output MP on a 2-core CPU. The same result is a 5×5 grouped convolution on
the replicate-padded LR image (3 → 3·s² channels, one output channel per sub-pixel phase) followed by a pixel
shuffle: cheap, exact to float rounding, and supported everywhere (TensorRT, INT8). Training and export use this
one module, so the exported graph computes exactly what the model was trained on.

The output is in *unshuffled* layout (N, 3·s², h, w): the network consumes it directly, and only callers that need
the HR image apply ``pixel_shuffle``.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

CUBIC_A = -0.75  # PyTorch's and ONNX Resize's cubic coefficient (Pillow uses -0.5: never mix them)


def cubic_kernel(x: np.ndarray, a: float = CUBIC_A) -> np.ndarray:
    """Keys' cubic convolution kernel W(x) with coefficient ``a`` (support |x| < 2)."""
    x = np.abs(x)
    near = ((a + 2) * x - (a + 3)) * x * x + 1
    far = ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    return np.where(x <= 1, near, np.where(x < 2, far, 0.0))


def phase_taps(scale: int) -> np.ndarray:
    """Per-phase 5-tap weights (scale, 5) over LR offsets -2..+2 for ``align_corners=False`` upsampling by ``scale``.

    HR index o = s·i + p samples LR coordinate i + d with d = (p + 0.5)/s − 0.5 ∈ (−0.5, 0.5); tap k at offset
    k − 2 gets weight W(d − (k − 2)). Weights outside the 4-tap window are exactly 0.
    """
    taps = np.zeros((scale, 5), dtype=np.float64)
    for p in range(scale):
        d = (p + 0.5) / scale - 0.5
        base = np.floor(d)
        frac = d - base
        # the four taps PyTorch uses: floor(d)-1 .. floor(d)+2, with weights W(frac+1), W(frac), W(1-frac), W(2-frac)
        for off in range(-1, 3):
            k = int(base + off + 2)
            taps[p, k] = cubic_kernel(np.array(frac - off))
    return taps


class BicubicUpsampler(nn.Module):
    """LR (N, C, h, w) → bicubic ×s upsample in unshuffled layout (N, C·s², h, w), matching F.interpolate."""

    def __init__(self, scale: int, channels: int = 3) -> None:
        super().__init__()
        self.scale = scale
        self.channels = channels
        taps = phase_taps(scale)
        # weight[c·s² + py·s + px, 0] = outer(taps[py], taps[px]): pixel_shuffle's channel order.
        kernel = np.einsum("ak,bl->abkl", taps, taps).reshape(scale * scale, 1, 5, 5)
        weight = np.tile(kernel, (channels, 1, 1, 1)).astype(np.float32)
        self.register_buffer("weight", torch.from_numpy(weight), persistent=False)

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        padded = F.pad(lr, (2, 2, 2, 2), mode="replicate")
        return F.conv2d(padded, self.weight, groups=self.channels)

    def upsample(self, lr: torch.Tensor) -> torch.Tensor:
        """The HR-layout result, for training data and tests."""
        return F.pixel_shuffle(self.forward(lr), self.scale)
