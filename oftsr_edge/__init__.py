"""oftsr-edge: one-step flow super-resolution (OFTSR) from training to edge runtimes.

The public Python API is what this package exports::

    from oftsr_edge import Settings, Upscaler, read_image, write_image

    with Upscaler("oftsr-small-x4", "auto", Settings(t=0.3, tile=128)) as up:  # or OrtCuda(device=1), ...
        hr = up.upscale(read_image("in.png"))            # same dtype and layout; t=..., seed=... per call
        up.upscale_file("in.png", "out.png")             # the output records the settings that made it

Everything here is torch-free: importing this package loads numpy and Pillow but never torch, onnx or
onnxruntime (a test holds that), so a device with the base install imports it. Other modules are internals.
"""

from __future__ import annotations

from oftsr_edge.contract import ModelSpec
from oftsr_edge.errors import MissingExtraError, NotEnoughMemoryError, OftsrError, OptionError
from oftsr_edge.runtime.backends.options import (
    Auto,
    BackendOptions,
    OpenVino,
    OrtAuto,
    OrtCpu,
    OrtCuda,
    OrtTensorRT,
    TensorRT,
)
from oftsr_edge.runtime.frames import FrameUpscaler, read_frames, upscale_frames
from oftsr_edge.runtime.io.image_io import read_image, write_image
from oftsr_edge.runtime.settings import Settings
from oftsr_edge.runtime.upscaler import FileResult, Upscaler
from oftsr_edge.version import __version__

__all__ = [
    "Auto",
    "BackendOptions",
    "FileResult",
    "FrameUpscaler",
    "MissingExtraError",
    "ModelSpec",
    "NotEnoughMemoryError",
    "OftsrError",
    "OpenVino",
    "OptionError",
    "OrtAuto",
    "OrtCpu",
    "OrtCuda",
    "OrtTensorRT",
    "Settings",
    "TensorRT",
    "Upscaler",
    "__version__",
    "read_frames",
    "read_image",
    "upscale_frames",
    "write_image",
]
