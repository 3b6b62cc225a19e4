"""Torch-free inference for exported OFTSR students: numpy, Pillow, click, tqdm and a backend only.

Importing this package must never import torch or onnx (a test proves it): a Jetson installs the base package and
upscales with onnxruntime or TensorRT.

Public API::

    from oftsr_edge.runtime import Upscaler
    with Upscaler("model.onnx", backend="auto", tile=128) as up:
        hr = up.upscale(lr_array, t=0.3, seed=0)      # same dtype and layout as lr_array
        up.upscale_file("in.png", "out.png", t=0.3)

The heavier names load on first use, so ``import oftsr_edge.runtime.model_spec`` (used by the exporter) stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

from oftsr_edge.runtime.model_spec import METADATA_KEY, ModelSpec

_LAZY = {
    "Upscaler": "oftsr_edge.runtime.upscaler",
    "FileResult": "oftsr_edge.runtime.upscaler",
    "check_t": "oftsr_edge.runtime.upscaler",
    "Tiler": "oftsr_edge.runtime.tiling",
    "NoiseField": "oftsr_edge.runtime.noise",
    "read_image": "oftsr_edge.runtime.image_io",
    "write_image": "oftsr_edge.runtime.image_io",
    "open_backend": "oftsr_edge.runtime.backends.select",
}

__all__ = ["METADATA_KEY", "ModelSpec", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'oftsr_edge.runtime' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
