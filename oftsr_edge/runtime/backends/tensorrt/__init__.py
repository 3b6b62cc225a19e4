"""TensorRT, in one place: engines are built and run on the device (a Jetson has TensorRT but no torch).

Modules, in the order a build and a run use them:

- :mod:`.versions` — which network/builder flags each TensorRT version (8.5 → 11.x) gets, as a pure plan.
- :mod:`.profiles` — the optimization profile (min/opt/max ``lr`` shapes) and the shape checks of a run.
- :mod:`.cuda_probe` — find a usable GPU with cuda-python before any TensorRT object exists.
- :mod:`.engine_cache` — the cache key, the JSON sidecar beside every engine and when an engine must be rebuilt.
- :mod:`.build_log` — TensorRT's log messages and build progress as lines for the user.
- :mod:`.onnx_choice` — which ONNX variant (file, export folder or bundled name) each TensorRT version builds from.
- :mod:`.build_setup` — ``build``'s defaults: flags, then the device's memory preset (runtime/device/devices.py).
- :mod:`.builder` — ``build_engine``: ONNX → cached engine + sidecar (the ``oftsr-edge build`` work).
- :mod:`.backend` — ``TensorRTBackend``: loads an engine its sidecar vouches for and runs it.
- :mod:`.ort_ep_options` — the same profile and caches as ONNX Runtime TensorRT-EP provider options.
- :mod:`.commands` — the ``oftsr-edge build`` click command.

This package imports nothing at import time, and no module in it imports ``tensorrt`` or cuda-python at module
level: they load inside the functions that need them, so a box without TensorRT can still import everything here.
"""
