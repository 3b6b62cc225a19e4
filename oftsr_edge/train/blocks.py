"""Residual blocks the UNet can be built from; each takes the t embedding and applies it by FiLM.

All of them are local (no global pooling, so a tile's output never depends on pixels outside its receptive field
and the tiled runtime stays seam-free), free of normalisation layers (nothing for FP16 to overflow in), and made of
convolutions, depthwise convolutions and element-wise products, which ONNX Runtime, TensorRT FP16 and INT8 all handle
well. The last layer of every block starts at zero, so an untrained block is the identity (docs/architecture.md §4).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _zero(layer: nn.Conv2d) -> nn.Conv2d:
    nn.init.zeros_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


class ResBlock(nn.Module):
    """conv3×3 → FiLM(t) → SiLU → conv3×3, plus the input: the plain block, cheapest per FLOP on CPUs."""

    def __init__(self, channels: int, emb_dim: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.film = nn.Linear(emb_dim, 2 * channels)
        self.conv2 = _zero(nn.Conv2d(channels, channels, 3, padding=1))

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        scale, shift = self.film(emb)[:, :, None, None].chunk(2, dim=1)
        return x + self.conv2(F.silu(self.conv1(x) * (1 + scale) + shift))


class GatedResBlock(nn.Module):
    """A ResBlock whose residual is multiplied by a local sigmoid gate (a 3×3 depthwise conv of the features).

    The gate is the cheap, tile-safe stand-in for channel attention: it lets a block switch its contribution off
    per pixel (flat regions) at the cost of one depthwise conv.
    """

    def __init__(self, channels: int, emb_dim: int) -> None:
        super().__init__()
        self.body = ResBlock(channels, emb_dim)
        self.gate = nn.Conv2d(channels, channels, 3, padding=1, groups=channels)

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        residual = self.body(x, emb) - x
        return x + residual * torch.sigmoid(self.gate(x))


class LargeKernelBlock(nn.Module):
    """depthwise 7×7 → FiLM(t) → 1×1 expand ×2 → SiLU → 1×1 project: a wide receptive field for few FLOPs."""

    def __init__(self, channels: int, emb_dim: int, kernel: int = 7, expand: int = 2) -> None:
        super().__init__()
        self.spatial = nn.Conv2d(channels, channels, kernel, padding=kernel // 2, groups=channels)
        self.film = nn.Linear(emb_dim, 2 * channels)
        self.expand = nn.Conv2d(channels, expand * channels, 1)
        self.project = _zero(nn.Conv2d(expand * channels, channels, 1))

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        scale, shift = self.film(emb)[:, :, None, None].chunk(2, dim=1)
        h = self.spatial(x) * (1 + scale) + shift
        return x + self.project(F.silu(self.expand(h)))


class DistillationBlock(nn.Module):
    """An RFDN/IMDN-style feature-distillation block: three 3×3 stages, each passing half its features on and
    keeping a 1×1-distilled slice aside; the slices are fused by a 1×1 conv. FiLM(t) modulates the first stage."""

    def __init__(self, channels: int, emb_dim: int) -> None:
        super().__init__()
        keep = channels // 2
        self.film = nn.Linear(emb_dim, 2 * channels)
        self.stages = nn.ModuleList(nn.Conv2d(channels, channels, 3, padding=1) for _ in range(3))
        self.distil = nn.ModuleList(nn.Conv2d(channels, keep, 1) for _ in range(3))
        self.fuse = _zero(nn.Conv2d(3 * keep, channels, 1))

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        scale, shift = self.film(emb)[:, :, None, None].chunk(2, dim=1)
        h = x * (1 + scale) + shift
        kept = []
        for stage, distil in zip(self.stages, self.distil):
            kept.append(distil(h))
            h = F.silu(stage(h)) + h
        return x + self.fuse(torch.cat(kept, dim=1))


BLOCKS: dict[str, type[nn.Module]] = {
    "res": ResBlock,
    "gated": GatedResBlock,
    "large-kernel": LargeKernelBlock,
    "distill": DistillationBlock,
}
