"""``bench``: latency and throughput of our model and its peers, configuration by configuration.

A configuration is (model, backend, tile, batch, output image size). For each one:

- **load**: opening the model (session creation, TensorRT engine build or cache load) is timed once and reported
  on its own; it never enters the per-call numbers;
- **per tile**: ``warmup`` untimed calls (the first one also gives the memory figures), then ``runs`` timed calls of the backend on a batch of ``batch`` LR tiles
  of ``tile``² pixels; per-tile latency = per-call / batch;
- **per image**: the same for a whole image through the tiler (noise, tiling, blending included), with output
  megapixels per second from the median;
- **memory**: peak host RSS of the configuration (Linux resets the high-water mark) and, on GPU, device memory in
  use after the runs.

Peers run in the same configuration on the same provider and tile (see :mod:`peers`), and their calls are
interleaved with ours run by run, so background load hits every row alike; our rows carry the ratio of our median
image time to each peer's (< 1: we are faster). Image sizes are *output* sizes; the LR input is the
output divided by the scale. Tiles are in LR pixels; a tile larger than the LR image is clamped to it (with a note),
and what a configuration will allocate is estimated first (:func:`check_memory`), so a configuration that cannot
fit is one line instead of the kernel's OOM killer.
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
    time_interleaved,
    timed,
)
from oftsr_edge.runtime.device import memory
from oftsr_edge.runtime.tiling import memory_plan
from oftsr_edge.runtime.tiling.geometry import round_up

#: ONNX Runtime providers whose peers compute on a GPU (their timing synchronises the device)
GPU_PROVIDERS = ("CUDAExecutionProvider", "TensorrtExecutionProvider")

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
    peers: tuple[str, ...] = ("bicubic",)  # the floor; other peers are opt-in
    overlap: int | None = None
    device: int | None = None  # GPU index; None = the backend's default (0)
    solver_steps: int | None = None  # K of a two-time model's few-step path; None = the model's default


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


def synthetic_lr(width: int, height: int, channels: int = 3) -> np.ndarray:
    """A fixed pseudo-random LR image: convolution cost does not depend on content, reproducibility does."""
    return np.random.default_rng(1234).integers(0, 256, (height, width, channels), dtype=np.uint8)


def _lr_size(size: tuple[int, int], scale: int) -> tuple[int, int]:
    w, h = size
    if w % scale or h % scale:
        raise OftsrError(f"--image-size {w}x{h} is not a multiple of the model scale {scale}")
    return w // scale, h // scale


def clamp_tile(tile: int, lr_w: int, lr_h: int, multiple_of: int) -> int:
    """A tile no larger than the (padded) LR image: a bigger one computes and allocates padding only."""
    edge = round_up(max(lr_w, lr_h), multiple_of)
    return min(tile, edge) if tile else 0


def check_memory(spec: object, lr_hw: tuple[int, int], tile: int, batch: int, on_gpu: bool, device: int = 0) -> int:
    """Estimated bytes of one configuration (an image call through the tiler plus a bare call on ``batch`` tiles
    with its inputs), refused in one line when more than the free memory; returns the estimate."""
    scale = spec.scale
    need = memory_plan.estimate_bytes(spec, lr_hw, (tile, tile) if tile else (0, 0), batch)
    if tile:
        pixels = batch * tile * tile
        need += memory_plan.memory_model(spec).call_bytes(pixels) + 12 * (1 + 2 * scale * scale) * pixels
    free = memory.free_vram_bytes(device) if on_gpu else memory.available_ram_bytes()
    if free is not None and need > free:
        gib = 1024**3
        raise OftsrError(
            f"bench: LR {lr_hw[1]}x{lr_hw[0]} with tile {tile or 'whole'} and batch {batch} needs about "
            f"{need / gib:.1f} GiB, {free / gib:.1f} GiB is free: use a smaller --image-size, --tile or --batch-size"
        )
    return need


@dataclass
class _Entry:
    """One row being measured: its fixed fields and the two calls that are timed."""

    base: dict
    tile_fn: Callable[[], object] | None
    image_fn: Callable[[], object]
    on_gpu: bool


def _calls(entries: list[_Entry], cfg: BenchConfig) -> int:
    """How many calls :func:`_measure_together` makes: the progress bar's total."""
    tiled = sum(1 for e in entries if e.tile_fn)
    rounds = max(0, cfg.warmup - 1) + cfg.runs
    return len(entries) + tiled + rounds * (tiled + len(entries))


def _measure_together(entries: list[_Entry], cfg: BenchConfig, batch: int, out_pixels: int,
                      label: str = "") -> list[BenchRow]:
    """Time our model and its peers *interleaved*, run by run, so a machine that slows down (shared CPUs, thermal
    throttling) slows every row alike and the ratios stay fair.

    First, per row, one untimed image call under a fresh RSS high-water mark gives the memory figures (and warms up);
    then the remaining warm-up calls; then ``runs`` rounds, each timing every row's tile call and image call once.
    A progress bar (stderr, when it is a terminal) counts the calls and estimates the time left of this
    configuration; its postfix names the row that ran last.
    """
    from tqdm import tqdm

    bar = tqdm(total=_calls(entries, cfg), desc=label or "bench", unit="call", disable=None, leave=False)

    def called(index: int) -> None:
        bar.set_postfix_str(entries[index].base["model"], refresh=False)
        bar.update(1)

    try:
        memory = []
        for index, e in enumerate(entries):
            rss = PeakRss()
            e.image_fn()
            called(index)
            if e.tile_fn:
                e.tile_fn()
                called(index)
            memory.append((rss.peak_mib(), rss.delta_mib(), rss.scope))
        tile_fns = [e.tile_fn for e in entries]
        image_fns = [e.image_fn for e in entries]
        tile_stats = time_interleaved(tile_fns, cfg.runs, max(0, cfg.warmup - 1), called)
        image_stats = time_interleaved(image_fns, cfg.runs, max(0, cfg.warmup - 1), called)
    finally:
        bar.close()
    rows = []
    for e, (peak, delta, scope), ts, im in zip(entries, memory, tile_stats, image_stats):
        rows.append(
            BenchRow(
                **e.base,
                runs=cfg.runs,
                warmup=cfg.warmup,
                tile_ms=ts.scaled(1.0 / e.base["batch"]).to_dict() if ts else None,
                image_ms=im.to_dict(),
                out_mp_per_s=out_pixels / 1e6 / (im.p50_ms / 1000.0),
                peak_rss_mib=peak,
                rss_delta_mib=delta,
                rss_scope=scope,
                gpu_mem_mib=gpu_memory_used_mib(cfg.device or 0) if e.on_gpu else None,
            )
        )
    return rows


def _tile_inputs(batch: int, tile: int, scale: int) -> tuple[np.ndarray, np.ndarray, float]:
    rng = np.random.default_rng(0)
    lr = rng.random((batch, 3, tile, tile), dtype=np.float32)
    noise = rng.standard_normal((batch, 3, tile * scale, tile * scale), dtype=np.float32)
    return lr, noise, 0.5


def _steps_note(model: object) -> str:
    """", K steps" for a model run with K > 1 solver steps (per tile and per image both cost K calls)."""
    steps = int(getattr(model, "solver_steps", 1) or 1)
    return f", {steps} steps" if steps > 1 else ""


def _peer_entry(
    peer: Peer, backend: str, tile: int, overlap: int, batch: int, size: tuple[int, int], image: np.ndarray
) -> _Entry:
    tile_fn = None
    if peer.tiled and tile:
        lr, _, _ = _tile_inputs(batch, tile, peer.scale)
        tile_fn = lambda: peer.run(lr)  # noqa: E731
    base = dict(
        model=peer.label,
        role="floor" if peer.name == "bicubic" else "peer",
        note=peer.note,
        backend=(peer.providers[0] if peer.providers == ["ncnn-cpu"] else backend)
        if peer.tiled
        else "pillow",
        precision="fp32" if peer.tiled else "uint8",
        scale=peer.scale,
        tile=tile if peer.tiled else 0,
        overlap=overlap if peer.tiled else 0,
        batch=batch if peer.tiled else 1,
        out_size=f"{size[0]}x{size[1]}",
        lr_size=f"{image.shape[1]}x{image.shape[0]}",
        load_s=peer.load_s,
    )
    on_gpu = peer.tiled and any(p in GPU_PROVIDERS for p in peer.providers)
    return _Entry(base, tile_fn, lambda: peer.upscale(image, tile, overlap, batch), on_gpu)


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
    if clamp_tile(tile, lr_w, lr_h, spec.multiple_of) != tile:
        notes.append(f"tile {tile} is larger than the {lr_w}x{lr_h} LR image of {size[0]}x{size[1]}: clamped to "
                     f"{clamp_tile(tile, lr_w, lr_h, spec.multiple_of)}")  # fmt: skip
        tile = clamp_tile(tile, lr_w, lr_h, spec.multiple_of)
    on_gpu = bool(model.on_gpu)
    check_memory(spec, (lr_h, lr_w), tile, batch, on_gpu, cfg.device or 0)
    image = synthetic_lr(lr_w, lr_h)
    tile_fn = None
    if tile:
        lr_t, nz_t, t_t = _tile_inputs(batch, tile, spec.scale)
        tile_fn = lambda: model.run_tiles(lr_t, nz_t, t_t)  # noqa: E731
    base = dict(
        model=spec.name,
        role="oftsr",
        note=f"{path.name}, t={spec.default_t:g}{_steps_note(model)}",
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
    entries = [
        _Entry(base, tile_fn, lambda: model.upscale(image, t=None, seed=0), on_gpu)
    ]
    if model.backend_name not in peer_cache:
        peer_cache[model.backend_name] = make_peers(list(cfg.peers), model.backend_name)
        notes += peer_cache[model.backend_name][1]
    peers = []
    for peer in peer_cache[model.backend_name][0]:
        if peer.scale != spec.scale:
            notes.append(f"peer {peer.label} is x{peer.scale}, {spec.name} is x{spec.scale}: not compared")
            continue
        peers.append(peer)
        entries.append(_peer_entry(peer, model.backend_name, tile, overlap, batch, size, image))
    names = ", ".join([spec.name, *(p.label for p in peers)])
    label = f"{model.backend_name} tile {tile} batch {batch} {size[0]}x{size[1]}"
    say(f"{label}: {names}")
    rows = _measure_together(entries, cfg, batch, size[0] * size[1], label)
    for peer, row in zip(peers, rows[1:]):
        rows[0].ratio_to_peers[peer.name] = rows[0].image_ms["p50_ms"] / row.image_ms["p50_ms"]
    return rows


def run_bench(
    cfg: BenchConfig, open_model: Callable[..., object], progress: Callable[[str], None] | None = None
) -> BenchResult:
    """Bench every configuration. ``open_model(path, backend, tile, overlap, batch, device, solver_steps)`` returns
    an object with ``spec``, ``backend_name``, ``overlap``, ``run_tiles(lr, noise, t)`` and ``upscale(image, t,
    seed)`` (see :func:`oftsr_edge.evaluation.methods.open_upscaler`); an :class:`OftsrError` skips that backend."""
    rows: list[BenchRow] = []
    notes: list[str] = []
    peer_cache: dict[str, tuple[list[Peer], list[str]]] = {}
    say = progress or (lambda _msg: None)
    for path, backend, tile, batch in itertools.product(cfg.models, cfg.backends, cfg.tiles, cfg.batches):
        try:
            model, load_s = timed(open_model, path, backend, tile, cfg.overlap, batch, cfg.device, cfg.solver_steps)
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
