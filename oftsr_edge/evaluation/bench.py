"""``bench``: latency and throughput of our model and its peers, configuration by configuration.

A configuration is (model, backend, tile, batch, output image size). For each one:

- **load**: opening the model (session creation, TensorRT engine build or cache load) is timed once and reported
  on its own; it never enters the per-call numbers;
- **per tile**: ``warmup`` untimed calls, then ``runs`` timed calls of the backend on a batch of ``batch`` LR tiles
  of ``tile``² pixels; per-tile latency = per-call / batch;
- **per image**: the same for a whole image through the tiler (noise, tiling, blending included), with output
  megapixels per second from the median;
- **memory**: peak host RSS of the configuration (Linux resets the high-water mark) and, on GPU, device memory in
  use after the runs.

Peers run in the same configuration on the same provider and tile (see :mod:`peers`); our rows carry the ratio of
our median image time to each peer's (< 1: we are faster). Image sizes are *output* sizes; the LR input is the
output divided by the scale. Tiles are in LR pixels.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from oftsr_edge.errors import OftsrError
from oftsr_edge.evaluation.peers import Peer, make_peers
from oftsr_edge.evaluation.timing import (
    PeakRss,
    environment,
    gpu_memory_used_mib,
    time_calls,
    timed,
)

BACKENDS = ("ort", "trt")


@dataclass(frozen=True)
class BenchConfig:
    models: tuple[Path, ...]
    backends: tuple[str, ...] = ("ort",)
    precisions: tuple[str, ...] = ()  # empty: every model as exported
    tiles: tuple[int, ...] = (128,)
    batches: tuple[int, ...] = (1,)
    sizes: tuple[tuple[int, int], ...] = ((512, 512),)  # output (width, height)
    runs: int = 10
    warmup: int = 2
    peers: tuple[str, ...] = ("bicubic", "srvgg-compact", "rrdbnet")
    overlap: int | None = None
    device: int = 0


@dataclass
class BenchRow:
    """One line of the results: every field is in the JSON; the markdown table shows the important ones."""

    model: str
    role: str  # "oftsr", "peer" or "floor"
    note: str
    backend: str
    precision: str
    scale: int
    tile: int
    overlap: int
    batch: int
    out_size: str
    lr_size: str
    runs: int
    warmup: int
    load_s: float
    tile_ms: dict | None
    image_ms: dict
    out_mp_per_s: float
    peak_rss_mib: float
    rss_delta_mib: float | None
    rss_scope: str
    gpu_mem_mib: float | None
    ratio_to_peers: dict[str, float] = field(default_factory=dict)


@dataclass
class BenchResult:
    rows: list[BenchRow]
    environment: dict
    config: dict
    notes: list[str]

    def to_dict(self) -> dict:
        return {
            "environment": self.environment,
            "config": self.config,
            "notes": self.notes,
            "rows": [asdict(r) for r in self.rows],
        }


def parse_sizes(text: str) -> tuple[tuple[int, int], ...]:
    """``"256x256,1920x1080"`` → ((256, 256), (1920, 1080)); one-line error on anything else."""
    sizes = []
    for part in text.split(","):
        try:
            w, h = (int(v) for v in part.lower().strip().split("x"))
        except ValueError:
            raise OftsrError(f"--image-size wants WxH[,WxH…], got {part!r}") from None
        if w < 1 or h < 1:
            raise OftsrError(f"--image-size must be positive, got {part!r}")
        sizes.append((w, h))
    return tuple(sizes)


def parse_ints(text: str, option: str, minimum: int = 0) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise OftsrError(f"{option} wants integers separated by commas, got {text!r}") from None
    if any(v < minimum for v in values):
        raise OftsrError(f"{option} values must be ≥ {minimum}, got {text!r}")
    return values


def synthetic_lr(width: int, height: int, channels: int = 3) -> np.ndarray:
    """A fixed pseudo-random LR image: convolution cost does not depend on content, reproducibility does."""
    return np.random.default_rng(1234).integers(0, 256, (height, width, channels), dtype=np.uint8)


def _lr_size(size: tuple[int, int], scale: int) -> tuple[int, int]:
    w, h = size
    if w % scale or h % scale:
        raise OftsrError(f"--image-size {w}x{h} is not a multiple of the model scale {scale}")
    return w // scale, h // scale


def _measure(
    base: dict,
    tile_fn: Callable[[], object] | None,
    image_fn: Callable[[], object],
    out_pixels: int,
    cfg: BenchConfig,
    batch: int,
    on_gpu: bool,
) -> BenchRow:
    rss = PeakRss()
    tile_stats = time_calls(tile_fn, cfg.runs, cfg.warmup).scaled(1.0 / batch) if tile_fn else None
    image_stats = time_calls(image_fn, cfg.runs, cfg.warmup)
    return BenchRow(
        **base,
        runs=cfg.runs,
        warmup=cfg.warmup,
        tile_ms=tile_stats.to_dict() if tile_stats else None,
        image_ms=image_stats.to_dict(),
        out_mp_per_s=out_pixels / 1e6 / (image_stats.p50_ms / 1000.0),
        peak_rss_mib=rss.peak_mib(),
        rss_delta_mib=rss.delta_mib(),
        rss_scope=rss.scope,
        gpu_mem_mib=gpu_memory_used_mib(cfg.device) if on_gpu else None,
    )


def _tile_inputs(batch: int, tile: int, scale: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    lr = rng.random((batch, 3, tile, tile), dtype=np.float32)
    noise = rng.standard_normal((batch, 3, tile * scale, tile * scale), dtype=np.float32)
    return lr, noise, np.full((batch,), 0.5, np.float32)


def _bench_peer(
    peer: Peer,
    cfg: BenchConfig,
    backend: str,
    tile: int,
    overlap: int,
    batch: int,
    size: tuple[int, int],
    image: np.ndarray,
) -> BenchRow:
    lr_w, lr_h = image.shape[1], image.shape[0]
    tile_fn = None
    if peer.tiled and tile:
        lr, _, _ = _tile_inputs(batch, tile, peer.scale)
        tile_fn = lambda: peer.run(lr)  # noqa: E731
    base = dict(
        model=peer.label,
        role="floor" if peer.name == "bicubic" else "peer",
        note=peer.note,
        backend=backend if peer.tiled else "pillow",
        precision="fp32" if peer.tiled else "uint8",
        scale=peer.scale,
        tile=tile if peer.tiled else 0,
        overlap=overlap if peer.tiled else 0,
        batch=batch if peer.tiled else 1,
        out_size=f"{size[0]}x{size[1]}",
        lr_size=f"{lr_w}x{lr_h}",
        load_s=peer.load_s,
    )
    return _measure(
        base,
        tile_fn,
        lambda: peer.upscale(image, tile, overlap, batch),
        size[0] * size[1],
        cfg,
        batch,
        on_gpu=backend != "ort-cpu" and peer.tiled,
    )


def _bench_config(
    model: object,
    path: Path,
    load_s: float,
    tile: int,
    batch: int,
    size: tuple[int, int],
    cfg: BenchConfig,
    peer_cache: dict,
    notes: list[str],
    say: Callable[[str], None],
) -> list[BenchRow]:
    """Our row for one configuration, then one row per peer on the same backend, tile and batch."""
    spec = model.spec
    overlap = int(getattr(model, "overlap", 0) or 0)
    tile = int(getattr(model, "tile", None) or tile)  # the runtime rounds tiles up to the model's multiple_of
    lr_w, lr_h = _lr_size(size, spec.scale)
    image = synthetic_lr(lr_w, lr_h)
    tile_fn = None
    if tile:
        lr_t, nz_t, t_t = _tile_inputs(batch, tile, spec.scale)
        tile_fn = lambda: model.run_tiles(lr_t, nz_t, t_t)  # noqa: E731
    say(f"{spec.name} {model.backend_name} tile {tile} batch {batch} {size[0]}x{size[1]}")
    base = dict(
        model=spec.name,
        role="oftsr",
        note=f"{path.name}, t={spec.default_t:g}",
        backend=model.backend_name,
        precision=spec.precision,
        scale=spec.scale,
        tile=tile,
        overlap=overlap,
        batch=batch,
        out_size=f"{size[0]}x{size[1]}",
        lr_size=f"{lr_w}x{lr_h}",
        load_s=load_s,
    )
    ours = _measure(
        base,
        tile_fn,
        lambda: model.upscale(image, t=None, seed=0),
        size[0] * size[1],
        cfg,
        batch,
        on_gpu=model.backend_name != "ort-cpu",
    )
    rows = [ours]
    if model.backend_name not in peer_cache:
        peer_cache[model.backend_name] = make_peers(list(cfg.peers), model.backend_name)
        notes += peer_cache[model.backend_name][1]
    for peer in peer_cache[model.backend_name][0]:
        if peer.scale != spec.scale:
            notes.append(f"peer {peer.label} is x{peer.scale}, {spec.name} is x{spec.scale}: not compared")
            continue
        say(f"  peer {peer.label}")
        row = _bench_peer(peer, cfg, model.backend_name, tile, overlap, batch, size, image)
        rows.append(row)
        ours.ratio_to_peers[peer.name] = ours.image_ms["p50_ms"] / row.image_ms["p50_ms"]
    return rows


def run_bench(
    cfg: BenchConfig, open_model: Callable[..., object], progress: Callable[[str], None] | None = None
) -> BenchResult:
    """Bench every configuration. ``open_model(path, backend, tile, overlap, batch, device)`` returns an object
    with ``spec``, ``backend_name``, ``overlap``, ``run_tiles(lr, noise, t)`` and ``upscale(image, t, seed)``
    (see :func:`oftsr_edge.evaluation.commands.open_upscaler`); an :class:`OftsrError` skips that backend."""
    rows: list[BenchRow] = []
    notes: list[str] = []
    peer_cache: dict[str, tuple[list[Peer], list[str]]] = {}
    say = progress or (lambda _msg: None)
    for path, backend, tile, batch in itertools.product(cfg.models, cfg.backends, cfg.tiles, cfg.batches):
        try:
            model, load_s = timed(open_model, path, backend, tile, cfg.overlap, batch, cfg.device)
        except OftsrError as exc:
            notes.append(f"{Path(path).name} on {backend}, tile {tile}, batch {batch}: skipped ({exc})")
            continue
        try:
            if cfg.precisions and model.spec.precision not in cfg.precisions:
                notes.append(
                    f"{Path(path).name}: precision {model.spec.precision} not in --precision, skipped"
                )
                continue
            for size in cfg.sizes:
                rows += _bench_config(
                    model, Path(path), load_s, tile, batch, size, cfg, peer_cache, notes, say
                )
        finally:
            close = getattr(model, "close", None)
            if close:
                close()
    for peers, _ in peer_cache.values():
        for peer in peers:
            peer.close()
    config = {k: ([str(p) for p in v] if k == "models" else v) for k, v in asdict(cfg).items()}
    return BenchResult(rows, environment(), config, notes)
