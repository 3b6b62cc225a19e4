"""Class 3 on the upscale path: bounds are checked before anything is allocated or any work is done.

Findings: an image whose output does not fit in memory ended in numpy's MemoryError (a traceback, the rest of the
folder lost; through the API a raw MemoryError); a JPEG wider than 65500 pixels failed only after the whole
upscale; ``--memory-budget 8 --overlap 200`` planned thousands of tiles instead of refusing; ``t=True`` was taken
as 1.0; a big-endian ``>f4`` array was refused while ``>u2`` was accepted.

The memory cases run in a child process under an address-space limit (``ulimit -v``), set after the libraries
are loaded: a real allocation failure, not a mocked one.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from oftsr_edge.errors import NotEnoughMemoryError, OftsrError, OptionError
from oftsr_edge.runtime.io.image_io import read_image
from tests.helpers.cli import assert_one_line_error, run_main
from tests.reliability.conftest import REPO, partial_files, photo

HEADROOM = 600 << 20  # address space left to the child once its libraries are loaded

_LIMITED = """
import resource, sys
from pathlib import Path
import numpy, onnxruntime  # the big libraries mapped before the limit
from oftsr_edge.runtime.device import memory
from oftsr_edge.runtime.tiling import memory_plan
vm = [int(l.split()[1]) * 1024 for l in Path("/proc/self/status").read_text().splitlines() if l.startswith("VmSize:")]
resource.setrlimit(resource.RLIMIT_AS, (vm[0] + {headroom}, resource.RLIM_INFINITY))
if sys.argv[1] == "unknown-memory":  # the estimate cannot be checked: the allocation itself must fail cleanly
    memory.available_ram_bytes = lambda *a: None
    sys.argv.pop(1)
{body}
"""


def _limited(body: str, *args: object) -> subprocess.CompletedProcess:
    code = _LIMITED.format(headroom=HEADROOM, body=body)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True, env=env,
                          timeout=300)  # fmt: skip


def _flat_png(path: Path, width: int, height: int) -> Path:
    """A large image in a small file (one colour compresses to almost nothing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (width, height), (90, 120, 150)).save(path, compress_level=1)
    return path


def test_an_image_too_big_for_memory_is_one_line_and_the_folder_goes_on(tmp_path: Path, model: Path) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    _flat_png(src / "a_huge.png", 4000, 4000)  # output 16000² RGB: 768 MiB, over the headroom
    photo(src / "b_small.png")
    body = "from oftsr_edge.cli import main; main(sys.argv[1:])"
    proc = _limited(body, "upscale", src, "-o", out, "--model", model, "-q")
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr and "MemoryError" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert "a_huge.png (4000x4000 -> 16000x16000): needs ~" in lines[0] and "MiB is available" in lines[0]
    assert lines[-1] == "oftsr-edge: error: 1 of 2 image(s) failed (see above)"
    assert read_image(out / "b_small.png").shape == (36, 48, 3) and not (out / "a_huge.png").exists()
    assert partial_files(tmp_path) == []


@pytest.mark.parametrize("memory_known", [True, False], ids=["estimated", "allocation fails"])
def test_the_api_raises_an_oftsr_error_not_a_raw_memory_error(model: Path, memory_known: bool) -> None:
    body = (
        "import numpy as np\n"
        "from oftsr_edge import Upscaler\n"
        "from oftsr_edge.errors import NotEnoughMemoryError\n"
        "up = Upscaler(sys.argv[1], 'ort-cpu')\n"
        "try:\n"
        "    up.upscale(np.zeros((4000, 4000, 3), np.uint8))\n"
        "except NotEnoughMemoryError as exc:\n"
        "    print('refused:', exc)\n"
    )
    args = [model] if memory_known else ["unknown-memory", model]
    proc = _limited(body, *args)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stdout.startswith("refused: image") and ("available" in proc.stdout or "out of memory" in proc.stdout)
    assert issubclass(NotEnoughMemoryError, OftsrError)


def test_a_jpeg_too_wide_for_the_format_is_refused_before_the_upscale(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, model: Path
) -> None:
    src = tmp_path / "in"
    _flat_png(src / "wide.png", 16400, 8)  # x4: 65600 wide, over JPEG's 65500
    photo(src / "ok.png")
    calls: list[tuple] = []
    from oftsr_edge.runtime import upscaler as upscaler_module

    real = upscaler_module.Upscaler._upscale_checked

    def counted(self, pixels, *args):
        calls.append(pixels.shape)
        return real(self, pixels, *args)

    upscaler_module.Upscaler._upscale_checked = counted
    try:
        result = run_main(capsys, "upscale", "-q", "--model", str(model), str(src), "-o", str(tmp_path / "out"),
                          "-f", "jpg")  # fmt: skip
    finally:
        upscaler_module.Upscaler._upscale_checked = real
    assert result.code == 2 and "Traceback" not in result.err
    assert "wide.jpg: the output would be 65600x32 pixels, over the JPEG limit of 65500" in result.err
    assert calls == [(9, 12, 3)]  # only the good image was upscaled: the wide one was refused from its header
    assert read_image(tmp_path / "out" / "ok.jpg").shape == (36, 48, 3)


def test_an_overlap_that_leaves_no_sane_tiling_in_the_budget_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, model: Path
) -> None:
    src = _flat_png(tmp_path / "a.png", 640, 480)
    result = run_main(capsys, "upscale", "-q", "--model", str(model), str(src), "-o", str(tmp_path / "out"),
                      "--memory-budget", "8", "--overlap", "200")  # fmt: skip
    assert_one_line_error(result, "lower --overlap or raise --memory-budget")
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_t_true_is_not_one(model: Path) -> None:
    from oftsr_edge import Upscaler

    with Upscaler(model) as up, pytest.raises(OptionError, match="t must be a number"):
        up.upscale(np.zeros((8, 8, 3), np.uint8), t=True)


@pytest.mark.parametrize("dtype", [">f4", ">u2", "<f4", "<u2"])
def test_either_byte_order_is_accepted_for_every_dtype(model: Path, dtype: str) -> None:
    from oftsr_edge import Upscaler

    values = np.random.default_rng(1).random((8, 12, 3))
    native = (values if "f" in dtype else values * 65535).astype(dtype[1:])
    with Upscaler(model) as up:
        expected = up.upscale(native.astype(native.dtype.newbyteorder("=")), seed=2)
        got = up.upscale(native.astype(dtype), seed=2)
    assert got.dtype.isnative and np.array_equal(got, expected)
