"""A pretrained SMFANet turned into the flow network itself ("film-base" configs, docs/architecture.md §4).

Why: the regressor-conditioned model runs the base and then a separate flow trunk on top (85 GFLOPs per output MP
for SMFANet+ and 4 trunk blocks). Here the base *is* the network: the flow state x_t enters its first features
through a 3×3 conv, and t scales and shifts the output of each of its blocks (FiLM). Both start at zero, so with the
skip at its start (v = out − x) the untrained network's one-step output is exactly the base's image at every t;
training then moves the whole base, not a small trunk, toward the flow (t = 0 fidelity, t = 1 texture) at the base's
own cost plus one conv (~59 GFLOPs/MP for SMFANet+).

The base needs the LR image itself, and the network's only inputs are x_t and x_lr. A film-base model therefore forms
x_lr as the *nearest* upsample of the LR image: it carries the LR pixels exactly (any sub-pixel phase of the
unshuffled tensor is the LR image) and holds the same information as the bicubic upsample, so x0 = √(1−σp²)·x_lr +
σp·ε still determines the LR image.
"""

from __future__ import annotations

import re

import torch
from torch import nn


class BaseFilm(nn.Module):
    """The layers a film-base model adds to its base: the state's entry conv and one FiLM per block."""

    def __init__(self, dim: int, blocks: int, state_channels: int, emb_dim: int) -> None:
        super().__init__()
        self.state_in = nn.Conv2d(state_channels, dim, 3, padding=1)
        self.films = nn.ModuleList(nn.Linear(emb_dim, 2 * dim) for _ in range(blocks))
        for layer in (self.state_in, *self.films):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, base: nn.Module, lr: torch.Tensor, x_u: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        """The base's unshuffled output (N, 3·s², h, w) in [0, 1] units, from the LR image in [0, 1], the unshuffled
        state and the t embedding; ``base`` is an SMFANet or its inference form (same attribute names)."""
        feat = base.to_feat(lr) + self.state_in(x_u)
        h = feat
        for block, film in zip(base.feats, self.films):
            scale, shift = film(emb)[:, :, None, None].chunk(2, dim=1)
            h = block(h) * (1.0 + scale) + shift
        return base.to_img(h + feat)


def nearest_unshuffled(lr: torch.Tensor, scale: int) -> torch.Tensor:
    """The nearest upsample of ``lr`` (N, 3, h, w) in unshuffled layout (N, 3·s², h, w): channel c·s² + p is
    channel c of the LR image for every sub-pixel phase p."""
    return lr.repeat_interleave(scale * scale, dim=1)


def lr_from_nearest(x_lr_u: torch.Tensor, scale: int) -> torch.Tensor:
    """The LR image back from :func:`nearest_unshuffled`'s output (its phase-0 channels), exactly."""
    return x_lr_u[:, :: scale * scale]


def load_deepened(net: nn.Module, state: dict[str, torch.Tensor]) -> int:
    """Load a film-base network's weights into ``net``, a film-base network of the same base width with more
    blocks: the source's blocks come first and the extra ones, appended after them, start as the identity (the last
    conv of each residual branch and their FiLM at zero), so at step 0 ``net`` computes exactly what the source did.
    Returns the number of blocks added.

    Why: the real-photo model's realism end is short of capacity (it matches x4plus's LPIPS only to within a few
    hundredths), and a wider base would lose the pretrained weights; extra blocks at zero add capacity while the
    distillation starts from everything the trained student knows."""
    if getattr(net, "film", None) is None:
        raise ValueError("load_deepened needs a film-base network")
    mine = net.state_dict()
    source_blocks = len({key.split(".")[2] for key in state if key.startswith("base.feats.")})
    added = len(net.base.feats) - source_blocks
    new = re.compile(r"(base\.feats|film\.films)\.(\d+)\.")
    missing = [k for k in mine if k not in state]
    strays = [k for k in missing if not (m := new.match(k)) or int(m.group(2)) < source_blocks]
    unexpected = [k for k in state if k not in mine]
    wrong = [k for k in state if k in mine and tuple(state[k].shape) != tuple(mine[k].shape)]
    if added < 0 or strays or unexpected or wrong:
        first = (f"{source_blocks} blocks into {len(net.base.feats)}" if added < 0 else f"missing {strays[0]}"
                 if strays else f"unexpected {unexpected[0]}" if unexpected else f"{wrong[0]} has another shape")
        raise ValueError(f"not a shallower network of the same film-base architecture ({first})")
    net.load_state_dict(state, strict=False)
    with torch.no_grad():
        for block, film in zip(net.base.feats[source_blocks:], net.film.films[source_blocks:]):
            for layer in (block.smfa.linear_2, block.pcfn.conv_2, film):
                layer.weight.zero_()
                layer.bias.zero_()
    return added
