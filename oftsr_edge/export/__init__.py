"""Export side: ONNX export of a student, simplification, FP16/INT8 variants, and the ``check`` accuracy gate.

Modules that only need the ONNX file (the checks) must import without torch. TensorRT engines are built on the
device, so the builder lives on the torch-free side: :mod:`oftsr_edge.runtime.backends.tensorrt`.
"""
