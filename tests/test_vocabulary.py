"""One vocabulary: every option of every command is in oftsr_edge.vocabulary.TERMS with one meaning, one value kind
and one set of short aliases, and the Python API speaks the same words."""

from __future__ import annotations

import inspect
from dataclasses import fields

import click
import click.testing
import pytest

from oftsr_edge.cli import cli
from oftsr_edge.runtime.backends import options as backend_options
from oftsr_edge.runtime.settings import Settings
from oftsr_edge.runtime.upscaler import Upscaler
from oftsr_edge.vocabulary import TERMS, IntOrWord, Listed, kind_of


def all_options() -> list[tuple[str, click.Option]]:
    """(command, option) for every option of every command, help excepted."""
    ctx = click.Context(cli)
    found = []
    for name in cli.list_commands(ctx):
        command = cli.get_command(ctx, name)
        assert command is not None and "not built yet" not in (command.help or ""), name
        found += [(name, p) for p in command.params if isinstance(p, click.Option) and p.name != "help"]
    return found


def test_every_option_has_one_meaning_kind_and_short_alias_set() -> None:
    problems = []
    for command, opt in all_options():
        longs = [o for o in opt.opts + opt.secondary_opts if o.startswith("--")]
        shorts = tuple(o for o in opt.opts if not o.startswith("--"))
        if len(longs) != 1:
            problems.append(f"{command}: {opt.opts} must have exactly one long name")
            continue
        long = longs[0]
        term = TERMS.get(long)
        if term is None:
            problems.append(f"{command} {long}: not in oftsr_edge.vocabulary.TERMS (give it one meaning there)")
            continue
        if shorts != term.short:
            problems.append(f"{command} {long}: short aliases {shorts}, the vocabulary says {term.short}")
        if kind_of(opt) != term.kind:
            problems.append(f"{command} {long}: a {kind_of(opt)} value, the vocabulary says {term.kind}")
        if not (opt.help or "").startswith(term.meaning):
            problems.append(f"{command} {long}: help {opt.help!r} does not start with {term.meaning!r}")
    assert not problems, "\n".join(problems)


def test_a_short_alias_belongs_to_one_long_name() -> None:
    owner: dict[str, str] = {}
    for long, term in TERMS.items():
        for short in term.short:
            assert owner.setdefault(short, long) == long, f"{short} is both {owner[short]} and {long}"
    assert "-t" not in owner  # realesrgan-ncnn-vulkan's -t is a tile size; our --t is the realism knob


def test_no_option_name_is_declared_twice_in_one_command() -> None:
    ctx = click.Context(cli)
    for name in cli.list_commands(ctx):
        names = [o for p in cli.get_command(ctx, name).params for o in getattr(p, "opts", [])]
        assert len(names) == len(set(names)), (name, names)


def test_the_old_clashing_names_are_gone() -> None:
    """The names issue 11 found with two meanings now have one (or are gone)."""
    by_command: dict[str, set[str]] = {}
    for command, opt in all_options():
        by_command.setdefault(command, set()).update(opt.opts)
    assert "--learning-rate" in by_command["train"] and "--lr" not in by_command["train"]
    assert "--lr" in by_command["eval"]
    assert all("--out" not in opts and "--batch" not in opts for opts in by_command.values())
    for command in ("upscale", "export", "build", "train", "distill", "sample"):
        assert {"-o", "--output"} <= by_command[command], command
    assert "--accelerator" in by_command["train"]


def test_every_backend_option_takes_the_same_names() -> None:
    backend_options_seen = [o for c, o in all_options() if o.opts[-1] == "--backend"]
    assert len(backend_options_seen) >= 4
    for opt in backend_options_seen:
        choice = opt.type.item if isinstance(opt.type, Listed) else opt.type
        assert isinstance(choice, click.Choice) and tuple(choice.choices) == backend_options.BACKEND_NAMES


#: options whose choices are a subset of the option's in another command, and why
CHOICE_SUBSETS = {"--teacher-solver": "distill integrates with fixed-step solvers only; eval also offers rk45"}


def test_an_option_offers_the_same_choices_in_every_command() -> None:
    offered: dict[str, set[tuple[tuple[str, ...], bool]]] = {}
    for _, opt in all_options():
        choice = opt.type.item if isinstance(opt.type, Listed) else opt.type
        if isinstance(choice, click.Choice):
            offered.setdefault(opt.opts[-1], set()).add((tuple(choice.choices), choice.case_sensitive))
    assert {"--backend", "--precision", "--degradation", "--format"} <= offered.keys()
    differ = {name: sorted(sets) for name, sets in offered.items() if len(sets) > 1 and name not in CHOICE_SUBSETS}
    assert not differ, differ
    for name in CHOICE_SUBSETS:
        widest = max((set(choices) for choices, _ in offered[name]), key=len)
        assert all(set(choices) <= widest for choices, _ in offered[name]), name


def test_list_and_word_values_convert_with_clicks_types() -> None:
    @click.command()
    @click.option("--tile", type=Listed(click.IntRange(min=0)), default="128")
    @click.option("--precision", type=Listed(click.Choice(("fp32", "fp16"), case_sensitive=False)), default="fp32")
    @click.option("--seed", type=IntOrWord("random", min=0), default="0")
    def command(tile: tuple[int, ...], precision: tuple[str, ...], seed: int | str) -> None:
        click.echo(repr((tile, precision, seed)))

    def run(*args: str) -> tuple[int, str]:
        result = click.testing.CliRunner().invoke(command, list(args))
        return result.exit_code, result.output.strip()

    assert run() == (0, "((128,), ('fp32',), 0)")
    assert run("--tile", " 64, 0,", "--precision", "FP16,fp32", "--seed", "Random") == (
        0, "((64, 0), ('fp16', 'fp32'), 'random')")
    for args, message in [
        (("--tile", "64,-1"), "-1 is not in the range x>=0"),
        (("--tile", ","), "wants at least one value (comma-separated), got ','"),
        (("--precision", "fp32,int9"), "'int9' is not one of 'fp32', 'fp16'"),
        (("--seed", "lucky"), "'lucky' is not a valid integer or random"),
        (("--seed", "-1"), "-1 is not in the range x>=0"),
    ]:
        code, output = run(*args)
        assert code == 2 and message in output, (args, output)


@pytest.mark.parametrize("function", [Upscaler.__init__, Upscaler.upscale, Upscaler.upscale_file, Settings.__init__])
def test_the_api_speaks_the_cli_vocabulary(function: object) -> None:
    # "settings" is one Settings object: its own fields are checked as the last case
    skip = {"self", "image", "source", "target", "progress", "fp32_fallback", "settings"}
    for name in inspect.signature(function).parameters:
        if name not in skip:
            assert "--" + name.replace("_", "-") in TERMS, f"{function.__qualname__}({name}=) has no CLI term"


def test_backend_option_fields_are_cli_terms_or_api_only() -> None:
    api_only = {"io_binding", "legacy_fp16", "bake_t"}  # test, TensorRT<=10 and A/B switches, not CLI options
    for cls in (backend_options.Auto, backend_options.OrtAuto, backend_options.OrtTensorRT, backend_options.OrtCpu):
        for field in fields(cls):
            if field.name not in api_only:
                assert "--" + field.name.replace("_", "-") in TERMS, (cls.__name__, field.name)
