"""Torch-free inference for exported OFTSR students: numpy, Pillow, click, tqdm and a backend only.

Importing this package never imports torch or onnx (a test proves it): a Jetson installs the base package and
upscales with onnxruntime or TensorRT. The public API is re-exported by :mod:`oftsr_edge` (``from oftsr_edge
import Upscaler``); the sub-packages are laid out by role.
"""
