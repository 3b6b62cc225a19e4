"""The public face: ``from oftsr_edge import Upscaler, read_image, write_image`` and the names users need, with a
``py.typed`` marker so type checkers read the real types; internals are imported from their own modules."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import oftsr_edge
import oftsr_edge.runtime

ROOT = Path(oftsr_edge.__file__).resolve().parent

PUBLIC = {
    "Upscaler", "FileResult", "Settings", "read_image", "write_image", "ModelSpec", "OftsrError", "OptionError",
    "Auto", "OrtAuto", "OrtCpu", "OrtCuda", "OrtTensorRT", "TensorRT", "OpenVino", "BackendOptions",
}  # fmt: skip


def test_public_names_import_from_the_package() -> None:
    from oftsr_edge import Upscaler, read_image, write_image  # noqa: F401 - the README's line

    assert PUBLIC <= set(oftsr_edge.__all__)
    for name in oftsr_edge.__all__:
        assert getattr(oftsr_edge, name) is not None, name


def test_options_classes_and_errors_are_the_defining_modules_own() -> None:
    from oftsr_edge.errors import OptionError
    from oftsr_edge.runtime.backends import options

    assert oftsr_edge.OptionError is OptionError and issubclass(OptionError, oftsr_edge.OftsrError)
    assert oftsr_edge.OpenVino is options.OpenVino and dataclasses.is_dataclass(oftsr_edge.OpenVino)


def test_runtime_package_exports_no_internals() -> None:
    for name in ("Tiler", "NoiseField", "check_t", "open_backend", "parse_backend", "__getattr__"):
        assert not hasattr(oftsr_edge.runtime, name), name


def test_typed_marker_is_shipped() -> None:
    assert (ROOT / "py.typed").is_file()
    pyproject = (ROOT.parent / "pyproject.toml").read_text()
    data = re.search(r"\[tool.setuptools.package-data\]\noftsr_edge = \[(.*)\]", pyproject)
    assert data is not None and '"py.typed"' in data.group(1)
