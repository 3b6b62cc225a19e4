"""``oftsr-edge doctor``: one screen that says what this machine can run and the exact command to run next.

It must answer on any machine: every probe is guarded (:mod:`.probe`), and should rendering itself fail, the
command still prints the facts it has as JSON and exits 0 — doctor is where people go when things are broken.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from oftsr_edge.errors import OftsrError
from oftsr_edge.vocabulary import option


@click.command("doctor")
@option("--json", "json_out", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path), is_flag=False,
        flag_value=Path("-"), default=None, detail="'-' or no value: standard output, instead of the text report")
@option("--device", type=click.IntRange(min=0), default=0, show_default=True, detail="the GPU the advice is for")
def doctor(json_out: Path | None, device: int) -> None:
    """Say what this machine can run (Python packages, ONNX Runtime, TensorRT, GPU, Jetson, memory preset, which
    bundled models run on which backend) and the next command to run. Exits 0 on any machine."""
    from oftsr_edge.doctor.advice import EXAMPLE, advise
    from oftsr_edge.doctor.probe import collect
    from oftsr_edge.doctor.report import render_json, render_text
    from oftsr_edge.fileio import write_bytes_atomic

    facts = collect()
    try:
        advice = advise(facts, example=Path(EXAMPLE).is_file(), device=device)
        text, data = render_text(facts, advice), render_json(facts, advice)
    except Exception as exc:  # noqa: BLE001 - a bug here must not hide the facts from the person debugging
        data = json.dumps({"facts": {k: f.to_dict() for k, f in facts.items()},
                           "error": f"doctor could not assemble its advice: {type(exc).__name__}: {exc}"},
                          indent=2, default=str) + "\n"  # fmt: skip
        text = data
    if json_out is None:
        click.echo(text, nl=False)
    elif str(json_out) == "-":
        sys.stdout.write(data)
    else:
        try:
            write_bytes_atomic(json_out, data.encode())
        except OSError as exc:
            raise OftsrError(f"cannot write {json_out}: {exc.strerror or exc}") from None
        click.echo(text, nl=False)
        click.echo(f"wrote {json_out}")
