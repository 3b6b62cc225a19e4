"""SMFANet's inference form: the same function as :class:`~oftsr_edge.train.smfanet.SMFANet`, written so that ONNX
Runtime's CPU provider runs it fast. Only the ONNX export uses it; training and the published state dicts keep the
reference modules.

Why: traced as written, SMFANet is ~50 % memory-bound element-wise work in ONNX Runtime on the CPU — ``ReduceL2``
over channels is a slow strided reduction, the dynamo exporter's GELU (``x/√2 → Erf → +1 → ·0.5 → ·x``) is not a
pattern ORT's GeluFusion knows, and every op the NCHWc layout pass does not know (Erf, Split, Concat, the norm)
costs a pair of layout reorders around it. Each rewrite below keeps the function (up to float32 rounding, ~1e-6 on
the image) and was measured on SMFANet+ at 256×192 LR (benchmarks/README.md, "SMFANet's inference form"):

- the L2 norm over channels becomes ``x / sqrt(max(conv1x1(x², ones), eps²))``: the sum of squares is a 1×1 conv
  to one channel (an NCHWc conv, its clamp fused as the conv's activation) instead of ``ReduceL2``;
- GELU is written as ``(x · (erf(x / √2) + 1)) · 0.5``, which ORT fuses into one ``Gelu`` kernel;
- no Split or Concat: the 1×1 conv that SMFA chunks into (y, x) is two convs; PCFN's expand conv is two convs (the
  quarter that gets the 3×3 conv, and the rest), and its project conv is two convs whose sum ORT fuses;
- the local branch's grouped 3×3 conv (groups = dim, two outputs per input channel), which the NCHWc pass cannot
  take, becomes a depthwise conv on y with every channel duplicated (the duplication folded into y's 1×1 conv);
- the non-local branch's α is folded into its depthwise conv (a per-channel scale of weights and bias).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from oftsr_edge.train.smfanet import POOL, ModulationBlock, SMFANet

_SQRT2 = 1.4142135623730951
_EPS = 1e-12  # F.normalize's default eps: the norm is max(‖x‖, eps), so the squared sum is clamped at eps²


def gelu(x: torch.Tensor) -> torch.Tensor:
    """Exact (erf) GELU in the op order ONNX Runtime's GeluFusion matches."""
    return (x * (torch.erf(x / _SQRT2) + 1.0)) * 0.5


def _conv(weight: torch.Tensor, bias: torch.Tensor | None, groups: int = 1) -> nn.Conv2d:
    """A conv holding copies of ``weight`` / ``bias`` (square kernel, 'same' padding)."""
    out_ch, in_per_group, k, _ = weight.shape
    conv = nn.Conv2d(in_per_group * groups, out_ch, k, padding=k // 2, groups=groups, bias=bias is not None)
    conv.weight.data.copy_(weight)
    if bias is not None:
        conv.bias.data.copy_(bias)
    return conv


class ChannelNorm(nn.Module):
    """``F.normalize(x, dim=1)``: the sum of squares over channels as a 1×1 conv with all-ones weights."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.register_buffer("ones", torch.ones(1, channels, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x / torch.sqrt(torch.clamp_min(F.conv2d(x * x, self.ones), _EPS * _EPS))


class InferenceBlock(nn.Module):
    """One FMB (SMFA then PCFN, each residual on its normalised input) rebuilt from a trained one."""

    def __init__(self, block: ModulationBlock) -> None:
        super().__init__()
        smfa, pcfn = block.smfa, block.pcfn
        dim = smfa.linear_1.in_channels
        self.norm = ChannelNorm(dim)
        w0, b0 = smfa.linear_0.weight.detach(), smfa.linear_0.bias.detach()
        twice = torch.arange(dim).repeat_interleave(2)  # grouped conv: group g reads channel g, writes 2g and 2g+1
        self.y_twice = _conv(w0[:dim][twice], b0[:dim][twice])
        self.x = _conv(w0[dim:], b0[dim:])
        local = smfa.lde.conv_0[0]
        self.local_dw = _conv(local.weight.detach(), local.bias.detach(), groups=2 * dim)
        self.local_mix = _conv(smfa.lde.conv_0[1].weight.detach(), smfa.lde.conv_0[1].bias.detach())
        self.local_out = _conv(smfa.lde.conv_1.weight.detach(), smfa.lde.conv_1.bias.detach())
        alpha = smfa.alpha.detach().reshape(-1)
        self.pooled_dw = _conv(smfa.dw_conv.weight.detach() * alpha[:, None, None, None],
                               smfa.dw_conv.bias.detach() * alpha, groups=dim)
        self.register_buffer("belt", smfa.belt.detach().clone(), persistent=False)
        self.gate = _conv(smfa.linear_1.weight.detach(), smfa.linear_1.bias.detach())
        self.fuse = _conv(smfa.linear_2.weight.detach(), smfa.linear_2.bias.detach())
        q = pcfn.partial
        w, b = pcfn.conv_0.weight.detach(), pcfn.conv_0.bias.detach()
        self.expand_part, self.expand_rest = _conv(w[:q], b[:q]), _conv(w[q:], b[q:])
        self.part = _conv(pcfn.conv_1.weight.detach(), pcfn.conv_1.bias.detach())
        w2 = pcfn.conv_2.weight.detach()
        self.project_part = _conv(w2[:, :q], pcfn.conv_2.bias.detach())
        self.project_rest = _conv(w2[:, q:], None)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        g = self.norm(f)
        x = self.x(g)
        local = self.local_out(gelu(self.local_mix(self.local_dw(self.y_twice(g)))))
        pooled = self.pooled_dw(F.max_pool2d(x, POOL, POOL))
        variance = torch.var(x, dim=(-2, -1), keepdim=True)
        gate = gelu(self.gate(pooled + variance * self.belt))
        f = self.fuse(x * F.interpolate(gate, scale_factor=POOL, mode="nearest") + local) + f
        g = self.norm(f)
        part = gelu(self.part(gelu(self.expand_part(g))))
        return self.project_part(part) + (self.project_rest(gelu(self.expand_rest(g))) + f)


class SMFANetInference(nn.Module):
    """The inference form of a trained :class:`SMFANet` (same I/O, same ``forward_unshuffled``); no gradients."""

    def __init__(self, net: SMFANet) -> None:
        super().__init__()
        self.config = net.config
        self.scale = net.scale
        self.to_feat = _conv(net.to_feat.weight.detach(), net.to_feat.bias.detach())
        self.feats = nn.Sequential(*(InferenceBlock(block) for block in net.feats))
        self.to_img = _conv(net.to_img[0].weight.detach(), net.to_img[0].bias.detach())
        self.requires_grad_(False)
        self.train(net.training)

    def forward_unshuffled(self, lr: torch.Tensor) -> torch.Tensor:
        feat = self.to_feat(lr)
        return self.to_img(self.feats(feat) + feat)

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        return F.pixel_shuffle(self.forward_unshuffled(lr), self.scale)
