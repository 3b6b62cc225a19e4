"""ONNX Runtime TensorRT-EP provider options for the OFTSR graph, from the same profile the native builder uses.

Without explicit profiles the TensorRT EP rebuilds its engine whenever an input shape falls outside the range it
has seen, and it only reuses cached engines whose profiles match (onnxruntime #18272; huggingface/optimum PR #657).
So the EP always gets ``trt_profile_min/opt/max_shapes`` for every dynamic input (five for a two-time graph) plus an engine cache and a
timing cache (option names: microsoft/onnxruntime include/onnxruntime/core/providers/tensorrt/
tensorrt_provider_options.h; onnxruntime.ai/docs/execution-providers/TensorRT-ExecutionProvider.html).
"""

from __future__ import annotations

from pathlib import Path

from oftsr_edge.runtime.backends.tensorrt.profiles import LEVELS, ProfileShapes


def profile_shapes_string(shapes: dict[str, tuple[int, ...]]) -> str:
    """The EP's shape syntax: ``"lr:1x3x128x128,noise:1x3x512x512,t:1"``."""
    return ",".join(f"{name}:{'x'.join(str(d) for d in dims)}" for name, dims in shapes.items())


def ort_trt_provider_options(
    profile: ProfileShapes,
    cache_dir: str | Path,
    *,
    device_id: int = 0,
    workspace_bytes: int | None = None,
    legacy_fp16: bool = False,
    two_time: bool = False,
) -> dict[str, object]:
    """Options for ``("TensorrtExecutionProvider", options)`` in ``onnxruntime.InferenceSession(providers=...)``.

    ``cache_dir`` holds the EP's engine and timing caches (keep one folder per model variant). ``legacy_fp16``
    sets ``trt_fp16_enable`` for the weakly typed TensorRT 8.x/10.x path with an fp32 ONNX only; leave it off for
    fp16/int8 ONNX variants and on TensorRT 11, where precision comes from the graph and the flag does not exist.
    ``two_time``: the model is a two-time graph (contract format 2), whose ``state`` and ``r`` need shapes too.
    """
    cache = str(Path(cache_dir))
    options: dict[str, object] = {
        "device_id": device_id,
        "trt_engine_cache_enable": True,
        "trt_engine_cache_path": cache,
        "trt_timing_cache_enable": True,
        "trt_timing_cache_path": cache,
    }
    for level in LEVELS:
        options[f"trt_profile_{level}_shapes"] = profile_shapes_string(profile.input_shapes(level, two_time))
    if workspace_bytes is not None:
        options["trt_max_workspace_size"] = int(workspace_bytes)
    if legacy_fp16:
        options["trt_fp16_enable"] = True
    return options
