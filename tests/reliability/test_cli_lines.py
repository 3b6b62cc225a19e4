"""Every way the command line can go wrong answers in one line: options brought from other upscalers get a hint, a
closed stdout pipe is named, a thread the system will not start is one error, not a RuntimeError traceback."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from oftsr_edge.errors import OftsrError
from tests.helpers.cli import assert_one_line_error, run_main
from tests.reliability.conftest import REPO, photo


@pytest.mark.parametrize(
    ("option", "needle"),
    [("-t", "-t (tile size) is --tile here; --t is the fidelity-realism knob"), ("--ext", "-f/--format")],
)
def test_options_from_other_upscalers_get_a_hint(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, model: Path, option: str, needle: str
) -> None:
    src = photo(tmp_path / "a.png")
    result = run_main(capsys, "upscale", str(src), "-o", str(tmp_path / "out"), "--model", str(model), option, "256")
    assert_one_line_error(result, needle)


def test_a_usage_error_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path, model: Path) -> None:
    src = photo(tmp_path / "a.png")
    result = run_main(capsys, "upscale", str(src), "-o", str(tmp_path / "o"), "--model", str(model), "--quality", "0")
    assert_one_line_error(result, "Invalid value for '--quality'")


def test_a_closed_stdout_pipe_is_named_on_stderr(tmp_path: Path, model: Path) -> None:
    """``oftsr-edge upscale ... | head -c 0``: it exited 1 with no word."""
    src = photo(tmp_path / "a.png")
    read, write = os.pipe()
    os.close(read)  # the reader is gone before anything is printed
    code = "from oftsr_edge.cli import main; main()"
    proc = subprocess.run([sys.executable, "-c", code, "upscale", str(src), "-o", str(tmp_path / "out"),
                           "--model", str(model), "-q"], stdout=write, stderr=subprocess.PIPE, text=True,
                          env=dict(os.environ, PYTHONPATH=str(REPO)), timeout=120)  # fmt: skip
    os.close(write)
    assert proc.returncode == 141, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "standard output was closed" in lines[0] and "broken pipe" in lines[0]
    assert (tmp_path / "out" / "a.png").exists()


def _no_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: threading.Thread) -> None:
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(threading.Thread, "start", refuse)


def test_a_thread_the_system_refuses_is_one_line_in_the_cli(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "in"
    photo(src / "a.png", seed=1)
    photo(src / "b.png", seed=2)
    _no_threads(monkeypatch)
    result = run_main(capsys, "upscale", str(src), "-o", str(tmp_path / "out"), "--model", str(model), "-q")
    assert_one_line_error(result, "the system refused to start a thread")


def test_a_thread_the_system_refuses_is_an_oftsr_error_in_the_api(
    model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from oftsr_edge import Upscaler

    with Upscaler(model, tile=16, overlap=8) as up:
        image = np.random.default_rng(0).integers(0, 256, (40, 40, 3), dtype=np.uint8)  # tiles: worker threads
        _no_threads(monkeypatch)
        with pytest.raises(OftsrError, match="the system refused to start a thread"):
            up.upscale(image)
