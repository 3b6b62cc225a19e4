"""``oftsr-edge bench``: the click layer over :mod:`oftsr_edge.evaluation.bench` (latency, MP/s, memory).

Importing it needs neither torch nor onnx: peer export (torch + onnx) is imported inside the code path that needs it.
"""

from __future__ import annotations

from pathlib import Path

import click

from oftsr_edge.contract import PRECISIONS
from oftsr_edge.errors import OftsrError
from oftsr_edge.evaluation.command_common import SOLVER_STEPS_DETAIL, parse_peers, say
from oftsr_edge.runtime.backends.options import BACKEND_NAMES
from oftsr_edge.vocabulary import Listed, option

_PEERS_DEFAULT = "bicubic"
_BENCH_PEERS = ("bicubic", "srvgg-compact", "rrdbnet")


@click.command(name="bench")
@option("--model", "models", multiple=True, detail="repeat for several, e.g. fp32 and fp16 variants; default: the bundled default")
@option("--backend", "backends", type=Listed(click.Choice(BACKEND_NAMES, case_sensitive=False)), default="auto", show_default=True,
        detail="comma list to compare several")
@option("--precision", type=Listed(click.Choice(PRECISIONS, case_sensitive=False)), default=None,
        detail="keep only models whose metadata precision is listed (comma list)")
@option("--tile", "tiles", type=Listed(click.IntRange(min=0)), default="128", show_default=True,
        detail="comma list; 0 = whole image")
@option("--batch-size", "batches", type=Listed(click.IntRange(min=1)), default="1", show_default=True,
        detail="tiles per backend call, comma list")
@option("--image-size", "sizes", default="512x512", show_default=True)
@option("--runs", default=10, show_default=True, type=click.IntRange(1))
@option("--warmup-runs", "warmup", default=2, show_default=True, type=click.IntRange(0))
@option("--overlap", default=None, type=click.IntRange(0), detail="default: the runtime's")
@option("--peers", default=_PEERS_DEFAULT, show_default=True,
        detail="bicubic, auto (bicubic, srvgg-compact and rrdbnet with random weights, plus installed trained ncnn "
        "peers), a comma list, or none")
@option("--device", default=None, type=click.IntRange(0), detail="default 0; GPU backends and auto only")
@option("--solver-steps", type=int, default=None, detail=SOLVER_STEPS_DETAIL)
@option("--photos", type=click.Path(path_type=Path), default=None,
        detail="adds end-to-end rows: network, Upscaler.upscale and PNG files over these photos")
@option("--json", "json_out", type=click.Path(path_type=Path), detail="every field")
def bench(
    models: tuple[str, ...],
    backends: tuple[str, ...],
    precision: tuple[str, ...] | None,
    tiles: tuple[int, ...],
    batches: tuple[int, ...],
    sizes: str,
    runs: int,
    warmup: int,
    overlap: int | None,
    peers: str,
    device: int | None,
    solver_steps: int | None,
    photos: Path | None,
    json_out: Path | None,
) -> None:
    """Latency (p50/p90/p99 per tile and per image), MP/s and memory; markdown on stdout.

    Without --model: the bundled default model against bicubic. Other peers are opt-in (--peers)."""
    from oftsr_edge.evaluation.bench import BenchConfig, parse_sizes, run_bench
    from oftsr_edge.evaluation.methods import open_upscaler
    from oftsr_edge.evaluation.report import bench_markdown, write_json
    from oftsr_edge.runtime.models import resolve_model

    cfg = BenchConfig(
        models=tuple(resolve_model(m) for m in models) or (resolve_model(None),),
        backends=tuple(dict.fromkeys(backends)),
        precisions=precision or (),
        tiles=tiles,
        batches=batches,
        sizes=parse_sizes(sizes),
        runs=runs,
        warmup=warmup,
        peers=parse_peers(peers, _BENCH_PEERS),
        overlap=overlap,
        device=device,
        solver_steps=solver_steps,
    )
    if peers.strip().lower() == "auto":
        from oftsr_edge.evaluation.ncnn_peers import HOW_TO, available

        if not available():
            say(f"note: the trained Real-ESRGAN peers are not installed, so --peers auto times bicubic and random-weight "
                 f"speed stand-ins only; to add them: {HOW_TO}")  # fmt: skip
    result = run_bench(cfg, open_upscaler, progress=say)
    if not result.rows:
        raise OftsrError("nothing was benchmarked: " + "; ".join(result.notes))
    click.echo(bench_markdown(result))
    payload = result.to_dict()
    if "auto" in cfg.backends:
        from oftsr_edge.runtime.backends.cpu_choice import describe

        payload["auto_choice"] = [describe(m or None) for m in (models or (None,))]
        click.echo("\n".join(payload["auto_choice"]))
    if photos is not None:
        from oftsr_edge.evaluation.e2e import bench_folder, e2e_markdown
        from oftsr_edge.runtime.io.image_io import list_images

        if not photos.is_dir() or not list_images(photos):
            raise OftsrError(f"{photos}: not a folder of photos")
        say(f"end to end over {photos}")
        opened = open_upscaler(cfg.models[0], backend=cfg.backends[0], device=device, solver_steps=solver_steps)
        with opened.upscaler:
            rows = bench_folder(opened.upscaler, list_images(photos), runs=runs)
        click.echo(f"\nEnd to end, {rows[0].images} photos from {photos} (best of {runs} passes):\n")
        click.echo(e2e_markdown(rows))
        payload["end_to_end"] = [r.to_dict() for r in rows]
    if json_out:
        say(f"wrote {write_json(json_out, payload)}")
