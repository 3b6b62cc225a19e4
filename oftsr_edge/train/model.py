"""The conditional UNet used for both the OFTSR teacher v_θ and the one-step student v_φ.

The network works at LR resolution: its HR-size inputs (x, x_lr) are pixel-unshuffled by the scale s, so every
convolution runs on h×w pixels with 6·s² input channels and the output velocity is pixel-shuffled back. Cost
therefore grows with LR pixels, which is what makes an edge model possible (docs/architecture.md §4).

`t` enters every residual block as a FiLM scale/shift computed from a sinusoidal embedding of 1000·t (the reference
code feeds 999·t) followed by an MLP. A two-time model (``times=2``, the MeanFlow student u(x_r, r, s) of
docs/architecture.md §5) embeds its state time r through that same MLP and adds a second MLP of the interval s − r,
whose last layer starts at zero: loaded with a teacher's weights it begins as u(x, r, s) = v_θ(x, r), exact at r = s.
One-time models build no second MLP, so their weights, checkpoints and outputs are what they always were. A per-channel linear skip, α(t)·x + β(t)·x_lr, adds the inputs straight to
the velocity: the exact optimum at t = 0 removes the start noise pixel by pixel, which a narrow bottleneck cannot
carry, and with α = −1, β = 1 at initialisation the untrained model's t = 0 output is the bicubic image. Blocks have no normalisation layers: fewer reductions on the hot path, and
nothing for FP16 to overflow in (the usual cause of black FP16 outputs); the last conv of every block and the
output conv start at zero so the untrained network is a stable identity-plus-zero velocity.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from oftsr_edge.train.bicubic import BicubicUpsampler
from oftsr_edge.train.blocks import BLOCKS
from oftsr_edge.train.film_base import BaseFilm, lr_from_nearest, nearest_unshuffled
from oftsr_edge.train.smfanet import POOL as BASE_POOL
from oftsr_edge.train.smfanet import SMFANET_VARIANTS, SMFANet

# bounds of a model config (far above every config here, "base" included): what a checkpoint may ask to allocate
MAX_LEVELS = 8
MAX_CHANNELS = 4096
MAX_BLOCKS = 64


@dataclass(frozen=True)
class UNetConfig:
    """Architecture of one named model family member; stored in every checkpoint's JSON."""

    name: str
    channels: tuple[int, ...]  # feature width at each level; level i works at LR/2**i
    blocks: int | tuple[int, ...]  # blocks per level (one int for all), in the encoder and again in the decoder
    emb_dim: int  # width of the t embedding
    block: str = "res"  # block type, a key of oftsr_edge.train.blocks.BLOCKS
    times: int = 1  # 1: v(x, t) (teacher, OFTSR student); 2: u(x, r, s) (MeanFlow student, §5)
    base: str | None = None  # a pretrained regressor R forming x_lr := R(LR) (a key of SMFANET_VARIANTS), or bicubic
    film_base: bool = False  # the base *is* the network, with t-FiLM and the state as inputs (train/film_base.py)

    def __post_init__(self) -> None:
        if self.times not in (1, 2):
            raise ValueError(f"{self.name}: times must be 1 (v(x, t)) or 2 (u(x, r, s)), got {self.times}")
        if isinstance(self.blocks, (list, tuple)) and len(self.blocks) != len(self.channels):
            raise ValueError(f"{self.name}: blocks {self.blocks} needs one count per level {self.channels}")
        if self.block not in BLOCKS:
            raise ValueError(f"{self.name}: unknown block type {self.block!r}; choose from {', '.join(BLOCKS)}")
        if self.base is not None and self.base not in SMFANET_VARIANTS:
            raise ValueError(f"{self.name}: unknown base {self.base!r}; choose from {', '.join(SMFANET_VARIANTS)}")
        if self.film_base:
            base = SMFANET_VARIANTS.get(self.base) if self.base else None
            if base is None or self.channels != (base.dim,) or self.blocks != base.blocks or self.times != 1:
                raise ValueError(f"{self.name}: a film-base config needs a base, its width as channels and its "
                                 "block count as blocks, and one time")
        self._check_ranges()

    def _check_ranges(self) -> None:
        """Sizes a network can have, checked before anything is allocated: a damaged or crafted config
        (channels [200000, 400000]) is one line here, not an allocator traceback deep in torch."""
        counts = self.blocks if isinstance(self.blocks, tuple) else (self.blocks,)
        problems = [
            (not 1 <= len(self.channels) <= MAX_LEVELS, f"{len(self.channels)} levels (1-{MAX_LEVELS})"),
            (any(not 1 <= c <= MAX_CHANNELS for c in self.channels), f"channels {list(self.channels)} "
             f"(each 1-{MAX_CHANNELS})"),
            (any(not 1 <= b <= MAX_BLOCKS for b in counts), f"blocks {self.blocks} (each 1-{MAX_BLOCKS})"),
            (not 2 <= self.emb_dim <= MAX_CHANNELS or self.emb_dim % 2, f"emb_dim {self.emb_dim} "
             f"(even, 2-{MAX_CHANNELS})"),
        ]
        bad = [text for failed, text in problems if failed]
        if bad:
            raise ValueError(f"{self.name}: model config out of range: {'; '.join(bad)}")

    def blocks_at(self, level: int) -> int:
        """Number of blocks at ``level`` (in the encoder, and again in the decoder for levels above the bottom)."""
        return self.blocks if isinstance(self.blocks, int) else self.blocks[level]

    @property
    def multiple_of(self) -> int:
        """LR height/width must be a multiple of this (one 2× downsample between levels; the base's 8×8 pool)."""
        levels = 2 ** (len(self.channels) - 1)
        return max(levels, BASE_POOL) if self.base else levels

    def to_dict(self) -> dict:
        """The checkpoint's ``model`` JSON; a one-time model's has no ``times`` key (the format before it existed)."""
        data = asdict(self)
        if self.times == 1:
            del data["times"]
        if self.base is None:  # bicubic-conditioned models keep the format they always had
            del data["base"]
        if not self.film_base:
            del data["film_base"]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> UNetConfig:
        """Read a checkpoint's config; checkpoints made before block types existed are plain ResBlock nets."""
        blocks = data["blocks"]
        return cls(name=data["name"], channels=tuple(int(c) for c in data["channels"]),
                   blocks=int(blocks) if isinstance(blocks, int) else tuple(int(b) for b in blocks),
                   emb_dim=int(data["emb_dim"]), block=str(data.get("block", "res")),
                   times=int(data.get("times", 1)), base=data.get("base"),
                   film_base=bool(data.get("film_base", False)))


CONFIGS: dict[str, UNetConfig] = {
    # unit tests: trains for a few steps in seconds on CPU
    "tiny": UNetConfig("tiny", channels=(8, 16), blocks=1, emb_dim=16),
    # the default edge model: see `describe()` for params and FLOPs
    "small": UNetConfig("small", channels=(48, 96, 128), blocks=1, emb_dim=64),
    # the architecture study's winner at equal CPU time (benchmarks/README.md): all blocks at full LR resolution
    "flat48x8": UNetConfig("flat48x8", channels=(48,), blocks=8, emb_dim=64),
    # x_lr := SMFANet+(LR), a pretrained PSNR regressor kept frozen; the flow adds texture on top (§4)
    "flat48x4-smfanet-plus": UNetConfig("flat48x4-smfanet-plus", channels=(48,), blocks=4, emb_dim=64,
                                        base="smfanet-plus"),
    "flat48x8-smfanet": UNetConfig("flat48x8-smfanet", channels=(48,), blocks=8, emb_dim=64, base="smfanet"),
    # the real-photo model's trunk doubled (every block of the flat48x8 real teacher kept): room for the realism end
    "flat48x8-smfanet-plus": UNetConfig("flat48x8-smfanet-plus", channels=(48,), blocks=8, emb_dim=64,
                                        base="smfanet-plus"),
    # SMFANet+ itself as the flow network: the state and t-FiLM added at zero (ablation (b) of §4), 59 GFLOPs/MP
    "smfanet-plus-film": UNetConfig("smfanet-plus-film", channels=(48,), blocks=12, emb_dim=64,
                                    base="smfanet-plus", film_base=True),
    # the real-photo student grown by 6 blocks that start as the identity (film_base.load_deepened), 86 GFLOPs/MP:
    # capacity for the realism end
    "smfanet-plus-18-film": UNetConfig("smfanet-plus-18-film", channels=(48,), blocks=18, emb_dim=64,
                                       base="smfanet-plus-18", film_base=True),
    # unit tests of the regressor path: a random state dict of a tiny SMFANet
    "tiny-smfanet": UNetConfig("tiny-smfanet", channels=(8,), blocks=1, emb_dim=16, base="smfanet-tiny"),
    "tiny-smfanet-film": UNetConfig("tiny-smfanet-film", channels=(8,), blocks=1, emb_dim=16, base="smfanet-tiny",
                                    film_base=True),
    "tiny-smfanet-2-film": UNetConfig("tiny-smfanet-2-film", channels=(8,), blocks=2, emb_dim=16,
                                      base="smfanet-tiny-2", film_base=True),
    # GPU-sized
    "base": UNetConfig("base", channels=(96, 192, 288, 384), blocks=2, emb_dim=256),
}


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal embedding of 1000·t, shape (N, dim); kept in float32 by design (FP16 loses its high frequencies)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = (1000.0 * t.float())[:, None] * freqs[None, :]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=1)


class OFTSRUNet(nn.Module):
    """v(x, x_lr, t): the velocity field of the flow from x0 to the HR image, computed at LR resolution."""

    def __init__(self, config: UNetConfig, scale: int) -> None:
        super().__init__()
        if scale not in (2, 4, 8):
            raise ValueError(f"scale must be 2, 4 or 8, got {scale}")
        self.config = config
        self.scale = scale
        ch = config.channels
        in_ch = 6 * scale * scale  # unshuffled x (3·s²) and x_lr (3·s²)
        out_ch = 3 * scale * scale
        self.t_mlp = nn.Sequential(
            nn.Linear(config.emb_dim, config.emb_dim), nn.SiLU(), nn.Linear(config.emb_dim, config.emb_dim), nn.SiLU()
        )
        # a film-base network has no trunk of its own (levels of zero blocks; no conv_in / conv_out)
        trunk_levels = () if config.film_base else ch
        self.conv_in = None if config.film_base else nn.Conv2d(in_ch, ch[0], 3, padding=1)
        self.down_blocks = nn.ModuleList()
        self.downsamples = nn.ModuleList()
        block = BLOCKS[config.block]
        for i, c in enumerate(trunk_levels):
            self.down_blocks.append(nn.ModuleList(block(c, config.emb_dim) for _ in range(config.blocks_at(i))))
            if i + 1 < len(ch):
                self.downsamples.append(nn.Conv2d(c, ch[i + 1], 3, stride=2, padding=1))
        self.upsamples = nn.ModuleList()
        self.up_blocks = nn.ModuleList()
        for i in reversed(range(len(trunk_levels) - 1)):
            self.upsamples.append(nn.ConvTranspose2d(ch[i + 1], ch[i], 2, stride=2))
            self.up_blocks.append(nn.ModuleList(block(ch[i], config.emb_dim) for _ in range(config.blocks_at(i))))
        self.conv_out = None if config.film_base else nn.Conv2d(ch[0], out_ch, 3, padding=1)
        if self.conv_out is not None:
            nn.init.zeros_(self.conv_out.weight)
            nn.init.zeros_(self.conv_out.bias)
        self.skip_film = nn.Linear(config.emb_dim, 2 * out_ch)  # α(t), β(t) per output channel
        nn.init.zeros_(self.skip_film.weight)
        with torch.no_grad():
            self.skip_film.bias.copy_(torch.cat([-torch.ones(out_ch), torch.ones(out_ch)]))
        if config.times == 2:  # built last, so the other layers draw the same initial weights as a one-time model's
            self.interval_mlp = nn.Sequential(
                nn.Linear(config.emb_dim, config.emb_dim), nn.SiLU(), nn.Linear(config.emb_dim, config.emb_dim)
            )
            nn.init.zeros_(self.interval_mlp[2].weight)
            nn.init.zeros_(self.interval_mlp[2].bias)
        # x_lr's source: a frozen pretrained regressor R (its weights come from --pretrained), else the bicubic conv
        # (a non-persistent buffer: bicubic models' state dicts are what they always were)
        self.base = SMFANet(SMFANET_VARIANTS[config.base], scale).requires_grad_(False) if config.base else None
        self.bicubic = None if config.base else BicubicUpsampler(scale)
        self.film = None
        if config.film_base:  # the base is the network: it trains, and takes the state and t (train/film_base.py)
            self.base.requires_grad_(True)
            self.film = BaseFilm(self.base.config.dim, self.base.config.blocks, out_ch, config.emb_dim)

    def embed(self, t: torch.Tensor, r: torch.Tensor | None = None) -> torch.Tensor:
        """The FiLM conditioning: MLP(E(t)) for a one-time model; MLP(E(r)) + MLP'(E(t − r)) for a two-time one,
        where ``t`` is the end time s and ``r`` the state's time (default 0: u(x0, 0, t), OFTSR's v_φ(x0, t) role)."""
        d = self.config.emb_dim
        if self.config.times == 1:
            if r is not None:
                raise ValueError("a one-time model v(x, t) takes no start time r")
            return self.t_mlp(timestep_embedding(t, d))
        r = torch.zeros_like(t) if r is None else r
        return self.t_mlp(timestep_embedding(r, d)) + self.interval_mlp(timestep_embedding(t - r, d))

    def condition(self, lr: torch.Tensor) -> torch.Tensor:
        """x_lr in unshuffled layout (N, 3s², h, w) from the LR image in [-1, 1]: R(LR) or the bicubic upsample
        (the nearest upsample for a film-base network, which reads the LR image back from it).
        The base is frozen (no gradient) unless a teacher run fine-tunes it (:meth:`train_base`); a student always
        keeps its teacher's base, so both see the same x_lr."""
        if self.film is not None:
            return nearest_unshuffled(lr, self.scale)
        if self.base is None:
            return self.bicubic(lr)
        with torch.set_grad_enabled(torch.is_grad_enabled() and self.base_trainable):
            return self.base.forward_unshuffled(lr * 0.5 + 0.5) * 2.0 - 1.0

    @property
    def base_trainable(self) -> bool:
        return self.base is not None and any(p.requires_grad for p in self.base.parameters())

    def train_base(self) -> None:
        """Let the flow loss fine-tune the base too (x_lr then carries the gradient): a base trained on clean
        bicubic LR learns the run's degradation (e.g. JPEG and noise) this way."""
        if self.base is None:
            raise ValueError(f"{self.config.name} has no base network to train")
        self.base.requires_grad_(True)

    def velocity_unshuffled(self, x_u: torch.Tensor, x_lr_u: torch.Tensor, t: torch.Tensor,
                            r: torch.Tensor | None = None) -> torch.Tensor:
        """The network proper: unshuffled (N, 3s², h, w) x and x_lr, t (and r) of shape (N,) → unshuffled velocity."""
        emb = self.embed(t, r)
        alpha, beta = self.skip_film(emb)[:, :, None, None].chunk(2, dim=1)
        if self.film is not None:  # v = α·x + β·out: at the start (α = −1, β = 1) the one-step output is the base's
            lr = lr_from_nearest(x_lr_u, self.scale) * 0.5 + 0.5
            return alpha * x_u + beta * (self.film(self.base, lr, x_u, emb) * 2.0 - 1.0)
        h = self.conv_in(torch.cat([x_u, x_lr_u], dim=1))
        skips = []
        for i, blocks in enumerate(self.down_blocks):
            for block in blocks:
                h = block(h, emb)
            if i < len(self.downsamples):
                skips.append(h)
                h = self.downsamples[i](h)
        for upsample, blocks in zip(self.upsamples, self.up_blocks):
            h = upsample(h) + skips.pop()
            for block in blocks:
                h = block(h, emb)
        return self.conv_out(F.silu(h)) + alpha * x_u + beta * x_lr_u

    def forward(self, x: torch.Tensor, x_lr: torch.Tensor, t: torch.Tensor | float,
                r: torch.Tensor | float | None = None) -> torch.Tensor:
        """HR-layout velocity v(concat(x, x_lr), t), or u(concat(x, x_lr), r, t) for a two-time model; ``t`` and
        ``r`` are floats or tensors of shape (N,)."""
        t = as_batch_t(t, x)
        r = None if r is None else as_batch_t(r, x)
        s = self.scale
        v_u = self.velocity_unshuffled(F.pixel_unshuffle(x, s), F.pixel_unshuffle(x_lr, s), t, r)
        return F.pixel_shuffle(v_u, s)


def as_batch_t(t: torch.Tensor | float, like: torch.Tensor) -> torch.Tensor:
    """Broadcast a float or 0-d/(N,) tensor to a float32 (N,) tensor on ``like``'s device."""
    t = torch.as_tensor(t, dtype=torch.float32, device=like.device)
    return t.expand(like.shape[0]) if t.dim() == 0 else t.reshape(-1).float()


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_macs_per_lr_pixel(model: OFTSRUNet) -> float:
    """Multiply-accumulates of the conv layers per LR pixel (the per-pixel cost; the t MLP is per image)."""
    macs = model.base.macs_per_lr_pixel() if model.base is not None else 0.0
    base_convs = set(model.base.modules()) if model.base is not None else set()
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)) and module not in base_convs:
            k = module.kernel_size[0] * module.kernel_size[1]
            if isinstance(module, nn.ConvTranspose2d):
                # each input pixel writes k outputs; MACs per *input* pixel = k·Cin·Cout
                per_pixel = k * module.in_channels * module.out_channels
                density = _level_density(model, module, transpose=True)
            else:
                per_pixel = k * module.in_channels * module.out_channels / module.groups
                density = _level_density(model, module, transpose=False)
            macs += per_pixel * density
    return macs


def _level_density(model: OFTSRUNet, conv: nn.Module, transpose: bool) -> float:
    """Fraction of LR pixels at which ``conv`` produces outputs (1 at level 0, 1/4 at level 1, ...)."""
    widths = model.config.channels
    if conv is model.conv_in or conv is model.conv_out or (model.film is not None and conv is model.film.state_in):
        return 1.0
    for i, blocks in enumerate(model.down_blocks):
        if any(conv in set(b.modules()) for b in blocks):
            return 4.0 ** -i
    for i, down in enumerate(model.downsamples):
        if conv is down:
            return 4.0 ** -(i + 1)
    for j, (up, blocks) in enumerate(zip(model.upsamples, model.up_blocks)):
        level = len(widths) - 2 - j
        if conv is up:
            return 4.0 ** -(level + 1)  # runs on the coarser input
        if any(conv in set(b.modules()) for b in blocks):
            return 4.0 ** -level
    raise ValueError("conv not found in model")


def describe(config: UNetConfig, scale: int = 4) -> dict:
    """Parameter count and cost (MACs and FLOPs = 2·MACs) per output megapixel, for the README and the CLI."""
    model = OFTSRUNet(config, scale)
    macs_lr = count_macs_per_lr_pixel(model)
    macs_per_out_mp = macs_lr * 1e6 / (scale * scale)
    return {
        "config": config.name,
        "scale": scale,
        "params": count_parameters(model),
        "gmacs_per_output_mp": macs_per_out_mp / 1e9,
        "gflops_per_output_mp": 2 * macs_per_out_mp / 1e9,
        "multiple_of": config.multiple_of,
    }
