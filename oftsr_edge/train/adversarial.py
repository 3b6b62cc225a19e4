"""An optional adversarial term for the student's realism end (docs/architecture.md §5): a small patch
discriminator D, trained beside the student, that tells photo crops from the student's one-step outputs.

Why: LPIPS and ℓ1 toward a peer's outputs are averages; a small student regressing them lands on the blurred mean of
the textures it cannot place exactly (on real photos the realism end stalled at LPIPS 0.45 against x4plus's 0.38
whatever the weights). A discriminator rewards *any* plausible texture instead of the mean one, which is what gave
Real-ESRGAN its look (there: a U-Net discriminator and a GAN weight of 0.1 beside perceptual and ℓ1 terms).

D is a VGG-style stack of spectrally normalised convolutions (stride 2 twice) whose output is a map of logits, one per
overlapping ~30-px patch, so it judges local texture rather than image content. The losses are the non-saturating
logistic ones: D minimises softplus(−D(real)) + softplus(D(fake)), the student softplus(−D(fake)). D takes its own
Adam step inside each training step, on the step's fake images detached, *before* the student's loss is computed
with the updated D — so the student's backward never meets weights changed in place. D's weights and optimizer state
travel in the trainer state of every checkpoint, so a resumed run continues the same game.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

DEFAULT_CHANNELS = 32
# D's Adam rate. At 1e-4 D stayed at chance for 450 steps beside a real-photo student; trained alone on 400 of
# that student's outputs against their HR photos (300 steps, batch 8, 96² crops), D told held-out crops apart
# 71 % of the time at 1e-4 and 83 % at 4e-4 (logit margin 0.93 vs 1.36): four times faster without losing the
# spectral norm's stability.
DEFAULT_LR = 4e-4
BETAS = (0.9, 0.99)


class PatchDiscriminator(nn.Module):
    """(N, 3, H, W) images in [-1, 1] → (N, 1, H/4, W/4) realness logits."""

    def __init__(self, channels: int = DEFAULT_CHANNELS) -> None:
        super().__init__()
        c = channels
        shapes = [(3, c, 3, 1), (c, 2 * c, 4, 2), (2 * c, 4 * c, 4, 2), (4 * c, 4 * c, 3, 1)]
        self.body = nn.Sequential(*[
            layer for cin, cout, k, stride in shapes
            for layer in (spectral_norm(nn.Conv2d(cin, cout, k, stride, padding=(k - 1) // 2)), nn.LeakyReLU(0.2))
        ])
        self.head = spectral_norm(nn.Conv2d(4 * c, 1, 3, 1, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


class AdversarialTerm:
    """Owns D and its optimizer: :meth:`discriminator_step` trains D once, :meth:`generator_loss` is the student's
    term (per-image weights, as the other realism terms)."""

    def __init__(self, channels: int = DEFAULT_CHANNELS, lr: float = DEFAULT_LR, seed: int = 0,
                 device: torch.device | str = "cpu") -> None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)  # D's start is part of what --seed reproduces, apart from the student's RNG
            self.discriminator = PatchDiscriminator(channels).to(device)
        self.optimizer = torch.optim.Adam(self.discriminator.parameters(), lr=lr, betas=BETAS)
        self.channels, self.lr = channels, lr

    def discriminator_step(self, real: torch.Tensor, fake: torch.Tensor) -> float:
        """One Adam step of D on photo crops ``real`` and detached student outputs ``fake``; returns its loss."""
        self.discriminator.train().requires_grad_(True)
        loss = F.softplus(-self.discriminator(real)).mean() + F.softplus(self.discriminator(fake.detach())).mean()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return float(loss.detach())

    def generator_loss(self, fake: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
        """softplus(−D(fake)) per image (mean over patches), averaged with ``weights``; no gradient reaches D."""
        self.discriminator.requires_grad_(False)
        per_image = F.softplus(-self.discriminator(fake)).mean(dim=(1, 2, 3))
        return per_image.mean() if weights is None else (weights * per_image).mean()

    def record(self) -> dict[str, Any]:
        return {"discriminator": "patch, spectral norm", "channels": self.channels, "lr": self.lr,
                "loss": "non-saturating logistic"}

    def state_dict(self) -> dict[str, Any]:
        return {"discriminator": self.discriminator.state_dict(), "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """D's weights and Adam moments from a checkpoint; the rate stays this run's (as the student's does on
        resume), not the one saved with the moments."""
        self.discriminator.load_state_dict(state["discriminator"])
        self.optimizer.load_state_dict(state["optimizer"])
        for group in self.optimizer.param_groups:
            group["lr"] = self.lr
