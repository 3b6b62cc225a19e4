"""Torch-free inference for exported OFTSR students: numpy, Pillow, click, tqdm and a backend only.

Importing this package must never import torch or onnx (a test proves it): a Jetson installs the base package and
upscales with onnxruntime or TensorRT.

Public API::

    from oftsr_edge.runtime import Upscaler
    with Upscaler(backend="auto", tile=128) as up:    # the bundled default; or Upscaler("oftsr-small-x4"),
        hr = up.upscale(lr_array, t=0.3, seed=0)      # Upscaler("model.onnx", OrtCuda(device=1)); same dtype/layout
        up.upscale_file("in.png", "out.png", t=0.3)   # the output records the settings that made it

Names load on first use, so importing a light submodule (``oftsr_edge.runtime.image_io``) stays cheap. What a model
file must contain, and its :class:`~oftsr_edge.contract.ModelSpec`, live in :mod:`oftsr_edge.contract`.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "Upscaler": "oftsr_edge.runtime.upscaler",
    "FileResult": "oftsr_edge.runtime.upscaler",
    "check_t": "oftsr_edge.runtime.checks",
    "Tiler": "oftsr_edge.runtime.tiling.tiler",
    "NoiseField": "oftsr_edge.runtime.noise",
    **dict.fromkeys(("FrameUpscaler", "upscale_frames", "read_frames"), "oftsr_edge.runtime.frames"),
    "read_image": "oftsr_edge.runtime.image_io",
    "write_image": "oftsr_edge.runtime.image_io",
    "open_backend": "oftsr_edge.runtime.backends.select",
    # one options dataclass per backend (vs-mlrt style); Upscaler(model, backend=OrtCuda(device=1))
    **dict.fromkeys(
        ("Auto", "OrtAuto", "OrtCpu", "OrtCuda", "OrtTensorRT", "TensorRT", "parse_backend"),
        "oftsr_edge.runtime.backends.options",
    ),
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'oftsr_edge.runtime' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
