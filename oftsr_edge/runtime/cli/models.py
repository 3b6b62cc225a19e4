"""``oftsr-edge models``: the bundled models and their cards (:mod:`oftsr_edge.runtime.models`)."""

from __future__ import annotations

from pathlib import Path

import click

from oftsr_edge.errors import OftsrError
from oftsr_edge.runtime.models import ModelCard, bundled_cards, default_name

_METRICS = (("psnr_y", ".2f"), ("ssim_y", ".4f"), ("niqe", ".3f"), ("lpips", ".4f"))


def _row(card: ModelCard, default: str) -> list[str]:
    return [
        card.name + (" *" if card.name == default else ""),
        f"x{card.scale}",
        f"{card.params / 1e6:.2f} M",
        f"{card.gflops_per_output_mp:.1f}",
        ",".join(card.precisions),
        card.degradation,
        card.headline(),
    ]


def table(rows: list[list[str]], header: list[str]) -> str:
    """A plain aligned table (readable in a terminal and in a pasted issue)."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in [header, *rows]]
    return "\n".join(lines)


def describe(card: ModelCard, default: str) -> str:
    """Everything on one model's card, metrics as one row per (dataset, t)."""
    lines = [
        f"{card.name}{' (default)' if card.name == default else ''}",
        f"  scale        x{card.scale}",
        f"  parameters   {card.params:,}" + (f" (config {card.config})" if card.config else ""),
        f"  GFLOPs/MP    {card.gflops_per_output_mp:.1f} per output megapixel",
        "  files        " + ", ".join(f"{p}: {f.name}" for p, f in card.files.items()),
        f"  degradation  {card.degradation}",
        f"  training     {card.training}",
    ]
    if card.use_for:
        lines.append(f"  use for      {card.use_for}")
    if card.note:
        lines.append(f"  note         {card.note}")
    rows = [
        [dataset, row, *(format(values[m], f) if m in values else "-" for m, f in _METRICS)]
        for dataset, by_row in card.metrics.items()
        for row, values in by_row.items()
    ]
    if rows:
        lines += ["", table(rows, ["dataset", "method", "PSNR-Y", "SSIM-Y", "NIQE", "LPIPS"])]
    if card.metrics_source:
        lines.append(f"({card.metrics_source})")
    return "\n".join(lines)


def describe_file(path: Path) -> str:
    """The card of any exported model, from its metadata (the contract), and whether it is a bundled file."""
    from oftsr_edge.contract import read_spec
    from oftsr_edge.fileio import sha256_file

    spec = read_spec(path, via="onnxruntime", allow_two_time=True)
    sha = sha256_file(path)
    bundled = [f"{card.name} ({p})" for card in bundled_cards().values() for p, f in card.files.items()
               if f.is_file() and sha256_file(f) == sha]  # fmt: skip
    steps = f"\n  method       {spec.method}, {spec.default_steps} step(s) by default" if spec.two_time else ""
    return "\n".join([
        f"{spec.name} ({path})",
        f"  scale        x{spec.scale}",
        f"  precision    {spec.precision}",
        f"  default t    {spec.default_t:g}" + steps,
        f"  degradation  {spec.degradation}",
        f"  sigma_p      {spec.sigma_p:g}",
        f"  tile         {spec.tile} (LR pixels, multiple of {spec.multiple_of}); opset {spec.opset}",
        f"  checkpoint   sha256 {spec.checkpoint_sha256}",
        f"  file         sha256 {sha}",
        "  bundled      " + (", ".join(bundled) if bundled else "no (a model exported by oftsr-edge export)"),
    ])


@click.command("models")
@click.argument("name", required=False)
def models(name: str | None) -> None:
    """List the bundled models (* = the default), or show NAME's card (NAME may be any .onnx file)."""
    cards, default = bundled_cards(), default_name()
    if name is not None:
        if name not in cards and Path(name).suffix == ".onnx":
            if not Path(name).is_file():
                raise OftsrError(f"{name}: no such model file")
            click.echo(describe_file(Path(name)))
            return
        if name not in cards:
            raise OftsrError(f"no bundled model {name!r} (bundled: {', '.join(cards)}; or give an .onnx file)")
        click.echo(describe(cards[name], default))
        return
    header = ["name", "scale", "params", "GFLOPs/MP", "precisions", "degradation", "headline (fidelity / realism end)"]
    click.echo(table([_row(c, default) for c in cards.values()], header))
    click.echo("* default (eval, bench, tune-t without --model). upscale defaults to --model auto: "
               "per input, the model whose card says 'use for' it. 'oftsr-edge models NAME' shows a card.")
