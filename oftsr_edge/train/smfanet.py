"""SMFANet (Zheng et al., ECCV 2024), written from its paper so that its published weights load into it.

Why here: a pretrained efficient PSNR network is the fidelity end the flow builds on (docs/architecture.md §4,
"regressor conditioning"): ``x_lr := R(LR)`` replaces the bicubic upsample, so the one-step student's t = 0 starts at
R's PSNR and the flow learns only the texture on top. Weights are read from a local file the user gives
(``--pretrained``); nothing is ever downloaded.

The network: a 3×3 conv to ``dim`` features, ``blocks`` feature-modulation blocks (FMB), a global residual, a 3×3 conv
to 3·s² channels and a pixel shuffle. Each FMB is

- SMFA (self-modulation feature aggregation): a 1×1 conv splits the L2-normalised features into y and x; x is
  max-pooled 8×8, passed through a depthwise 3×3, mixed with x's per-channel spatial variance (learned α, β), a 1×1
  conv and GELU, upsampled (nearest) and multiplied back onto x — the non-local branch; y goes through a local MLP
  (depthwise 3×3 expand ×2, 1×1, GELU, 1×1); a 1×1 conv fuses the sum;
- PCFN (partial convolution FFN): 1×1 expand ×2 + GELU, a 3×3 conv on the first quarter of the hidden channels +
  GELU, 1×1 project; each branch residual on the input.

Export note: the reference pools with ``adaptive_max_pool2d(x, (h // 8, w // 8))``, which ONNX cannot express for
dynamic sizes; ``max_pool2d(x, 8, 8)`` is the same operation when h and w are multiples of 8, so the LR input must
be (the runtime pads to the model's ``multiple_of``). The variance is a whole-image statistic: a tile's output
depends a little on the tile (64-px LR tiles cost ~0.01 dB), which is why the runtime's default is one whole-image
call whenever it fits.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from oftsr_edge.errors import OftsrError

POOL = 8  # the non-local branch's pooling window; also the LR size multiple the network needs


@dataclass(frozen=True)
class SMFANetConfig:
    """Width, depth and FFN expansion of one SMFANet variant (the published ones below)."""

    dim: int
    blocks: int
    ffn_scale: float = 2.0


SMFANET_VARIANTS: dict[str, SMFANetConfig] = {
    "smfanet": SMFANetConfig(dim=36, blocks=8),  # SMFANet_DF2K_100w_x4SR.pth
    "smfanet-plus": SMFANetConfig(dim=48, blocks=12),  # SMFANet_plus_DF2K_100w_x4SR.pth
    # SMFANet+ with 6 blocks appended: only as a film-base student grown from a trained 12-block one
    # (film_base.load_deepened); no published weights
    "smfanet-plus-18": SMFANetConfig(dim=48, blocks=18),
    "smfanet-tiny": SMFANetConfig(dim=8, blocks=1),  # tests: a random state dict of the same architecture
    "smfanet-tiny-2": SMFANetConfig(dim=8, blocks=2),  # tests: the tiny one grown by a block
}


class LocalDetailMlp(nn.Module):
    """The y branch of SMFA: depthwise 3×3 doubling the channels, 1×1, GELU, 1×1 back."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        hidden = 2 * dim
        self.conv_0 = nn.Sequential(nn.Conv2d(dim, hidden, 3, padding=1, groups=dim), nn.Conv2d(hidden, hidden, 1))
        self.conv_1 = nn.Conv2d(hidden, dim, 1)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return self.conv_1(F.gelu(self.conv_0(y)))


class SelfModulation(nn.Module):
    """SMFA: the non-local (pooled + variance) modulation of x plus the local MLP of y, fused by a 1×1 conv."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.linear_0 = nn.Conv2d(dim, 2 * dim, 1)
        self.linear_1 = nn.Conv2d(dim, dim, 1)
        self.linear_2 = nn.Conv2d(dim, dim, 1)
        self.lde = LocalDetailMlp(dim)
        self.dw_conv = nn.Conv2d(dim, dim, 3, padding=1, groups=dim)
        self.alpha = nn.Parameter(torch.ones(1, dim, 1, 1))
        self.belt = nn.Parameter(torch.zeros(1, dim, 1, 1))  # the published weights' name for β

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        y, x = self.linear_0(f).chunk(2, dim=1)
        pooled = self.dw_conv(F.max_pool2d(x, POOL, POOL))
        variance = torch.var(x, dim=(-2, -1), keepdim=True)
        gate = F.gelu(self.linear_1(pooled * self.alpha + variance * self.belt))
        modulated = x * F.interpolate(gate, scale_factor=POOL, mode="nearest")
        return self.linear_2(modulated + self.lde(y))


class PartialConvFfn(nn.Module):
    """PCFN: 1×1 expand, a 3×3 conv on a quarter of the hidden channels only, 1×1 project."""

    def __init__(self, dim: int, ffn_scale: float) -> None:
        super().__init__()
        self.hidden = int(dim * ffn_scale)
        self.partial = int(self.hidden * 0.25)
        self.conv_0 = nn.Conv2d(dim, self.hidden, 1)
        self.conv_1 = nn.Conv2d(self.partial, self.partial, 3, padding=1)
        self.conv_2 = nn.Conv2d(self.hidden, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.gelu(self.conv_0(x))
        part, rest = torch.split(h, [self.partial, self.hidden - self.partial], dim=1)
        return self.conv_2(torch.cat([F.gelu(self.conv_1(part)), rest], dim=1))


class ModulationBlock(nn.Module):
    """FMB: SMFA then PCFN, each on the L2-normalised (over channels) features, each residual."""

    def __init__(self, dim: int, ffn_scale: float) -> None:
        super().__init__()
        self.smfa = SelfModulation(dim)
        self.pcfn = PartialConvFfn(dim, ffn_scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.smfa(F.normalize(x)) + x
        return self.pcfn(F.normalize(x)) + x


class SMFANet(nn.Module):
    """LR RGB in [0, 1] (N, 3, h, w), h and w multiples of 8 → the x``scale`` image in [0, 1] (not clamped)."""

    def __init__(self, config: SMFANetConfig, scale: int = 4) -> None:
        super().__init__()
        self.config = config
        self.scale = scale
        self.to_feat = nn.Conv2d(3, config.dim, 3, padding=1)
        self.feats = nn.Sequential(*(ModulationBlock(config.dim, config.ffn_scale) for _ in range(config.blocks)))
        self.to_img = nn.Sequential(nn.Conv2d(config.dim, 3 * scale * scale, 3, padding=1))

    def forward_unshuffled(self, lr: torch.Tensor) -> torch.Tensor:
        """The output before its pixel shuffle, (N, 3·s², h, w): the layout the flow network consumes."""
        feat = self.to_feat(lr)
        return self.to_img(self.feats(feat) + feat)

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        return F.pixel_shuffle(self.forward_unshuffled(lr), self.scale)

    def macs_per_lr_pixel(self) -> float:
        """Conv multiply-accumulates per LR pixel; the pooled branch's depthwise and 1×1 convs run on 1/64 of them."""
        pooled = {id(m) for block in self.feats for m in (block.smfa.dw_conv, block.smfa.linear_1)}
        macs = 0.0
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                k = module.kernel_size[0] * module.kernel_size[1]
                per_pixel = k * module.in_channels * module.out_channels / module.groups
                macs += per_pixel / (POOL * POOL) if id(module) in pooled else per_pixel
        return macs


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The tensors of a published checkpoint: a plain state dict or one under ``params``/``params_ema``."""
    path = Path(path)
    if not path.is_file():
        raise OftsrError(f"--pretrained {path}: no such file")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure is one bad-file message
        raise OftsrError(f"--pretrained {path}: not a readable PyTorch state dict ({type(exc).__name__})") from None
    for key in ("params_ema", "params", "state_dict"):
        if isinstance(data, dict) and isinstance(data.get(key), dict):
            data = data[key]
            break
    if not isinstance(data, dict) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise OftsrError(f"--pretrained {path}: holds no state dict of tensors")
    return data


def load_pretrained(net: SMFANet, path: str | Path, state: dict[str, torch.Tensor] | None = None) -> None:
    """Load published weights into ``net`` (``state``: tensors already read from ``path``); a file of another
    variant or architecture fails in one line."""
    state = read_state_dict(path) if state is None else state
    mine = net.state_dict()
    missing = sorted(set(mine) - set(state))
    unexpected = sorted(set(state) - set(mine))
    wrong = [k for k in mine if k in state and tuple(state[k].shape) != tuple(mine[k].shape)]
    if missing or unexpected or wrong:
        first = (f"missing {missing[0]}" if missing else f"unexpected {unexpected[0]}" if unexpected
                 else f"{wrong[0]} has shape {tuple(state[wrong[0]].shape)}, not {tuple(mine[wrong[0]].shape)}")
        raise OftsrError(f"--pretrained {path}: not an SMFANet dim={net.config.dim} blocks={net.config.blocks} "
                         f"x{net.scale} state dict ({first})")
    net.load_state_dict({k: v.float() for k, v in state.items()})


def smfanet_from_file(path: str | Path, scale: int = 4) -> tuple[SMFANet, str]:
    """The published SMFANet variant a state dict holds (read from its shapes), loaded, frozen and in eval mode."""
    state = read_state_dict(path)
    dim = tuple(state["to_feat.weight"].shape)[0] if "to_feat.weight" in state else None
    blocks = len({k.split(".")[1] for k in state if k.startswith("feats.")})
    for name, config in SMFANET_VARIANTS.items():
        if config.dim == dim and config.blocks == blocks:
            net = SMFANet(config, scale)
            load_pretrained(net, path, state)
            return net.eval().requires_grad_(False), name
    raise OftsrError(f"{path}: not a state dict of a known SMFANet variant (dim {dim}, {blocks} blocks; known: "
                     + ", ".join(f"{n} dim {c.dim}, {c.blocks} blocks" for n, c in SMFANET_VARIANTS.items()) + ")")
