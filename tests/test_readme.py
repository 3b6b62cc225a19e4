"""README.md's quick start cannot drift: CI takes its three commands from the README text, the upscale command's
input ships with the repository, and the upscale command and the Python example run here as written."""

from __future__ import annotations

import importlib.util
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from oftsr_edge.cli import main
from oftsr_edge.runtime.io.image_io import read_image

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("readme_commands", REPO / ".ci" / "readme_commands.py")
readme = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(readme)


def test_the_quick_start_has_three_commands() -> None:
    found = readme.commands()
    assert list(found) == ["install", "upscale", "test"]
    assert "pip install" in found["install"] and '-e ".[train,export,dev]"' in found["install"]
    assert found["upscale"].startswith("oftsr-edge upscale ") and found["test"] == "python -m pytest -q"


def test_ci_runs_the_commands_it_reads_from_the_readme() -> None:
    script = (REPO / ".ci" / "run").read_text()
    for name in ("install", "upscale", "test"):
        assert re.search(rf'run_step "\$\(readme {name}\)"', script), name
        assert readme.commands()[name] not in script, f"{name}: .ci/run must not spell the command itself"
    assert "readme check-upscale" in script and "OFTSR_STRICT_SKIPS=1" in script
    assert "git clone" in script and "mktemp -d" in script and "venv" in script


def test_the_extractor_fails_when_the_readme_breaks() -> None:
    good = (REPO / "README.md").read_text()
    broken = good.replace(readme.commands()["upscale"], "")
    with pytest.raises(SystemExit, match="2 commands, expected 3"):
        readme.commands(broken)
    with pytest.raises(SystemExit, match="no '## Three commands' section"):
        readme.commands(good.replace("## Three commands", "## Quick start"))


def test_the_sample_input_ships_with_the_repository() -> None:
    source, _ = readme.upscale_paths(readme.commands()["upscale"])
    assert (REPO / source).is_file() and (REPO / source).stat().st_size < 100_000
    if (REPO / ".git").exists() and shutil.which("git"):
        tracked = subprocess.run(["git", "-C", str(REPO), "ls-files", "--error-unmatch", str(source)],
                                 capture_output=True, text=True, check=False)  # fmt: skip
        assert tracked.returncode == 0, f"{source} is not committed: a fresh clone would not have it"


def test_the_upscale_command_runs_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    command = readme.commands()["upscale"]
    shutil.copytree(REPO / "examples", tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    main(shlex.split(command)[1:])
    assert "upscaled 1 image(s)" in capsys.readouterr().out
    assert readme.check_upscale(command, tmp_path).endswith("160x160 -> 640x640")


def test_the_python_example_runs_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    shutil.copytree(REPO / "examples", tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    exec(compile(readme.python_example(), "README.md", "exec"), {"__name__": "readme_example"})
    assert capsys.readouterr().out.strip() == "(160, 160, 3) -> (640, 640, 3)"
    by_file, by_array = read_image("kodim23_x4_api.png"), read_image("kodim23_x4_array.png")
    assert by_file.shape == (640, 640, 3) and np.array_equal(by_file, by_array)
