"""Fixtures of the reliability suite: a contract-keeping model that needs no training, small images, and the CLI.

The suite proves the handling around the network (inputs, files, signals, faults), so it runs on
:func:`tests.helpers.contract_onnx.make_contract_onnx` (a few nodes, milliseconds) instead of a trained model.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.helpers.contract_onnx import make_contract_onnx

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An x4 contract model (multiple_of 4)."""
    pytest.importorskip("onnx")
    return make_contract_onnx(tmp_path_factory.mktemp("models") / "contract_x4.onnx")


def photo(path: Path, size: tuple[int, int] = (12, 9), mode: str = "RGB", seed: int = 0, **save: object) -> Path:
    """A small random image of ``size`` (width, height) in ``mode``, saved by Pillow with ``save`` options."""
    rng = np.random.default_rng(seed)
    bands = len(Image.new(mode, (1, 1)).getbands())
    pixels = rng.integers(0, 256, (size[1], size[0], bands), dtype=np.uint8)
    image = Image.fromarray(pixels[..., 0] if bands == 1 else pixels, "L" if bands == 1 else None)
    if image.mode != mode:
        image = image.convert(mode)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, **save)
    return path


def partial_files(folder: Path) -> list[Path]:
    """Temporaries (ours: hidden ``*.tmp``) anywhere under ``folder``: a clean stop leaves none."""
    return sorted(p for p in folder.rglob(".*") if p.name.endswith(".tmp"))


def cli_process(*args: object, env: dict[str, str] | None = None, **popen: object) -> subprocess.Popen:
    """``oftsr-edge ARGS`` in a child process (for signals and resource limits), output captured as text;
    ``env`` adds variables to the child's environment."""
    env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1", **(env or {}))
    command = [sys.executable, "-c", "from oftsr_edge.cli import main; main()", *map(str, args)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, **popen)


def dead_pid() -> int:
    """The id of a process that has ended: what the temporaries of a killed run carry."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid
