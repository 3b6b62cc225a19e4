"""Fixtures shared across test areas: paths to the shared data and one tiny trained student + its ONNX export.

The tiny student is made once per session (seconds on CPU) so every export/runtime test exercises a real trained
model rather than a random or mocked one.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _shared_dir() -> Path:
    env = os.environ.get("OFTSR_SHARED")
    return Path(env) if env else REPO.parent / "shared"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (train/, val/, metrics/); tests that need real images skip when it is absent."""
    data = _shared_dir() / "data"
    if not (data / "train").is_dir():
        pytest.skip(f"shared data not found at {data} (set OFTSR_SHARED)")
    return data


@pytest.fixture(scope="session")
def train_images(shared_data: Path) -> Path:
    """A small folder of real HR photos (McMaster18: 18 images of 500×500)."""
    return shared_data / "train" / "McMaster18"


@pytest.fixture(scope="session")
def set5(shared_data: Path) -> Path:
    return shared_data / "val" / "Set5"


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
