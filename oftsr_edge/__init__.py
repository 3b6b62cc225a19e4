"""oftsr-edge: one-step flow super-resolution (OFTSR) from training to edge runtimes.

The top-level package stays import-light on purpose: the runtime (``oftsr_edge.runtime``) must work on a device
that has numpy, Pillow, click and onnxruntime (or TensorRT) but neither torch nor onnx.
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
