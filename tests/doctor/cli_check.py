"""Check that an ``oftsr-edge ...`` command line names a real command and only options that command has, by running
its ``--help`` in-process and reading its click parameters (used for doctor's advice and docs/jetson.md)."""

from __future__ import annotations

import shlex

import click
import pytest

from oftsr_edge.cli import cli
from tests.helpers.cli import run_main


def command_problems(line: str, capsys: pytest.CaptureFixture[str]) -> list[str]:
    """Why ``line`` would not run as written (empty when its command exists, ``--help`` works and every option is
    one of the command's own)."""
    words = shlex.split(line, comments=True)
    if len(words) < 2 or words[0] != "oftsr-edge":
        return [f"{line!r} is not an oftsr-edge command"]
    name = words[1]
    command = cli.get_command(click.Context(cli), name)
    if command is None:
        return [f"{line!r}: no command {name!r}"]
    helped = run_main(capsys, name, "--help")
    if helped.code != 0 or "Usage:" not in helped.out:
        return [f"{line!r}: 'oftsr-edge {name} --help' failed ({helped.err.strip()})"]
    known = {o for p in command.params for o in [*getattr(p, "opts", []), *getattr(p, "secondary_opts", [])]}
    return [
        f"{line!r}: {name} has no option {word.split('=')[0]}"
        for word in words[2:]
        if word.startswith("-") and word != "-" and word.split("=")[0] not in known
    ]
