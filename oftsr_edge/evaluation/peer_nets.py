"""Peer SR architectures for speed comparison, written from their published shapes (needs torch: the [export] extra).

- Real-ESRGAN's compact model (``SRVGGNetCompact``, realesr-general-x4v3 shape): a plain VGG-style stack at LR
  resolution — conv 3→64 + PReLU, 32 × (conv 64→64 + PReLU), conv 64→3·s², pixel shuffle — plus a nearest-neighbour
  upsample of the input added as a skip.
- ESRGAN's ``RRDBNet`` (Real-ESRGAN x4plus shape): 23 residual-in-residual dense blocks of 64 features with growth
  32, a trunk conv and global skip, then two (nearest ×2 → conv → LeakyReLU) stages, a conv and the output conv.

They are built with random weights: the numbers they produce are meaningless, only their cost is real. Every report
labels them "random weights, speed only".
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from oftsr_edge import contract


class CompactSR(nn.Module):
    """SRVGGNetCompact-shaped network: ``convs`` 3×3 convs of ``channels`` with PReLU, pixel-shuffle ×``scale``."""

    def __init__(self, channels: int = 64, convs: int = 32, scale: int = 4) -> None:
        super().__init__()
        self.scale = scale
        layers: list[nn.Module] = [nn.Conv2d(3, channels, 3, padding=1), nn.PReLU(channels)]
        for _ in range(convs):
            layers += [nn.Conv2d(channels, channels, 3, padding=1), nn.PReLU(channels)]
        layers += [nn.Conv2d(channels, 3 * scale * scale, 3, padding=1), nn.PixelShuffle(scale)]
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + F.interpolate(x, scale_factor=self.scale, mode="nearest")


class DenseBlock(nn.Module):
    """Five 3×3 convs, each seeing the block input and every earlier output; residual scaled by 0.2."""

    def __init__(self, features: int, growth: int) -> None:
        super().__init__()
        self.convs = nn.ModuleList(
            nn.Conv2d(features + i * growth, growth if i < 4 else features, 3, padding=1) for i in range(5)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = [x]
        for conv in self.convs[:4]:
            feats.append(F.leaky_relu(conv(torch.cat(feats, 1)), 0.2))
        return x + 0.2 * self.convs[4](torch.cat(feats, 1))


class RRDB(nn.Module):
    """Three dense blocks in sequence with a 0.2-scaled residual around them."""

    def __init__(self, features: int, growth: int) -> None:
        super().__init__()
        self.blocks = nn.Sequential(*(DenseBlock(features, growth) for _ in range(3)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + 0.2 * self.blocks(x)


class RRDBNetSR(nn.Module):
    """RRDBNet-shaped ×4 network: trunk of ``blocks`` RRDBs at LR, two nearest ×2 upsampling convs."""

    def __init__(self, features: int = 64, blocks: int = 23, growth: int = 32) -> None:
        super().__init__()
        self.head = nn.Conv2d(3, features, 3, padding=1)
        self.trunk = nn.Sequential(*(RRDB(features, growth) for _ in range(blocks)))
        self.trunk_conv = nn.Conv2d(features, features, 3, padding=1)
        self.up1 = nn.Conv2d(features, features, 3, padding=1)
        self.up2 = nn.Conv2d(features, features, 3, padding=1)
        self.hr_conv = nn.Conv2d(features, features, 3, padding=1)
        self.out_conv = nn.Conv2d(features, 3, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feat = self.head(x)
        feat = feat + self.trunk_conv(self.trunk(feat))
        feat = F.leaky_relu(self.up1(F.interpolate(feat, scale_factor=2, mode="nearest")), 0.2)
        feat = F.leaky_relu(self.up2(F.interpolate(feat, scale_factor=2, mode="nearest")), 0.2)
        return self.out_conv(F.leaky_relu(self.hr_conv(feat), 0.2))


def build(name: str) -> nn.Module:
    """A peer network with small random weights (seeded), so activations stay finite in fp32 and fp16."""
    torch.manual_seed(0)
    model = {"srvgg-compact": CompactSR, "rrdbnet": RRDBNetSR}[name]()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, a=0.2)
                module.weight.mul_(0.1)
                nn.init.zeros_(module.bias)
    return model.eval()


def export(name: str, path: str, opset: int = 17) -> None:
    """Trace the peer to ONNX with dynamic batch/height/width, input ``lr`` (N,3,h,w) → output ``hr``.

    A peer has no noise or t input, but its two tensors carry our contract's names for the same images."""
    model = build(name)
    example = torch.rand(1, 3, 32, 32)
    dyn = {
        contract.INPUT_LR: {0: "batch", 2: "height", 3: "width"},
        contract.OUTPUT_HR: {0: "batch", 2: "height_x4", 3: "width_x4"},
    }
    with torch.no_grad():
        torch.onnx.export(
            model,
            (example,),
            path,
            input_names=[contract.INPUT_LR],
            output_names=[contract.OUTPUT_HR],
            dynamic_axes=dyn,
            opset_version=opset,
            dynamo=False,
        )
