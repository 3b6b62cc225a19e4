"""Faults injected into real ``oftsr-edge upscale`` processes: SIGKILL, SIGINT and SIGTERM midway through a folder,
and a full disk (a file-size limit). After each: no partial output, no temporary file once a run has started again,
earlier outputs kept, and a rerun that completes only what is missing."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from oftsr_edge.fileio import TEMP_SUFFIX
from oftsr_edge.runtime.io.image_io import list_images, read_image, write_image
from tests.helpers.cli import run_main
from tests.reliability.conftest import cli_process, dead_pid, partial_files

IMAGES = 40
LR = 96  # pixels per side: HR outputs of 384², a few ms each on an idle core


def _folder(root: Path, count: int = IMAGES, size: int = LR) -> Path:
    rng = np.random.default_rng(7)
    for i in range(count):
        write_image(root / f"img{i:03d}.png", rng.integers(0, 256, (size, size, 3), dtype=np.uint8))
    return root


def _outputs(folder: Path) -> list[Path]:
    return list_images(folder) if folder.exists() else []


def _stop_midway(proc: subprocess.Popen, out: Path, signum: int, timeout: float = 900.0) -> int:
    """Send ``signum`` once the first output exists; returns how many outputs existed when it was sent."""
    deadline = time.monotonic() + timeout
    while not _outputs(out):
        if proc.poll() is not None:
            pytest.fail(f"the run ended before any output: {proc.communicate()}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("no output within the timeout")
        time.sleep(0.002)
    done = len(_outputs(out))
    proc.send_signal(signum)
    return done


def _assert_outputs_complete(out: Path) -> None:
    for path in _outputs(out):
        assert read_image(path).shape == (4 * LR, 4 * LR, 3), path  # decodes in full: never a partial file


def _start(src: Path, out: Path, model: Path) -> subprocess.Popen:
    return cli_process("upscale", src, "-o", out, "--model", model, "--tile", "0", "--quiet")


def test_sigkill_midway_leaves_no_partial_output_and_a_rerun_completes_only_the_rest(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, model: Path
) -> None:
    src, out = _folder(tmp_path / "in"), tmp_path / "out"
    proc = _start(src, out, model)
    _stop_midway(proc, out, signal.SIGKILL)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    _assert_outputs_complete(out)
    kept = len(_outputs(out))
    assert kept < IMAGES, "the run finished before it was killed: the test proved nothing"
    result = run_main(capsys, "upscale", str(src), "-o", str(out), "--model", str(model), "--tile", "0", "--quiet")
    assert result.code == 0, result.err
    assert f"upscaled {IMAGES - kept} image(s)" in result.out
    assert f"{kept} skipped" in result.out
    assert len(_outputs(out)) == IMAGES and partial_files(tmp_path) == []
    _assert_outputs_complete(out)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_sigint_and_sigterm_stop_cleanly_with_a_summary_and_exit_130(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, model: Path, signum: int
) -> None:
    src, out = _folder(tmp_path / "in"), tmp_path / "out"
    proc = _start(src, out, model)
    _stop_midway(proc, out, signum)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 130, (stdout, stderr)
    assert "Traceback" not in stderr and stderr.strip().splitlines()[-1] == "oftsr-edge: interrupted"
    done = len(_outputs(out))
    assert f"stopped early: upscaled {done} of {IMAGES} image(s)" in stdout
    assert partial_files(tmp_path) == []
    _assert_outputs_complete(out)
    if done < IMAGES:
        result = run_main(capsys, "upscale", str(src), "-o", str(out), "--model", str(model), "--tile", "0", "-q")
        assert result.code == 0 and f"upscaled {IMAGES - done} image(s)" in result.out, result.err


def _file_size_limit(limit: int):
    def apply() -> None:  # in the child, before exec: what `ulimit -f` does
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_a_full_disk_names_the_image_keeps_earlier_outputs_and_leaves_no_partial_file(
    tmp_path: Path, model: Path
) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    rng = np.random.default_rng(3)
    for name, size in (("a", 8), ("b", 8), ("c_big", 120), ("d", 8)):
        write_image(src / f"{name}.png", rng.integers(0, 256, (size, size, 3), dtype=np.uint8))
    proc = cli_process("upscale", src, "-o", out, "--model", model, "--tile", "0", "--quiet",
                       env={"PYTHONDONTWRITEBYTECODE": "1"},  # the interpreter itself writes nothing
                       preexec_fn=_file_size_limit(64 * 1024))  # fmt: skip
    stdout, stderr = proc.communicate(timeout=900)
    assert proc.returncode == 2, (stdout, stderr)
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert any("c_big.png: cannot write (File too large)" in line for line in lines), stderr
    assert lines[-1] == "oftsr-edge: error: 1 of 4 image(s) failed (see above)"
    assert sorted(p.name for p in _outputs(out)) == ["a.png", "b.png", "d.png"]
    assert all(read_image(p).shape == (32, 32, 3) for p in _outputs(out))
    assert partial_files(tmp_path) == []


def test_a_rerun_sweeps_the_temporaries_of_killed_runs_only(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, model: Path
) -> None:
    """What SIGKILL leaves (hidden temporaries of a dead process) goes at the next start; a live run's stays."""
    src, out = _folder(tmp_path / "in", count=2, size=8), tmp_path / "out"
    out.mkdir()
    dead = out / f".img000.png.{dead_pid()}.abcd1234{TEMP_SUFFIX}"
    alive = out / f".img001.png.{os.getppid()}.efgh5678{TEMP_SUFFIX}"
    foreign = out / ".notes.tmp"  # not ours: never touched
    for path in (dead, alive, foreign):
        path.write_bytes(b"partial")
    result = run_main(capsys, "upscale", str(src), "-o", str(out), "--model", str(model), "--quiet")
    assert result.code == 0, result.err
    assert "1 stale temporary file(s) of an interrupted run removed" in result.out
    assert not dead.exists() and alive.exists() and foreign.exists()
