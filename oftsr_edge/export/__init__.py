"""Export side: ONNX export of a student, simplification, FP16/INT8 variants, TensorRT engine builds and checks.

Modules that only need the ONNX file (engine building, checks) must import without torch, because a Jetson builds
its engines on-device and has TensorRT but no torch.
"""
