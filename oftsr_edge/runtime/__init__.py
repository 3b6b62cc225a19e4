"""Torch-free inference for exported OFTSR students: numpy, Pillow, click, tqdm and a backend only.

Importing this package must never import torch or onnx (a test proves it): a Jetson installs the base package and
upscales with onnxruntime or TensorRT.
"""

from __future__ import annotations

from oftsr_edge.runtime.model_spec import METADATA_KEY, ModelSpec

__all__ = ["METADATA_KEY", "ModelSpec"]
