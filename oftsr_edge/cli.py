"""The ``oftsr-edge`` command: a click group whose sub-commands load lazily.

Each sub-command lives in the module of its area (train, export, runtime, evaluation). Loading them lazily keeps
``oftsr-edge --help`` and ``oftsr-edge upscale`` free of torch and onnx, which a device may not have; those modules
import heavy libraries only inside their command bodies, after checking the extra is installed.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
import warnings
from collections.abc import Iterator

import click

from oftsr_edge import interrupts
from oftsr_edge.errors import OftsrError
from oftsr_edge.interrupts import stop_signals_as_interrupt
from oftsr_edge.version import __version__

# name -> "module:attribute"; the attribute is a click.Command.
_COMMANDS: dict[str, str] = {
    "train": "oftsr_edge.train.commands:train",
    "sample": "oftsr_edge.train.commands:sample",
    "distill": "oftsr_edge.train.commands:distill",
    "export": "oftsr_edge.export.commands:export",
    "build": "oftsr_edge.runtime.backends.tensorrt.commands:build",
    "check": "oftsr_edge.export.check_command:check",
    "upscale": "oftsr_edge.runtime.cli.upscale:upscale",
    "bench": "oftsr_edge.evaluation.bench_command:bench",
    "eval": "oftsr_edge.evaluation.eval_command:evaluate",
    "degrade": "oftsr_edge.evaluation.degrade_command:degrade",
    "reference-cache": "oftsr_edge.teachers.command:reference_cache",
    "tune-t": "oftsr_edge.evaluation.tune_t_command:tune_t",
    "models": "oftsr_edge.runtime.cli.models:models",
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


#: the line of a run stopped before it printed its own (an upscale prints what it finished)
STOPPED = "oftsr-edge: stopped early (interrupted); nothing half-written is left; rerun the same command to finish"


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the group, turning user errors into one line on stderr and a non-zero exit; Ctrl-C and
    SIGTERM stop the run the same way (exit 130, :mod:`oftsr_edge.interrupts`). ``argv`` None means a process of
    its own (the ``oftsr-edge`` script): only then are signals watched by a thread that can end the process
    (:func:`~oftsr_edge.interrupts.guard_process`); called in-process with ``argv``, nothing process-wide changes."""
    own_process = False
    try:
        try:
            own_process = argv is None and interrupts.guard_process(lambda: STOPPED)  # inside: a signal may come now
            with stop_signals_as_interrupt(), _one_line_warnings():
                code = cli.main(args=argv, prog_name="oftsr-edge", standalone_mode=False)
            sys.stdout.flush()  # a closed pipe shows here, not at exit, where it cannot be reported
        except OftsrError as exc:
            if interrupts.requested():  # e.g. an import cut short reads as "not installed"
                raise KeyboardInterrupt from None
            click.echo(f"oftsr-edge: error: {exc}", err=True)
            code = exc.exit_code
        except click.exceptions.NoSuchOption as exc:
            click.echo(f"oftsr-edge: error: {_no_such_option(exc)}", err=True)
            code = exc.exit_code
        except click.exceptions.UsageError as exc:  # one line, like every other error (not click's usage block)
            command = exc.ctx.command_path if exc.ctx is not None else "oftsr-edge"
            click.echo(f"oftsr-edge: error: {_one_line(exc.format_message())} (see {command} --help)", err=True)
            code = exc.exit_code
        except click.exceptions.Abort:
            raise KeyboardInterrupt from None
        except SystemExit as exc:  # click's answer to EPIPE: exit 1, silently, stdout wrapped to swallow flushes
            if not isinstance(sys.stdout, click.utils.PacifyFlushWrapper):
                raise
            for name in ("stdout", "stderr"):
                stream = getattr(sys, name)
                setattr(sys, name, getattr(stream, "wrapped", stream))
            raise BrokenPipeError from exc
        except click.ClickException as exc:
            click.echo(f"oftsr-edge: error: {_one_line(exc.format_message())}", err=True)
            code = exc.exit_code
        except Exception:
            # an interrupt raised inside a library can come out wrapped (e.g. Python's RuntimeError around a
            # KeyboardInterrupt in a class's __set_name__ while Pillow imports a plugin): still an interrupt
            if interrupts.requested():
                raise KeyboardInterrupt from None
            raise
    except KeyboardInterrupt:
        if not interrupts.reported():
            interrupts.mark_reported()
            _echo_safely(STOPPED)
        _echo_safely("oftsr-edge: interrupted", err=True)
        if own_process:
            interrupts.end_now(None, 130)  # no wait for worker threads an interrupt may have orphaned
        sys.exit(130)
    except BrokenPipeError:
        _closed_pipe()
        code = 141
    interrupts.finishing(own_process)
    if isinstance(code, int) and code:
        sys.exit(code)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _echo_safely(line: str, err: bool = False) -> None:
    try:
        click.echo(line, err=err)
    except (BrokenPipeError, ValueError):
        pass


def _closed_pipe() -> None:
    """stdout's reader went away (``| head -c 0``): say so on stderr, and point stdout at /dev/null so the exit
    does not fail to flush it a second time."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass
    _echo_safely("oftsr-edge: error: standard output was closed before everything was printed (broken pipe); "
                 "files already written are complete", err=True)  # fmt: skip


#: options of other upscalers a user may type here, and what they are called in oftsr-edge
FOREIGN_OPTIONS = {
    "-t": "Real-ESRGAN's -t (tile size) is --tile here; --t is the fidelity-realism knob t in [0, 1]",
    "--ext": "the output format is -f/--format here (auto, png, jpg, webp, tif, bmp)",
    "--outscale": "outputs are never resized: the scale is the model's (--scale checks it)",
    "--tile_pad": "the tile overlap is --overlap here",
    "--fp32": "the precision is the model file's: pick a bundled NAME_fp32 model with --model",
}


def _no_such_option(exc: click.exceptions.NoSuchOption) -> str:
    """click's message on one line, with what the option is called here when a user brought it from elsewhere."""
    hint = FOREIGN_OPTIONS.get(exc.option_name)
    command = exc.ctx.command_path if exc.ctx is not None else "oftsr-edge"
    if hint:
        return f"no such option {exc.option_name!r} in {command}: {hint}"
    return f"{_one_line(exc.format_message())} (see {command} --help)"


if __name__ == "__main__":
    main()
