"""Check optional dependency groups before a command needs them, so a missing extra is one clear line."""

from __future__ import annotations

import importlib
import importlib.util

from oftsr_edge.errors import MissingExtraError


def require(extra: str, *modules: str) -> None:
    """Raise :class:`MissingExtraError` naming ``extra`` if any of ``modules`` cannot be imported.

    ``find_spec`` alone is not enough: a module set to ``None`` in ``sys.modules`` (how tests hide torch) or one
    whose import fails must count as missing too, so each module is really imported.
    """
    missing = []
    for name in modules:
        try:
            if importlib.util.find_spec(name) is None:
                missing.append(name)
                continue
            importlib.import_module(name)
        except (ImportError, ValueError):
            missing.append(name)
    if missing:
        raise MissingExtraError(
            f"this command needs {', '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} not installed: "
            f"pip install 'oftsr-edge[{extra}]' (install torch==2.13.0 first if the extra needs torch)"
        )


def require_tensorrt() -> None:
    """Raise :class:`MissingExtraError` unless TensorRT's Python bindings import. No extra holds them (PyPI's
    ``tensorrt`` wheels do not fit a Jetson), so the line says where they come from instead of an extra."""
    try:
        require("trt", "tensorrt")
    except MissingExtraError:
        raise MissingExtraError(
            "this command needs tensorrt (TensorRT's Python bindings), which is not installed: on a Jetson it comes "
            "with JetPack (sudo apt install python3-libnvinfer), on a desktop GPU from NVIDIA (pip install tensorrt); "
            "see docs/jetson.md"
        ) from None
