"""Every ``oftsr-edge`` command in the user-facing documents (README, docs/, model cards, benchmarks/README.md) is
checked against the CLI, and every repository path they cite exists.

A command is checked in the strongest way its text allows, and the test prints how many went which way:

- **run**: cheap commands whose inputs ship with the repository (``models``, ``models NAME``, ``--help``, the
  README's sample upscale) are executed in a scratch folder;
- **parsed**: a concrete command (no ``[...]``, ``|`` alternatives or ellipsis) is parsed by click exactly as the
  CLI would parse it (option names, counts, value types and choices), without running it — training, export,
  bench and eval commands take minutes to hours;
- **synopsis**: a usage line with ``[...]``, ``|`` or ``...`` has its sub-command and every option name checked;
- **named**: a bare ``oftsr-edge NAME`` in prose has its sub-command checked.
"""

from __future__ import annotations

import importlib.util
import re
import shlex
import shutil
from pathlib import Path

import click
import pytest

from oftsr_edge.cli import cli, main

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("readme_commands", REPO / ".ci" / "readme_commands.py")
docs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(docs)

RUN = {"models", "--help"}  # sub-commands cheap and self-contained enough to execute as written


def _command(name: str) -> click.Command | None:
    with click.Context(cli) as ctx:
        return cli.get_command(ctx, name)


def _option_names(command: click.Command) -> set[str]:
    return {o for p in command.params for o in (*p.opts, *p.secondary_opts)} | {"--help", "-h"}


def _synopsis(words: list[str]) -> bool:
    return any(w.startswith("[") or w.endswith("]") or "|" in w or w in ("...", "…") or w.endswith("...")
               for w in words)


def check(command_line: str, scratch: Path) -> str:
    """How ``command_line`` was checked (run, parsed, synopsis, named); AssertionError when it is wrong."""
    try:
        words = shlex.split(command_line)
    except ValueError as exc:
        raise AssertionError(f"cannot be split like a shell would: {exc}") from None
    assert words[0] == "oftsr-edge"
    if words[1:] == ["--help"]:
        _run(words, scratch)
        return "run"
    command = _command(words[1])
    assert command is not None, f"no sub-command {words[1]!r}"
    args = words[2:]
    if not args:
        if words[1] in RUN:
            _run(words, scratch)
            return "run"
        return "named"
    if _synopsis(args):
        known = _option_names(command)
        for word in args:
            for part in re.split(r"[\[\]|]", word):
                name = part.split("=")[0].rstrip(",.;:")
                if name.startswith("-") and not re.fullmatch(r"-\d[\d.]*", name) and name not in ("-", "--"):
                    assert name in known, f"{words[1]} has no option {name}"
        return "synopsis"
    try:
        command.make_context(words[1], list(args), resilient_parsing=False)
    except click.MissingParameter:
        # a fragment quoted in prose (e.g. the options of an earlier, complete command): names and values parsed
        ctx = command.make_context(words[1], list(args), resilient_parsing=True)
        stray = list(ctx.args) + [a for a in getattr(ctx, "_protected_args", []) if a]
        assert not stray, f"click refuses it: unexpected argument(s) {' '.join(stray)}"
        _check_names(command, args)
        return "synopsis"
    except click.UsageError as exc:
        raise AssertionError(f"click refuses it: {exc.format_message()}") from None
    if _runnable(words[1], args):
        _run(words, scratch)
        return "run"
    return "parsed"


def _runnable(name: str, args: list[str]) -> bool:
    """Whether to execute: ``models`` of a bundled name, or an upscale of an input that ships in the repository."""
    from oftsr_edge.runtime.models import bundled_cards

    if name == "models":
        return all(a in bundled_cards() for a in args)
    return name == "upscale" and (REPO / args[0]).is_file() and "examples" in Path(args[0]).parts


def _check_names(command: click.Command, args: list[str]) -> None:
    known = _option_names(command)
    for word in args:
        name = word.split("=")[0]
        if name.startswith("-") and not re.fullmatch(r"-\d[\d.]*", name):
            assert name in known, f"{command.name} has no option {name}"


def _run(words: list[str], scratch: Path) -> None:
    """Execute in ``scratch`` (a copy of examples/); a non-zero exit fails the test."""
    import os

    here = Path.cwd()
    os.chdir(scratch)
    try:
        main(words[1:])
    except SystemExit as exc:
        assert exc.code in (0, None), f"exit status {exc.code}"
    finally:
        os.chdir(here)


def test_every_command_in_the_documents_is_checked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copytree(REPO / "examples", tmp_path / "examples")
    found = docs.doc_commands()
    assert len(found) > 50  # README, docs/, cards and benchmarks/README.md together
    counts: dict[str, int] = {}
    problems = []
    for document, line, command in found:
        try:
            how = check(command, tmp_path)
        except AssertionError as exc:
            problems.append(f"{document}:{line}: `{command}`: {exc}")
            continue
        counts[how] = counts.get(how, 0) + 1
    capsys.readouterr()
    assert not problems, "\n".join(problems)
    with capsys.disabled():
        print(f"\ndocs commands: {len(found)} in {len(docs.doc_files())} documents; "
              + ", ".join(f"{counts.get(k, 0)} {k}" for k in ("run", "parsed", "synopsis", "named")))
    assert counts.get("run", 0) >= 3 and counts.get("parsed", 0) >= 20


def test_the_checker_catches_a_wrong_command(tmp_path: Path) -> None:
    for bad, why in (("oftsr-edge upscale x.png -o y.png --no-such-flag", "click refuses it"),
                     ("oftsr-edge degrade HR_DIR -o OUT", "click refuses it"),
                     ("oftsr-edge train [--no-such-option N]", "has no option --no-such-option"),
                     ("oftsr-edge nosuch", "no sub-command")):
        with pytest.raises(AssertionError, match=re.escape(why)):
            check(bad, tmp_path)


def test_every_cited_repository_path_exists() -> None:
    cited = docs.cited_paths()
    assert len(cited) > 20
    missing = []
    for document, path in cited:
        base = (REPO / document).parent
        if not ((REPO / path).exists() or (base / path).exists() or any(REPO.glob(path))):
            missing.append(f"{document}: {path}")
    assert not missing, "cited but not in the repository:\n" + "\n".join(missing)


def test_user_documents_carry_no_internal_history_or_machine_paths() -> None:
    pattern = re.compile(r"\bissue \d+\b|\b(first|second|third|fourth|fifth|this|other) sessions?\b|edge-notes|"
                         r"/work/|/root/|~/lpips|~/dists", re.I)
    cards = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")), *sorted((REPO / "docs" / "models").glob("*.md"))]
    found = [f"{p.relative_to(REPO)}:{n}: {m.group(0)}" for p in cards
             for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
             for m in [pattern.search(line)] if m]
    assert not found, "\n".join(found)
