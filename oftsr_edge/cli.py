"""The ``oftsr-edge`` command: a click group whose sub-commands load lazily.

Each sub-command lives in the module of its area (train, export, runtime, evaluation). Loading them lazily keeps
``oftsr-edge --help`` and ``oftsr-edge upscale`` free of torch and onnx, which a device may not have; those modules
import heavy libraries only inside their command bodies, after checking the extra is installed.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
import warnings
from collections.abc import Iterator

import click

from oftsr_edge import __version__
from oftsr_edge.errors import OftsrError
from oftsr_edge.interrupts import stop_signals_as_interrupt

# name -> "module:attribute"; the attribute is a click.Command.
_COMMANDS: dict[str, str] = {
    "train": "oftsr_edge.train.commands:train",
    "sample": "oftsr_edge.train.commands:sample",
    "distill": "oftsr_edge.train.commands:distill",
    "export": "oftsr_edge.export.commands:export",
    "build": "oftsr_edge.runtime.backends.tensorrt.commands:build",
    "check": "oftsr_edge.export.check_command:check",
    "upscale": "oftsr_edge.runtime.commands:upscale",
    "bench": "oftsr_edge.evaluation.commands:bench",
    "eval": "oftsr_edge.evaluation.commands:evaluate",
    "degrade": "oftsr_edge.evaluation.degrade_command:degrade",
    "tune-t": "oftsr_edge.evaluation.commands:tune_t",
    "models": "oftsr_edge.runtime.models_command:models",
    "doctor": "oftsr_edge.doctor.command:doctor",
}


class LazyGroup(click.Group):
    """A group that imports a sub-command's module only when that command is listed or run."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = _COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith("oftsr_edge"):
                return _not_built(cmd_name)
            raise
        return getattr(module, attr, None) or _not_built(cmd_name)


def _not_built(name: str) -> click.Command:
    """A placeholder that says honestly that a command has not been built yet in this version."""

    @click.command(name=name, help="(not built yet in this version)", context_settings={"ignore_unknown_options": True})
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    def placeholder(args: tuple[str, ...]) -> None:
        raise OftsrError(f"'oftsr-edge {name}' is not built yet in oftsr-edge {__version__}")

    return placeholder


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="oftsr-edge")
def cli() -> None:
    """OFTSR one-step super-resolution: train, export, build engines, upscale, benchmark."""


@contextlib.contextmanager
def _one_line_warnings() -> Iterator[None]:
    """A warning is one line, like an error ("oftsr-edge: warning: ..."), not Python's file:line two-liner."""
    previous = warnings.showwarning

    def show(message: Warning | str, category: type, filename: str, lineno: int, *args: object) -> None:
        sys.stderr.write(f"oftsr-edge: warning: {message}\n")

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = previous


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the group, turning user errors into one line on stderr and a non-zero exit; Ctrl-C and
    SIGTERM stop the run the same way (exit 130, :mod:`oftsr_edge.interrupts`)."""
    try:
        with stop_signals_as_interrupt(), _one_line_warnings():
            code = cli.main(args=argv, prog_name="oftsr-edge", standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except OftsrError as exc:
        click.echo(f"oftsr-edge: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("oftsr-edge: interrupted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("oftsr-edge: interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
