"""FluxSR's two realism terms (docs/architecture.md §5), as optional additions to any distillation objective.

- TV-LPIPS: ``LPIPS(x̂, x) + γ·LPIPS(TV(x̂), TV(x))``, γ = 0.5 by default. The TV map of an image y in [0, 1] is its
  per-pixel, per-channel anisotropic total variation ``TV(y) = (|y[i, j+1] − y[i, j]| + |y[i+1, j] − y[i, j]|) / 2``
  (forward differences; the last column's and last row's missing difference is 0), again an image in [0, 1]: the
  second LPIPS compares edge maps, which punishes the high-frequency artifacts plain LPIPS lets through.
- ADL (attention diversification), adapted to a convolutional student: at each named layer, the mean over pixels of
  the cosine similarity between a pixel's feature vector and the layer's mean feature vector (per image) — a layer
  whose pixels all say the same thing scores 1. FluxSR penalises the similarity of transformer tokens; a conv
  student's tokens are its pixels. Layers: the output of every FiLM block (:func:`block_layers`).

Both act on one extra student forward at the realism end (r = 0, t = 1: ``x̂ = x0 + v_φ(x0, 1)``, or
``x0 + u_φ(x0, 0, 1)``), compared with the HR crop x1: that is where the one-step output should look like a photo,
while the fidelity end t = 0 stays the teacher's regression (Eq. 11).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
from torch import nn

from oftsr_edge.train.adversarial import AdversarialTerm

DEFAULT_GAMMA = 0.5


def tv_map(y: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) in [0, 1] → its TV map, same shape, in [0, 1] (see the module docstring)."""
    dx = torch.zeros_like(y)
    dy = torch.zeros_like(y)
    dx[..., :, :-1] = (y[..., :, 1:] - y[..., :, :-1]).abs()
    dy[..., :-1, :] = (y[..., 1:, :] - y[..., :-1, :]).abs()
    return 0.5 * (dx + dy)


def tv_lpips(distance: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], x_hat: torch.Tensor, x: torch.Tensor,
             gamma: float = DEFAULT_GAMMA, weights: torch.Tensor | None = None) -> torch.Tensor:
    """Mean over the batch of ``distance(x̂, x) + γ·distance(TV(x̂), TV(x))``, each image weighted by ``weights``
    (default 1); images in [0, 1], distance per image."""
    per_image = distance(x_hat, x) + gamma * distance(tv_map(x_hat), tv_map(x))
    return per_image.mean() if weights is None else (weights * per_image).mean()


def adl(features: list[torch.Tensor], eps: float = 1e-8) -> torch.Tensor:
    """Mean over layers, images and pixels of cos(h_p, mean_p h) for (N, C, H, W) feature maps."""
    scores = []
    for h in features:
        mean = h.mean(dim=(2, 3), keepdim=True)
        cos = (h * mean).sum(dim=1) / (h.norm(dim=1) * mean.norm(dim=1) + eps)
        scores.append(cos.mean())
    return torch.stack(scores).mean()


def block_layers(model: nn.Module) -> dict[str, nn.Module]:
    """The ADL layers by name: every FiLM block of the UNet, ``down{level}.{i}`` then ``up{j}.{i}`` (decoder order)."""
    layers: dict[str, nn.Module] = {}
    for level, blocks in enumerate(model.down_blocks):
        for i, block in enumerate(blocks):
            layers[f"down{level}.{i}"] = block
    for j, blocks in enumerate(model.up_blocks):
        for i, block in enumerate(blocks):
            layers[f"up{j}.{i}"] = block
    return layers


class FeatureTap:
    """Forward hooks on named layers that record their outputs only inside :meth:`capture`."""

    def __init__(self, layers: dict[str, nn.Module]) -> None:
        self.names = list(layers)
        self._active = False
        self.outputs: list[torch.Tensor] = []
        for module in layers.values():
            module.register_forward_hook(self._hook)

    def _hook(self, module: nn.Module, args: tuple, output: torch.Tensor) -> None:
        if self._active:
            self.outputs.append(output)

    @contextlib.contextmanager
    def capture(self) -> Iterator[list[torch.Tensor]]:
        self.outputs, self._active = [], True
        try:
            yield self.outputs
        finally:
            self._active = False


@dataclass
class RealismTerms:
    """λ_lpips·TV-LPIPS + λ_adl·ADL + λ_l1·ℓ1 + λ_gan·adversarial on the student's one-step output at t = 1; any
    weight may be 0 (off).

    The target is the HR crop, or a trained peer's output when the distillation has a reference cache; the
    adversarial term (:mod:`.adversarial`) compares the output with photo crops instead, needing no pairing."""

    lambda_lpips: float
    lambda_adl: float
    gamma: float = DEFAULT_GAMMA
    lpips: nn.Module | None = None  # LpipsLoss, needed when lambda_lpips > 0
    tap: FeatureTap | None = None  # hooks on the student's ADL layers, needed when lambda_adl > 0
    lambda_l1: float = 0.0
    spread: bool = False  # TV-LPIPS and ℓ1 at t ~ U[0, 1] weighted by t instead of at t = 1 (see __call__)
    lambda_gan: float = 0.0
    adversarial: AdversarialTerm | None = None  # D and its optimizer, needed when lambda_gan > 0

    def __post_init__(self) -> None:
        weights = (self.lambda_lpips, self.lambda_adl, self.gamma, self.lambda_l1, self.lambda_gan)
        if min(weights) < 0:
            raise ValueError("TV-LPIPS, ADL, ℓ1 and adversarial weights and γ must be >= 0")
        if self.lambda_lpips > 0 and self.lpips is None:
            raise ValueError("lambda_lpips > 0 needs an LPIPS module")
        if self.lambda_gan > 0 and self.adversarial is None:
            raise ValueError("lambda_gan > 0 needs an AdversarialTerm")

    @property
    def active(self) -> bool:
        return self.lambda_lpips > 0 or self.lambda_adl > 0 or self.lambda_l1 > 0 or self.lambda_gan > 0

    def __call__(self, forward: Callable[..., torch.Tensor], x0: torch.Tensor, x1: torch.Tensor,
                 x_lr: torch.Tensor, generator: torch.Generator | None = None,
                 real: torch.Tensor | None = None,
                 lpips_target: torch.Tensor | None = None) -> tuple[torch.Tensor, dict[str, float]]:
        """(weighted sum, logs) for one batch; ``forward(x, x_lr, t)`` is the student (r defaults to 0); ``real``:
        the photo crops the discriminator sees as real (default ``x1``); ``lpips_target``: what TV-LPIPS compares
        with (default ``x1``) — the photo itself while ℓ1 follows a peer's output.

        With ``spread``, each image's output is taken at its own t ~ U[0, 1] (from ``generator``) and its TV-LPIPS
        and ℓ1 terms are weighted by that t: the realism target then shapes the whole knob in proportion to t, not
        only its end — measured on the real-photo model, a target at t = 1 alone left the middle of the knob to
        the teacher's noisy extrapolation (grain at t = 0.5–0.75).
        """
        tap = self.tap if self.lambda_adl > 0 else None
        if self.lambda_adl > 0 and tap is None:
            raise ValueError("lambda_adl > 0 needs a FeatureTap on the student's layers")
        n = x0.shape[0]
        t = torch.rand(n, generator=generator).to(x0.device) if self.spread else torch.ones(n, device=x0.device)
        weights = t if self.spread else None
        with tap.capture() if tap else contextlib.nullcontext([]) as feats:
            x_hat = x0 + forward(x0, x_lr, t)
        total = x0.new_zeros(())
        logs: dict[str, float] = {}
        if self.lambda_lpips > 0:
            target = x1 if lpips_target is None else lpips_target
            term = tv_lpips(self.lpips, (x_hat + 1) * 0.5, (target + 1) * 0.5, self.gamma, weights)
            total, logs["tv_lpips"] = total + self.lambda_lpips * term, float(term.detach())
        if self.lambda_adl > 0:
            term = adl(list(feats))
            total, logs["adl"] = total + self.lambda_adl * term, float(term.detach())
        if self.lambda_l1 > 0:
            per_image = (x_hat - x1).abs().mean(dim=(1, 2, 3))
            term = per_image.mean() if weights is None else (weights * per_image).mean()
            total, logs["l1_t1"] = total + self.lambda_l1 * term, float(term.detach())
        if self.lambda_gan > 0:
            logs["d_loss"] = self.adversarial.discriminator_step(x1 if real is None else real, x_hat)
            term = self.adversarial.generator_loss(x_hat, weights)
            total, logs["gan"] = total + self.lambda_gan * term, float(term.detach())
        return total, logs
