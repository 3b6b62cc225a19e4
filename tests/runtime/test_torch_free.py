"""The runtime and ``oftsr-edge upscale`` work where torch and onnx cannot be imported (a Jetson, a slim box).

Each check runs in a fresh interpreter: once with torch and onnx made unimportable (``sys.modules[name] = None``),
which proves nothing needs them, and once with them importable, which proves nothing even tries to load them.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from oftsr_edge.runtime.io.image_io import read_image, write_image

REPO = Path(__file__).resolve().parents[2]
BLOCK = "import sys; sys.modules['torch'] = None; sys.modules['onnx'] = None\n"
MODULES = [
    "oftsr_edge",
    "oftsr_edge.runtime",
    "oftsr_edge.runtime.io.image_io",
    "oftsr_edge.runtime.io.png16",
    "oftsr_edge.runtime.tiling.noise",
    "oftsr_edge.runtime.checks",
    "oftsr_edge.runtime.tiling.tiler",
    "oftsr_edge.runtime.upscaler",
    "oftsr_edge.runtime.cli.upscale",
    "oftsr_edge.runtime.backends.onnxruntime",
    "oftsr_edge.runtime.backends.options",
    "oftsr_edge.runtime.backends.select",
    "oftsr_edge.cli",
]
CHECK_LOADED = (
    "\nheavy = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'onnx') and sys.modules[m] is not None)"
    "\nassert not heavy, heavy\n"
)


def _python(code: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code, *args], cwd=REPO, capture_output=True, text=True,
                          timeout=300, check=False)  # fmt: skip


def test_runtime_modules_import_without_torch_or_onnx() -> None:
    body = "import importlib\n" + "".join(f"importlib.import_module({m!r})\n" for m in MODULES)
    body += (
        "from oftsr_edge import Upscaler, read_image, write_image, OrtCpu, OpenVino, ModelSpec, OptionError\n"
    )
    for prefix in (BLOCK, "import sys\n"):
        result = _python(prefix + body + CHECK_LOADED)
        assert result.returncode == 0, result.stderr


def test_upscale_cli_runs_without_torch_or_onnx(tiny_onnx_fp32: Path, tmp_path: Path) -> None:
    source = write_image(
        tmp_path / "in" / "a.png", np.random.default_rng(0).integers(0, 256, (21, 30, 3), np.uint8)
    )
    run_cli = "from oftsr_edge.cli import main\nmain(sys.argv[1:])\n"
    for index, prefix in enumerate((BLOCK, "import sys\n")):
        out = tmp_path / f"out{index}"
        result = _python(prefix + run_cli + CHECK_LOADED, "upscale", str(source.parent), "-o", str(out),
                         "--model", str(tiny_onnx_fp32), "--t", "0.3")  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert "upscaled 1 image(s)" in result.stdout
        assert read_image(out / "a.png").shape == (84, 120, 3)
